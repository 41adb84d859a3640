/*
 * fm-xen.c: the xen backend: a running PVH, HVM or PV domain through libxenctrl,
 * libxenforeignmemory and libxl.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "backend/xen/fm-xen.h"
#include "backend/xen/fm-xen-dm.h"
#include "backend/xen/fm-xen-pv.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include <xenctrl.h>
#include <xenforeignmemory.h>
#include <xenguest.h>
#include <xentoollog.h>
#include <libxl.h>
#include <libxl_utils.h>
#include <xen/hvm/params.h>

#include "engine/fm-backend-impl.h"
#include "engine/fm-sink.h"
#include "util/fm-bytes.h"
#include "util/fm-error.h"
#include "util/fm-i18n.h"

/* libxenctrl 4.17 exports this (XEN_DOMCTL_getpageframeinfo3, the page types the
 * save code of libxenguest asks for) without declaring it in xenctrl.h. */
int xc_get_pfn_type_batch(xc_interface *xch, uint32_t dom, unsigned int num,
                          xen_pfn_t *arr);

/* Most pfns per type query and per mapping: Xen's limit for
 * XEN_DOMCTL_getpageframeinfo3, and libxenguest's batch. */
#define FM_XEN_BATCH 1024u
/* Page numbers are 32-bit in the pfn -> page number table. */
#define FM_XEN_NO_PAGE G_MAXUINT32
/* XEN_DOMCTL_PFINFO_* types sit in bits 28-31 of a query's answer. */
#define FM_XEN_PFINFO_SHIFT 28

/* The HVM parameters Xen 4.17's save code sends (those that are not zero). */
static const guint32 fm_xen_hvm_params[] = {
    HVM_PARAM_STORE_PFN, HVM_PARAM_IOREQ_PFN, HVM_PARAM_BUFIOREQ_PFN,
    HVM_PARAM_PAGING_RING_PFN, HVM_PARAM_MONITOR_RING_PFN,
    HVM_PARAM_SHARING_RING_PFN, HVM_PARAM_VM86_TSS_SIZED, HVM_PARAM_CONSOLE_PFN,
    HVM_PARAM_ACPI_IOPORTS_LOCATION, HVM_PARAM_VIRIDIAN, HVM_PARAM_IDENT_PT,
    HVM_PARAM_VM_GENERATION_ID_ADDR, HVM_PARAM_IOREQ_SERVER_PFN,
    HVM_PARAM_NR_IOREQ_SERVER_PAGES, HVM_PARAM_X87_FIP_WIDTH, HVM_PARAM_MCA_CAP,
};

typedef struct {
    FmBackend parent;
    guint32 domid;
    xentoollog_logger *logger;
    xc_interface *xch;
    xenforeignmemory_handle *fmem;
    libxl_ctx *ctx;
    gboolean own_ctx;
    FmXenGuestType guest_type;
    guint32 emulator_id;         /* HVM: FM_XEN_EMULATOR_QEMU_UPSTREAM */
    FmXenPv *pv;                 /* PV guests: the p2m, page tables, PV state */
    guint8 *page_types;          /* PV: FmXenPageType of each page as last read */
    GArray *deferred;            /* PV: page numbers to read again (guint64) */
    gboolean paused;
    guint32 xen_major;
    guint32 xen_minor;
    guint64 p2m_size;            /* pfns the guest's physical map spans */
    guint64 *pfns;               /* page number -> pfn, ascending */
    guint64 page_count;
    guint32 *page_of;            /* pfn -> page number or FM_XEN_NO_PAGE */
    xc_hypercall_buffer_t dirty_hbuf; /* Xen's dirty bitmap, p2m_size bits */
    int dirty_hbuf_pages;
    GByteArray *cpuid_policy;    /* X86_CPUID_POLICY body */
    GByteArray *msr_policy;      /* X86_MSR_POLICY body */
    gboolean log_dirty_on;
    gint64 read_us;              /* time spent mapping and copying pages */
    guint64 pages_read;
} FmXenBackend;

static const FmBackendOps fm_xen_ops;

/* Returns @backend as a Xen backend (a critical if it is another kind). */
static FmXenBackend *
fm_xen_cast(FmBackend *backend)
{
    g_return_val_if_fail(backend != NULL && backend->ops == &fm_xen_ops, NULL);
    return (FmXenBackend *)backend;
}

/* Sets @error to FM_ERROR_IO "@what: errno text" for a failed Xen call. */
static void
fm_xen_set_errno(GError **error, int err, const char *what, guint32 domid)
{
    g_set_error(error, FM_ERROR, FM_ERROR_IO, _("domain %u: %s failed: %s"), domid,
                what, g_strerror(err ? err : EIO));
}

/* Opens the handles the backend needs (not libxl's: see fm_xen_backend_new). */
static gboolean
fm_xen_open_handles(FmXenBackend *self, GError **error)
{
    int ver;

    self->logger = (xentoollog_logger *)xtl_createlogger_stdiostream(stderr, XTL_ERROR, 0);
    if (self->logger == NULL) {
        g_set_error(error, FM_ERROR, FM_ERROR_IO, _("cannot create the Xen logger"));
        return FALSE;
    }
    self->xch = xc_interface_open(self->logger, self->logger, 0);
    if (self->xch == NULL) {
        g_set_error(error, FM_ERROR, FM_ERROR_IO,
                    _("cannot open the Xen control interface (is this a Xen dom0, run as root?): %s"),
                    g_strerror(errno));
        return FALSE;
    }
    self->fmem = xenforeignmemory_open(self->logger, 0);
    if (self->fmem == NULL) {
        g_set_error(error, FM_ERROR, FM_ERROR_IO,
                    _("cannot open Xen's foreign memory interface: %s"), g_strerror(errno));
        return FALSE;
    }
    ver = xc_version(self->xch, XENVER_version, NULL);
    if (ver < 0) {
        fm_xen_set_errno(error, errno, "XENVER_version", self->domid);
        return FALSE;
    }
    self->xen_major = (guint32)ver >> 16;
    self->xen_minor = (guint32)ver & 0xffff;
    return TRUE;
}

/* Checks that the domain exists and is a PVH guest or an HVM guest whose device
 * model libxl saves over QMP (upstream QEMU in dom0), and notes which.  The type
 * comes from libxl's record of the domain's configuration: Xen itself (and so
 * libxl_domain_info()) sees PVH and HVM guests alike, as HVM. */
static gboolean
fm_xen_check_domain(FmXenBackend *self, GError **error)
{
    libxl_dominfo info;
    libxl_domain_config config;
    libxl_domain_type type = LIBXL_DOMAIN_TYPE_INVALID;
    libxl_device_model_version dm = LIBXL_DEVICE_MODEL_VERSION_UNKNOWN;
    int rc;

    if (self->domid == 0) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("domain 0 cannot be migrated"));
        return FALSE;
    }
    libxl_dominfo_init(&info);
    rc = libxl_domain_info(self->ctx, &info, self->domid);
    libxl_dominfo_dispose(&info);
    if (rc == ERROR_DOMAIN_NOTFOUND) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG, _("no domain %u"), self->domid);
        return FALSE;
    }
    if (rc == 0) {
        libxl_domain_config_init(&config);
        rc = libxl_retrieve_domain_configuration(self->ctx, self->domid, &config, NULL);
        type = config.c_info.type;
        dm = config.b_info.device_model_version;
        libxl_domain_config_dispose(&config);
    }
    if (rc != 0) {
        g_set_error(error, FM_ERROR, FM_ERROR_IO,
                    _("domain %u: libxl cannot read its configuration (error %d)"),
                    self->domid, rc);
        return FALSE;
    }
    switch (type) {
    case LIBXL_DOMAIN_TYPE_PVH:
        self->guest_type = FM_XEN_GUEST_PVH;
        return TRUE;
    case LIBXL_DOMAIN_TYPE_HVM:
        /* A stub domain's QEMU saves through its console, the traditional QEMU
         * through xenstore commands: neither is libxl's QMP save. */
        if (dm != LIBXL_DEVICE_MODEL_VERSION_QEMU_XEN ||
            libxl_get_stubdom_id(self->ctx, self->domid) != 0) {
            g_set_error(error, FM_ERROR, FM_ERROR_UNSUPPORTED,
                        _("domain %u is an HVM guest whose device model is not upstream QEMU in dom0 (a stub domain or qemu-traditional): fragmig saves the device model over QMP only"),
                        self->domid);
            return FALSE;
        }
        self->guest_type = FM_XEN_GUEST_HVM;
        self->emulator_id = FM_XEN_EMULATOR_QEMU_UPSTREAM;
        return TRUE;
    case LIBXL_DOMAIN_TYPE_PV:
        self->guest_type = FM_XEN_GUEST_PV;
        return TRUE;
    default:
        g_set_error(error, FM_ERROR, FM_ERROR_UNSUPPORTED,
                    _("domain %u is of an unknown type (%d)"), self->domid, (int)type);
        return FALSE;
    }
}

/* Asks Xen for the types of the @n pfns of @arr, in place (XEN_DOMCTL_PFINFO_*
 * values, shifted down to FmXenPageType).  Xen knows a PV guest's pages by their
 * mfns: a pfn without one (ballooned out) is XTAB. */
static gboolean
fm_xen_query_types(FmXenBackend *self, xen_pfn_t *arr, unsigned int n, GError **error)
{
    if (self->pv != NULL) {
        for (unsigned int i = 0; i < n; i++) {
            guint64 mfn = arr[i] < fm_xen_pv_get_p2m_size(self->pv) ?
                fm_xen_pv_pfn_to_mfn(self->pv, arr[i]) : FM_XEN_PV_INVALID_MFN;

            arr[i] = mfn == FM_XEN_PV_INVALID_MFN ? INVALID_MFN : mfn;
        }
    }
    if (xc_get_pfn_type_batch(self->xch, self->domid, n, arr) != 0) {
        fm_xen_set_errno(error, errno, "XEN_DOMCTL_getpageframeinfo3", self->domid);
        return FALSE;
    }
    for (unsigned int i = 0; i < n; i++)
        arr[i] = (arr[i] >> FM_XEN_PFINFO_SHIFT) & 0xf;
    return TRUE;
}

/* Numbers the pages that hold memory (those whose type has data in a stream). */
static gboolean
fm_xen_map_memory(FmXenBackend *self, GError **error)
{
    xen_pfn_t nr = 0;
    xen_pfn_t arr[FM_XEN_BATCH];
    g_autoptr(GArray) pfns = g_array_new(FALSE, FALSE, sizeof(guint64));

    if (self->pv != NULL) {
        nr = fm_xen_pv_get_p2m_size(self->pv);
    } else if (xc_domain_nr_gpfns(self->xch, self->domid, &nr) < 0) {
        fm_xen_set_errno(error, errno, "xc_domain_nr_gpfns", self->domid);
        return FALSE;
    }
    if (nr == 0 || nr > FM_XEN_PFN_MASK) {
        g_set_error(error, FM_ERROR, FM_ERROR_UNSUPPORTED,
                    _("domain %u: unexpected physical map size of %llu pages"),
                    self->domid, (unsigned long long)nr);
        return FALSE;
    }
    self->p2m_size = nr;
    self->page_of = g_new(guint32, nr);
    for (guint64 first = 0; first < nr; first += FM_XEN_BATCH) {
        unsigned int n = (unsigned int)MIN((guint64)FM_XEN_BATCH, nr - first);

        for (unsigned int i = 0; i < n; i++)
            arr[i] = first + i;
        if (!fm_xen_query_types(self, arr, n, error))
            return FALSE;
        for (unsigned int i = 0; i < n; i++) {
            guint64 pfn = first + i;

            if (!fm_xen_page_type_has_data((guint32)arr[i])) {
                self->page_of[pfn] = FM_XEN_NO_PAGE;
                continue;
            }
            if (pfns->len == FM_XEN_NO_PAGE) {
                g_set_error(error, FM_ERROR, FM_ERROR_UNSUPPORTED,
                            _("domain %u has too many pages"), self->domid);
                return FALSE;
            }
            self->page_of[pfn] = pfns->len;
            g_array_append_val(pfns, pfn);
        }
    }
    if (pfns->len == 0) {
        g_set_error(error, FM_ERROR, FM_ERROR_UNSUPPORTED,
                    _("domain %u has no memory to migrate"), self->domid);
        return FALSE;
    }
    self->page_count = pfns->len;
    self->pfns = (guint64 *)(void *)g_array_free(g_steal_pointer(&pfns), FALSE);
    return TRUE;
}

/* Reads the guest's CPUID and MSR policies, serialised as the stream wants them. */
static gboolean
fm_xen_read_cpu_policy(FmXenBackend *self, GError **error)
{
    uint32_t nr_leaves = 0, nr_msrs = 0;
    xc_cpu_policy_t *policy;
    gboolean ok = FALSE;

    if (xc_cpu_policy_get_size(self->xch, &nr_leaves, &nr_msrs) < 0) {
        fm_xen_set_errno(error, errno, "xc_cpu_policy_get_size", self->domid);
        return FALSE;
    }
    self->cpuid_policy = g_byte_array_sized_new(nr_leaves * sizeof(xen_cpuid_leaf_t));
    self->msr_policy = g_byte_array_sized_new(nr_msrs * sizeof(xen_msr_entry_t));
    g_byte_array_set_size(self->cpuid_policy, nr_leaves * sizeof(xen_cpuid_leaf_t));
    g_byte_array_set_size(self->msr_policy, nr_msrs * sizeof(xen_msr_entry_t));
    policy = xc_cpu_policy_init();
    if (policy == NULL) {
        fm_xen_set_errno(error, ENOMEM, "xc_cpu_policy_init", self->domid);
        return FALSE;
    }
    if (xc_cpu_policy_get_domain(self->xch, self->domid, policy) != 0)
        fm_xen_set_errno(error, errno, "xc_cpu_policy_get_domain", self->domid);
    else if (xc_cpu_policy_serialise(self->xch, policy,
                                     (xen_cpuid_leaf_t *)(void *)self->cpuid_policy->data,
                                     &nr_leaves,
                                     (xen_msr_entry_t *)(void *)self->msr_policy->data,
                                     &nr_msrs) != 0)
        fm_xen_set_errno(error, errno, "xc_cpu_policy_serialise", self->domid);
    else
        ok = TRUE;
    xc_cpu_policy_destroy(policy);
    g_byte_array_set_size(self->cpuid_policy, nr_leaves * sizeof(xen_cpuid_leaf_t));
    g_byte_array_set_size(self->msr_policy, nr_msrs * sizeof(xen_msr_entry_t));
    return ok;
}

/* Returns a new backend on @domid; see fm-xen.h. */
FmBackend *
fm_xen_backend_new(guint32 domid, gpointer libxl_ctx, GError **error)
{
    FmXenBackend *self = g_new0(FmXenBackend, 1);
    g_autoptr(FmBackend) backend = &self->parent;
    gint64 t0;

    self->parent.ops = &fm_xen_ops;
    self->domid = domid;
    if (!fm_xen_open_handles(self, error))
        return NULL;
    if (libxl_ctx != NULL) {
        self->ctx = libxl_ctx;
    } else {
        int rc = libxl_ctx_alloc(&self->ctx, LIBXL_VERSION, 0, self->logger);

        if (rc != 0) {
            g_set_error(error, FM_ERROR, FM_ERROR_IO,
                        _("cannot open libxl (error %d): is xenstored running?"), rc);
            return NULL;
        }
        self->own_ctx = TRUE;
    }
    t0 = g_get_monotonic_time();
    if (!fm_xen_check_domain(self, error))
        return NULL;
    if (self->guest_type == FM_XEN_GUEST_PV) {
        self->pv = fm_xen_pv_new(self->xch, self->fmem, domid, error);
        if (self->pv == NULL)
            return NULL;
    }
    if (!fm_xen_map_memory(self, error))
        return NULL;
    if (self->pv != NULL) {
        self->page_types = g_malloc0(self->page_count);
        self->deferred = g_array_new(FALSE, FALSE, sizeof(guint64));
    }
    g_debug("domain %u: %llu pages of memory in %llu pfns, found in %.3f s", domid,
            (unsigned long long)self->page_count, (unsigned long long)self->p2m_size,
            (g_get_monotonic_time() - t0) / 1e6);
    if (!fm_xen_read_cpu_policy(self, error))
        return NULL;

    self->dirty_hbuf.ubuf = (void *)-1;   /* no bouncing: Xen writes it directly */
    self->dirty_hbuf_pages = (int)((self->p2m_size + 8 * XC_PAGE_SIZE - 1) /
                                   (8 * XC_PAGE_SIZE));
    if (xc__hypercall_buffer_alloc_pages(self->xch, &self->dirty_hbuf,
                                         self->dirty_hbuf_pages) == NULL) {
        self->dirty_hbuf_pages = 0;
        fm_xen_set_errno(error, errno, "allocating the dirty bitmap", domid);
        return NULL;
    }
    return g_steal_pointer(&backend);
}

static guint64
fm_xen_page_count(FmBackend *backend)
{
    return fm_xen_cast(backend)->page_count;
}

static gsize
fm_xen_page_size(FmBackend *backend G_GNUC_UNUSED)
{
    return FM_XEN_PAGE_SIZE;
}

/* Turns log-dirty mode on; where it is already on (VRAM tracking), off and on
 * again, as libxenguest does. */
static gboolean
fm_xen_log_dirty_enable(FmBackend *backend, GError **error)
{
    FmXenBackend *self = fm_xen_cast(backend);
    int err;

    if (xc_shadow_control(self->xch, self->domid, XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY,
                          NULL, 0) < 0) {
        err = errno;
        if (xc_shadow_control(self->xch, self->domid, XEN_DOMCTL_SHADOW_OP_OFF,
                              NULL, 0) < 0 ||
            xc_shadow_control(self->xch, self->domid,
                              XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY, NULL, 0) < 0) {
            if (err == EOPNOTSUPP)
                g_set_error(error, FM_ERROR, FM_ERROR_UNSUPPORTED,
                            _("domain %u: the hypervisor refused log-dirty mode (EOPNOTSUPP): it cannot track this guest's writes"),
                            self->domid);
            else
                fm_xen_set_errno(error, err, "enabling log-dirty mode", self->domid);
            return FALSE;
        }
    }
    self->log_dirty_on = TRUE;
    return TRUE;
}

static gboolean
fm_xen_log_dirty_disable(FmBackend *backend, GError **error)
{
    FmXenBackend *self = fm_xen_cast(backend);

    self->log_dirty_on = FALSE;
    if (xc_shadow_control(self->xch, self->domid, XEN_DOMCTL_SHADOW_OP_OFF, NULL, 0) < 0) {
        fm_xen_set_errno(error, errno, "disabling log-dirty mode", self->domid);
        return FALSE;
    }
    return TRUE;
}

/* Checks the pfns Xen reported dirty outside the map: holes and Xen's own pages
 * may be, new memory may not (the map and the destination would miss it). */
static gboolean
fm_xen_check_unmapped(FmXenBackend *self, GArray *unmapped, GError **error)
{
    xen_pfn_t arr[FM_XEN_BATCH];

    for (guint done = 0; done < unmapped->len; done += FM_XEN_BATCH) {
        unsigned int n = MIN(FM_XEN_BATCH, unmapped->len - done);

        for (unsigned int i = 0; i < n; i++)
            arr[i] = g_array_index(unmapped, guint64, done + i);
        if (!fm_xen_query_types(self, arr, n, error))
            return FALSE;
        for (unsigned int i = 0; i < n; i++) {
            if (fm_xen_page_type_has_data((guint32)arr[i])) {
                g_set_error(error, FM_ERROR, FM_ERROR_UNSUPPORTED,
                            _("domain %u: memory appeared at pfn 0x%llx during the migration (ballooning is not supported)"),
                            self->domid,
                            (unsigned long long)g_array_index(unmapped, guint64, done + i));
                return FALSE;
            }
        }
    }
    return TRUE;
}

/* Harvests Xen's whole dirty log (CLEAN or PEEK) into @dirty. */
static gboolean
fm_xen_harvest(FmBackend *backend, FmBitmap *dirty, guint64 first G_GNUC_UNUSED,
               guint64 count G_GNUC_UNUSED, gboolean clear, GError **error)
{
    FmXenBackend *self = fm_xen_cast(backend);
    xc_shadow_op_stats_t stats = { 0, 0 };
    const unsigned long *words = self->dirty_hbuf.hbuf;
    const guint64 bits = 8 * sizeof(unsigned long);
    g_autoptr(GArray) unmapped = g_array_new(FALSE, FALSE, sizeof(guint64));
    long long rc;

    rc = xc_logdirty_control(self->xch, self->domid,
                             clear ? XEN_DOMCTL_SHADOW_OP_CLEAN : XEN_DOMCTL_SHADOW_OP_PEEK,
                             &self->dirty_hbuf, self->p2m_size, 0, &stats);
    if (rc != (long long)self->p2m_size) {
        fm_xen_set_errno(error, rc < 0 ? errno : EIO, "reading the dirty log", self->domid);
        return FALSE;
    }
    /* PV page tables that could not be read consistently: read them again. */
    if (self->deferred != NULL) {
        for (guint i = 0; i < self->deferred->len; i++)
            fm_bitmap_set(dirty, g_array_index(self->deferred, guint64, i));
        if (clear)
            g_array_set_size(self->deferred, 0);
    }
    for (guint64 w = 0; w * bits < self->p2m_size; w++) {
        unsigned long word = words[w];

        while (word != 0) {
            guint64 pfn = w * bits + (guint64)__builtin_ctzl(word);

            word &= word - 1;
            if (pfn >= self->p2m_size)
                break;
            if (self->page_of[pfn] != FM_XEN_NO_PAGE)
                fm_bitmap_set(dirty, self->page_of[pfn]);
            else
                g_array_append_val(unmapped, pfn);
        }
    }
    return fm_xen_check_unmapped(self, unmapped, error);
}

/* Sets @error for pfn @pfn that could not be mapped (error @err).  libxenguest
 * re-reads the page types of every batch and sends a page ballooned out (XTAB) or
 * broken (BROKEN) since without data; the map is fixed at the start here, so such
 * a page fails the migration, saying so, and the guest resumes. */
static void
fm_xen_set_map_error(FmXenBackend *self, guint64 pfn, int err, GError **error)
{
    xen_pfn_t type = pfn;

    if (fm_xen_query_types(self, &type, 1, NULL) &&
        !fm_xen_page_type_has_data((guint32)type)) {
        g_set_error(error, FM_ERROR, FM_ERROR_UNSUPPORTED,
                    _("domain %u: the memory at pfn 0x%llx went away during the migration (type %u: ballooned out or broken), which fragmig does not support"),
                    self->domid, (unsigned long long)pfn, (unsigned int)type);
        return;
    }
    g_set_error(error, FM_ERROR, FM_ERROR_IO, _("domain %u: cannot map pfn 0x%llx: %s"),
                self->domid, (unsigned long long)pfn, g_strerror(err));
}

/* Reads @k pages of a PV guest (page numbers @pages) into @buf as libxenguest
 * does: each page's type at the time (page_types), page tables normalised, a page
 * table that names pages not the guest's while it runs sent as XTAB and read
 * again later (deferred); pages of types without data (ballooned out, broken)
 * are zeroed and not mapped. */
static gboolean
fm_xen_pv_read_batch(FmXenBackend *self, const guint64 *pages, gsize k, guint8 *buf,
                     GError **error)
{
    xen_pfn_t types[FM_XEN_BATCH];
    xen_pfn_t mfns[FM_XEN_BATCH];
    gsize which[FM_XEN_BATCH];         /* the batch index of each mapped page */
    int errs[FM_XEN_BATCH];
    gsize m = 0;
    guint8 *map;

    for (gsize i = 0; i < k; i++)
        types[i] = self->pfns[pages[i]];
    if (!fm_xen_query_types(self, types, (unsigned int)k, error))
        return FALSE;
    for (gsize i = 0; i < k; i++) {
        self->page_types[pages[i]] = (guint8)types[i];
        if (!fm_xen_page_type_has_data((guint32)types[i])) {
            memset(buf + i * FM_XEN_PAGE_SIZE, 0, FM_XEN_PAGE_SIZE);
            continue;
        }
        mfns[m] = fm_xen_pv_pfn_to_mfn(self->pv, self->pfns[pages[i]]);
        which[m++] = i;
    }
    if (m == 0)
        return TRUE;
    map = xenforeignmemory_map(self->fmem, self->domid, PROT_READ, m, mfns, errs);
    if (map == NULL) {
        fm_xen_set_errno(error, errno, "mapping guest memory", self->domid);
        return FALSE;
    }
    for (gsize j = 0; j < m; j++) {
        gsize i = which[j];
        guint8 *page = buf + i * FM_XEN_PAGE_SIZE;
        guint32 type = (guint32)types[i];
        gboolean again = FALSE;

        if (errs[j] != 0) {
            g_set_error(error, FM_ERROR, FM_ERROR_IO,
                        _("domain %u: cannot map pfn 0x%llx (mfn 0x%llx): %s"), self->domid,
                        (unsigned long long)self->pfns[pages[i]],
                        (unsigned long long)mfns[j], g_strerror(-errs[j]));
            xenforeignmemory_unmap(self->fmem, map, m);
            return FALSE;
        }
        memcpy(page, map + j * FM_XEN_PAGE_SIZE, FM_XEN_PAGE_SIZE);
        if (type == FM_XEN_PAGE_NOTAB ||
            fm_xen_pv_normalise(self->pv, type, page, self->paused, &again, error))
            continue;
        if (!again) {
            xenforeignmemory_unmap(self->fmem, map, m);
            return FALSE;
        }
        self->page_types[pages[i]] = FM_XEN_PAGE_XTAB;
        g_array_append_val(self->deferred, pages[i]);
    }
    xenforeignmemory_unmap(self->fmem, map, m);
    return TRUE;
}

/* Maps and copies the pages @pages (page numbers), FM_XEN_BATCH at a time. */
static gboolean
fm_xen_read_pages(FmBackend *backend, const guint64 *pages, gsize n, guint8 *buf,
                  GError **error)
{
    FmXenBackend *self = fm_xen_cast(backend);
    xen_pfn_t pfns[FM_XEN_BATCH];
    int errs[FM_XEN_BATCH];
    gint64 t0 = g_get_monotonic_time();

    for (gsize done = 0; done < n; done += FM_XEN_BATCH) {
        gsize k = MIN((gsize)FM_XEN_BATCH, n - done);
        void *map;

        if (self->pv != NULL) {
            if (!fm_xen_pv_read_batch(self, pages + done, k, buf + done * FM_XEN_PAGE_SIZE,
                                      error))
                return FALSE;
            continue;
        }
        for (gsize i = 0; i < k; i++)
            pfns[i] = self->pfns[pages[done + i]];
        map = xenforeignmemory_map(self->fmem, self->domid, PROT_READ, k, pfns, errs);
        if (map == NULL) {
            fm_xen_set_errno(error, errno, "mapping guest memory", self->domid);
            return FALSE;
        }
        for (gsize i = 0; i < k; i++) {
            if (errs[i] != 0) {
                fm_xen_set_map_error(self, pfns[i], -errs[i], error);
                xenforeignmemory_unmap(self->fmem, map, k);
                return FALSE;
            }
        }
        memcpy(buf + done * FM_XEN_PAGE_SIZE, map, k * FM_XEN_PAGE_SIZE);
        xenforeignmemory_unmap(self->fmem, map, k);
    }
    self->read_us += g_get_monotonic_time() - t0;
    self->pages_read += n;
    return TRUE;
}

/* Suspends the guest as `xl migrate` does (with its device model, for an HVM
 * guest), and checks that it did. */
static gboolean
fm_xen_pause(FmBackend *backend, GError **error)
{
    FmXenBackend *self = fm_xen_cast(backend);
    xc_dominfo_t info;
    gint64 t0;
    int rc;

    /* For an HVM guest, libxl's suspend also stops QEMU and has it save its state
     * into a file (fm-xen-dm.h), which must not hold an older state's tail. */
    if (self->guest_type == FM_XEN_GUEST_HVM && !fm_xen_dm_discard_state(self->domid, error))
        return FALSE;
    t0 = g_get_monotonic_time();
    rc = libxl_domain_suspend_only(self->ctx, self->domid, NULL);

    g_debug("domain %u: suspend took %.3f s", self->domid,
            (g_get_monotonic_time() - t0) / 1e6);
    if (rc != 0) {
        g_set_error(error, FM_ERROR, FM_ERROR_FAILED,
                    _("domain %u did not suspend (libxl error %d)"), self->domid, rc);
        return FALSE;
    }
    if (xc_domain_getinfo(self->xch, self->domid, 1, &info) != 1 ||
        info.domid != self->domid) {
        fm_xen_set_errno(error, errno, "xc_domain_getinfo", self->domid);
        return FALSE;
    }
    if (!info.shutdown || info.shutdown_reason != SHUTDOWN_suspend) {
        g_set_error(error, FM_ERROR, FM_ERROR_FAILED,
                    _("domain %u is not suspended after the suspend request (shutdown %d, reason %u)"),
                    self->domid, info.shutdown, info.shutdown_reason);
        return FALSE;
    }
    self->paused = TRUE;
    /* As libxenguest: a PV guest that rebuilt its p2m list is not migrated. */
    return self->pv == NULL || fm_xen_pv_check_p2m(self->pv, error);
}

/* Resumes a suspended guest, telling it its suspend was cancelled. */
static gboolean
fm_xen_resume(FmBackend *backend, GError **error)
{
    FmXenBackend *self = fm_xen_cast(backend);
    g_autoptr(GError) local = NULL;
    int rc = libxl_domain_resume(self->ctx, self->domid, 1, NULL);

    /* QEMU runs on (libxl sent it "cont"): the state it saved is stale. */
    if (self->guest_type == FM_XEN_GUEST_HVM && !fm_xen_dm_discard_state(self->domid, &local))
        g_debug("%s", local->message);
    self->paused = FALSE;

    if (rc != 0) {
        g_set_error(error, FM_ERROR, FM_ERROR_FAILED,
                    _("domain %u could not be resumed (libxl error %d)"), self->domid, rc);
        return FALSE;
    }
    return TRUE;
}

/* Sends the X86_TSC_INFO record. */
static gboolean
fm_xen_send_tsc_info(FmXenBackend *self, FmSink *sink, GError **error)
{
    uint32_t mode = 0, khz = 0, incarnation = 0;
    uint64_t nsec = 0;
    guint8 body[FM_XEN_TSC_INFO_SIZE] = { 0 };

    if (xc_domain_get_tsc_info(self->xch, self->domid, &mode, &nsec, &khz,
                               &incarnation) < 0) {
        fm_xen_set_errno(error, errno, "xc_domain_get_tsc_info", self->domid);
        return FALSE;
    }
    fm_put_le32(body, mode);
    fm_put_le32(body + 4, khz);
    fm_put_le64(body + 8, nsec);
    fm_put_le32(body + 16, incarnation);
    return fm_sink_send_record(sink, FM_XEN_LIBXC_REC_X86_TSC_INFO, body, sizeof(body),
                               error);
}

/* Sends the HVM_CONTEXT record: Xen's saved vCPU and platform state. */
static gboolean
fm_xen_send_hvm_context(FmXenBackend *self, FmSink *sink, GError **error)
{
    int size = xc_domain_hvm_getcontext(self->xch, self->domid, NULL, 0);
    g_autofree guint8 *buf = NULL;

    if (size <= 0) {
        fm_xen_set_errno(error, errno, "reading the HVM context size", self->domid);
        return FALSE;
    }
    buf = g_malloc(size);
    size = xc_domain_hvm_getcontext(self->xch, self->domid, buf, size);
    if (size <= 0) {
        fm_xen_set_errno(error, errno, "reading the HVM context", self->domid);
        return FALSE;
    }
    return fm_sink_send_record(sink, FM_XEN_LIBXC_REC_HVM_CONTEXT, buf, size, error);
}

/* Sends the HVM_PARAMS record (the parameters that are set), if any. */
static gboolean
fm_xen_send_hvm_params(FmXenBackend *self, FmSink *sink, GError **error)
{
    guint8 body[8 + G_N_ELEMENTS(fm_xen_hvm_params) * FM_XEN_HVM_PARAM_SIZE] = { 0 };
    guint32 count = 0;

    for (gsize i = 0; i < G_N_ELEMENTS(fm_xen_hvm_params); i++) {
        uint64_t value = 0;

        if (xc_hvm_param_get(self->xch, self->domid, fm_xen_hvm_params[i], &value) != 0) {
            g_autofree char *what = g_strdup_printf("reading HVM parameter %u",
                                                    fm_xen_hvm_params[i]);

            fm_xen_set_errno(error, errno, what, self->domid);
            return FALSE;
        }
        if (value == 0)
            continue;
        fm_put_le64(body + 8 + count * FM_XEN_HVM_PARAM_SIZE, fm_xen_hvm_params[i]);
        fm_put_le64(body + 16 + count * FM_XEN_HVM_PARAM_SIZE, value);
        count++;
    }
    if (count == 0)
        return TRUE;
    fm_put_le32(body, count);
    return fm_sink_send_record(sink, FM_XEN_LIBXC_REC_HVM_PARAMS, body,
                               8 + count * FM_XEN_HVM_PARAM_SIZE, error);
}

/* Gives the sink an HVM guest's device model state: the xenstore keys and the
 * state QEMU saved when libxl suspended the guest (fm_xen_pause()), saved again
 * live as libxl's live save does it, when QEMU can (fm-xen-dm.h). */
static gboolean
fm_xen_send_dm_state(FmXenBackend *self, FmSink *sink, GError **error)
{
    g_autoptr(GBytes) xenstore = NULL;
    g_autoptr(GBytes) live = NULL;
    g_autoptr(GError) local = NULL;
    g_autoptr(GBytes) context = fm_xen_dm_read_state(self->domid, error);

    if (context == NULL)
        return FALSE;
    live = fm_xen_dm_save_live(self->domid, &local);
    if (live != NULL) {
        g_debug("domain %u: device model state saved again for a live migration",
                self->domid);
        g_bytes_unref(context);
        context = g_steal_pointer(&live);
    } else {
        g_debug("domain %u: keeping the state libxl's suspend saved: %s", self->domid,
                local->message);
    }
    xenstore = fm_xen_dm_read_xenstore(self->domid, error);
    if (xenstore == NULL)
        return FALSE;
    g_debug("domain %u: device model state %zu bytes, xenstore data %zu bytes",
            self->domid, g_bytes_get_size(context), g_bytes_get_size(xenstore));
    return fm_xen_sink_set_emulator_state(sink, g_bytes_get_data(xenstore, NULL),
                                          g_bytes_get_size(xenstore),
                                          g_bytes_get_data(context, NULL),
                                          g_bytes_get_size(context), error);
}

/* Writes the guest's state records, in Xen 4.17's order. */
static gboolean
fm_xen_save_state(FmBackend *backend, FmSink *sink, GError **error)
{
    FmXenBackend *self = fm_xen_cast(backend);

    /* Any sink that takes libxc records will do. */
    if (fm_sink_get_records(sink) != FM_SINK_RECORDS_XEN_LIBXC) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("the xen backend writes Xen streams only, not \"%s\" streams"),
                    fm_sink_get_name(sink));
        return FALSE;
    }
    if (self->pv != NULL)
        return fm_xen_send_tsc_info(self, sink, error) &&
            fm_xen_pv_check_p2m(self->pv, error) &&
            fm_xen_pv_save_state(self->pv, sink, error);
    return fm_xen_send_tsc_info(self, sink, error) &&
        fm_xen_send_hvm_context(self, sink, error) &&
        fm_xen_send_hvm_params(self, sink, error) &&
        (self->guest_type != FM_XEN_GUEST_HVM || fm_xen_send_dm_state(self, sink, error));
}

static gint64
fm_xen_now(FmBackend *backend G_GNUC_UNUSED)
{
    return g_get_monotonic_time() * 1000;
}

/* Closes everything; log-dirty mode is left as the engine set it (its rollback
 * turns it off). */
static void
fm_xen_free(FmBackend *backend)
{
    FmXenBackend *self = fm_xen_cast(backend);

    g_debug("domain %u: %llu pages read in %.3f s", self->domid,
            (unsigned long long)self->pages_read, self->read_us / 1e6);
    if (self->dirty_hbuf_pages > 0)
        xc__hypercall_buffer_free_pages(self->xch, &self->dirty_hbuf,
                                        self->dirty_hbuf_pages);
    if (self->own_ctx)
        libxl_ctx_free(self->ctx);
    if (self->fmem != NULL)
        xenforeignmemory_close(self->fmem);
    if (self->xch != NULL)
        xc_interface_close(self->xch);
    if (self->logger != NULL)
        xtl_logger_destroy(self->logger);
    if (self->cpuid_policy != NULL)
        g_byte_array_unref(self->cpuid_policy);
    if (self->msr_policy != NULL)
        g_byte_array_unref(self->msr_policy);
    fm_xen_pv_free(self->pv);
    g_free(self->page_types);
    if (self->deferred != NULL)
        g_array_unref(self->deferred);
    g_free(self->pfns);
    g_free(self->page_of);
    g_free(self);
}

static const FmBackendOps fm_xen_ops = {
    .name = "xen",
    .page_count = fm_xen_page_count,
    .page_size = fm_xen_page_size,
    .log_dirty_enable = fm_xen_log_dirty_enable,
    .log_dirty_disable = fm_xen_log_dirty_disable,
    .harvest = fm_xen_harvest,
    .can_harvest_range = FALSE,
    .read_pages = fm_xen_read_pages,
    .pause = fm_xen_pause,
    .resume = fm_xen_resume,
    .save_state = fm_xen_save_state,
    .now = fm_xen_now,
    .free = fm_xen_free,
};

/* Returns the pfn of each page number; see fm-xen.h. */
const guint64 *
fm_xen_backend_get_pfn_map(FmBackend *backend)
{
    return fm_xen_cast(backend)->pfns;
}

/* Fills @info for a sink of this guest; see fm-xen.h. */
void
fm_xen_backend_get_stream_info(FmBackend *backend, FmXenStreamInfo *info)
{
    FmXenBackend *self = fm_xen_cast(backend);

    memset(info, 0, sizeof(*info));
    info->guest_type = self->guest_type;
    info->emulator_id = self->emulator_id;
    info->xen_major = self->xen_major;
    info->xen_minor = self->xen_minor;
    info->cpuid_policy = self->cpuid_policy->data;
    info->cpuid_policy_len = self->cpuid_policy->len;
    info->msr_policy = self->msr_policy->data;
    info->msr_policy_len = self->msr_policy->len;
    info->pfn_map = self->pfns;
    info->pfn_map_len = self->page_count;
    info->page_types = self->page_types;
    if (self->pv != NULL)
        info->pv_p2m_frames = fm_xen_pv_get_stream_info(self->pv, &info->pv_guest_width,
                                                        &info->pv_pt_levels,
                                                        &info->pv_p2m_frames_len);
}

guint32
fm_xen_backend_get_domid(FmBackend *backend)
{
    return fm_xen_cast(backend)->domid;
}

gpointer
fm_xen_backend_get_libxl_ctx(FmBackend *backend)
{
    return fm_xen_cast(backend)->ctx;
}

/* Returns the domain's libxl JSON configuration; see fm-xen.h. */
char *
fm_xen_backend_get_config_json(FmBackend *backend, GError **error)
{
    FmXenBackend *self = fm_xen_cast(backend);
    libxl_domain_config config;
    char *json = NULL;
    char *copy = NULL;
    int rc;

    libxl_domain_config_init(&config);
    rc = libxl_retrieve_domain_configuration(self->ctx, self->domid, &config, NULL);
    if (rc == 0) {
        config.c_info.domid = 0;
        json = libxl_domain_config_to_json(self->ctx, &config);
    }
    libxl_domain_config_dispose(&config);
    if (json == NULL) {
        g_set_error(error, FM_ERROR, FM_ERROR_FAILED,
                    _("domain %u: libxl cannot give its configuration (error %d)"),
                    self->domid, rc);
        return NULL;
    }
    copy = g_strdup(json);
    free(json);
    return copy;
}

/* Returns the domain's name; see fm-xen.h. */
char *
fm_xen_backend_get_name(FmBackend *backend)
{
    FmXenBackend *self = fm_xen_cast(backend);
    char *name = libxl_domid_to_name(self->ctx, self->domid);
    char *copy = g_strdup(name);

    free(name);
    return copy;
}

/* Renames the domain; see fm-xen.h. */
gboolean
fm_xen_backend_rename(FmBackend *backend, const char *old_name, const char *new_name,
                      GError **error)
{
    FmXenBackend *self = fm_xen_cast(backend);
    int rc = libxl_domain_rename(self->ctx, self->domid, old_name, new_name);

    if (rc != 0) {
        g_set_error(error, FM_ERROR, FM_ERROR_FAILED,
                    _("domain %u could not be renamed from '%s' to '%s' (libxl error %d)"),
                    self->domid, old_name, new_name, rc);
        return FALSE;
    }
    return TRUE;
}

/* Destroys the domain; see fm-xen.h. */
gboolean
fm_xen_backend_destroy_domain(FmBackend *backend, GError **error)
{
    FmXenBackend *self = fm_xen_cast(backend);
    int rc = libxl_domain_destroy(self->ctx, self->domid, NULL);

    if (rc != 0) {
        g_set_error(error, FM_ERROR, FM_ERROR_FAILED,
                    _("domain %u could not be destroyed (libxl error %d)"), self->domid, rc);
        return FALSE;
    }
    return TRUE;
}

/* Looks up a domain by name or number; see fm-xen.h. */
gboolean
fm_xen_lookup_domain(const char *name, guint32 *domid, GError **error)
{
    xentoollog_logger *logger;
    libxl_ctx *ctx = NULL;
    uint32_t id = 0;
    int rc;

    logger = (xentoollog_logger *)xtl_createlogger_stdiostream(stderr, XTL_ERROR, 0);
    if (logger == NULL || libxl_ctx_alloc(&ctx, LIBXL_VERSION, 0, logger) != 0) {
        g_set_error(error, FM_ERROR, FM_ERROR_IO,
                    _("cannot open libxl: is this a Xen dom0 with xenstored running?"));
        if (logger != NULL)
            xtl_logger_destroy(logger);
        return FALSE;
    }
    rc = libxl_domain_qualifier_to_domid(ctx, name, &id);
    libxl_ctx_free(ctx);
    xtl_logger_destroy(logger);
    if (rc != 0) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG, _("no domain \"%s\""), name);
        return FALSE;
    }
    *domid = id;
    return TRUE;
}
