/*
 * migrate-shim.c: an LD_PRELOAD library for test-virsh.sh that records the
 * migration calls virsh makes instead of migrating: virDomainMigrate3() and
 * virDomainMigrateToURI3(), with their flags and typed parameters, appended
 * to the file named by $FM_SHIM_LOG.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <libvirt/libvirt.h>

/* Appends one call and its parameters to $FM_SHIM_LOG; returns 0, or -1 when
 * the log cannot be written (the migration then "fails"). */
static int
shim_record(const char *call, const char *uri, virTypedParameterPtr params,
            int nparams, unsigned int flags)
{
    const char *path = getenv("FM_SHIM_LOG");
    FILE *f;
    int i;

    if (!path || !(f = fopen(path, "a")))
        return -1;
    fprintf(f, "call %s\nuri %s\nflags 0x%x\n", call, uri ? uri : "-", flags);
    for (i = 0; i < nparams; i++) {
        virTypedParameterPtr p = &params[i];

        switch (p->type) {
        case VIR_TYPED_PARAM_INT:
            fprintf(f, "param %s int %d\n", p->field, p->value.i);
            break;
        case VIR_TYPED_PARAM_UINT:
            fprintf(f, "param %s uint %u\n", p->field, p->value.ui);
            break;
        case VIR_TYPED_PARAM_LLONG:
            fprintf(f, "param %s llong %lld\n", p->field, p->value.l);
            break;
        case VIR_TYPED_PARAM_ULLONG:
            fprintf(f, "param %s ullong %llu\n", p->field, p->value.ul);
            break;
        case VIR_TYPED_PARAM_DOUBLE:
            fprintf(f, "param %s double %g\n", p->field, p->value.d);
            break;
        case VIR_TYPED_PARAM_BOOLEAN:
            fprintf(f, "param %s boolean %d\n", p->field, p->value.b);
            break;
        case VIR_TYPED_PARAM_STRING:
            fprintf(f, "param %s string %s\n", p->field, p->value.s);
            break;
        default:
            fprintf(f, "param %s type-%d\n", p->field, p->type);
            break;
        }
    }
    fprintf(f, "end\n");
    return fclose(f) == 0 ? 0 : -1;
}

int
virDomainMigrateToURI3(virDomainPtr domain, const char *dconnuri,
                       virTypedParameterPtr params, unsigned int nparams,
                       unsigned int flags)
{
    (void)domain;
    return shim_record("virDomainMigrateToURI3", dconnuri, params, (int)nparams, flags);
}

virDomainPtr
virDomainMigrate3(virDomainPtr domain, virConnectPtr dconn,
                  virTypedParameterPtr params, unsigned int nparams,
                  unsigned int flags)
{
    (void)dconn;
    if (shim_record("virDomainMigrate3", NULL, params, (int)nparams, flags) < 0)
        return NULL;
    /* virsh frees the domain it gets back */
    if (virDomainRef(domain) < 0)
        return NULL;
    return domain;
}
