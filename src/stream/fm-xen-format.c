/*
 * fm-xen-format.c: the names of Xen's stream records and page types
 * (fm-xen-format.h).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "stream/fm-xen-format.h"

G_STATIC_ASSERT(FM_XEN_PAGE_SIZE == 4096);

static const char *const libxc_record_names[FM_XEN_LIBXC_REC_TYPE_LAST] = {
    [FM_XEN_LIBXC_REC_END] = "END",
    [FM_XEN_LIBXC_REC_PAGE_DATA] = "PAGE_DATA",
    [FM_XEN_LIBXC_REC_X86_PV_INFO] = "X86_PV_INFO",
    [FM_XEN_LIBXC_REC_X86_PV_P2M_FRAMES] = "X86_PV_P2M_FRAMES",
    [FM_XEN_LIBXC_REC_X86_PV_VCPU_BASIC] = "X86_PV_VCPU_BASIC",
    [FM_XEN_LIBXC_REC_X86_PV_VCPU_EXTENDED] = "X86_PV_VCPU_EXTENDED",
    [FM_XEN_LIBXC_REC_X86_PV_VCPU_XSAVE] = "X86_PV_VCPU_XSAVE",
    [FM_XEN_LIBXC_REC_SHARED_INFO] = "SHARED_INFO",
    [FM_XEN_LIBXC_REC_X86_TSC_INFO] = "X86_TSC_INFO",
    [FM_XEN_LIBXC_REC_HVM_CONTEXT] = "HVM_CONTEXT",
    [FM_XEN_LIBXC_REC_HVM_PARAMS] = "HVM_PARAMS",
    [FM_XEN_LIBXC_REC_TOOLSTACK] = "TOOLSTACK",
    [FM_XEN_LIBXC_REC_X86_PV_VCPU_MSRS] = "X86_PV_VCPU_MSRS",
    [FM_XEN_LIBXC_REC_VERIFY] = "VERIFY",
    [FM_XEN_LIBXC_REC_CHECKPOINT] = "CHECKPOINT",
    [FM_XEN_LIBXC_REC_CHECKPOINT_DIRTY_PFN_LIST] = "CHECKPOINT_DIRTY_PFN_LIST",
    [FM_XEN_LIBXC_REC_STATIC_DATA_END] = "STATIC_DATA_END",
    [FM_XEN_LIBXC_REC_X86_CPUID_POLICY] = "X86_CPUID_POLICY",
    [FM_XEN_LIBXC_REC_X86_MSR_POLICY] = "X86_MSR_POLICY",
};

static const char *const libxl_record_names[FM_XEN_LIBXL_REC_TYPE_LAST] = {
    [FM_XEN_LIBXL_REC_END] = "END",
    [FM_XEN_LIBXL_REC_LIBXC_CONTEXT] = "LIBXC_CONTEXT",
    [FM_XEN_LIBXL_REC_EMULATOR_XENSTORE_DATA] = "EMULATOR_XENSTORE_DATA",
    [FM_XEN_LIBXL_REC_EMULATOR_CONTEXT] = "EMULATOR_CONTEXT",
    [FM_XEN_LIBXL_REC_CHECKPOINT_END] = "CHECKPOINT_END",
    [FM_XEN_LIBXL_REC_CHECKPOINT_STATE] = "CHECKPOINT_STATE",
};

static const char *const page_type_names[16] = {
    [FM_XEN_PAGE_NOTAB] = "NOTAB",
    [FM_XEN_PAGE_L1TAB] = "L1TAB",
    [FM_XEN_PAGE_L2TAB] = "L2TAB",
    [FM_XEN_PAGE_L3TAB] = "L3TAB",
    [FM_XEN_PAGE_L4TAB] = "L4TAB",
    [FM_XEN_PAGE_L1TAB_PIN] = "L1TAB_PIN",
    [FM_XEN_PAGE_L2TAB_PIN] = "L2TAB_PIN",
    [FM_XEN_PAGE_L3TAB_PIN] = "L3TAB_PIN",
    [FM_XEN_PAGE_L4TAB_PIN] = "L4TAB_PIN",
    [FM_XEN_PAGE_BROKEN] = "BROKEN",
    [FM_XEN_PAGE_XALLOC] = "XALLOC",
    [FM_XEN_PAGE_XTAB] = "XTAB",
};

/* Returns the name of libxc record @type, or NULL if unknown. */
const char *
fm_xen_libxc_record_name(guint32 type)
{
    return type < FM_XEN_LIBXC_REC_TYPE_LAST ? libxc_record_names[type] : NULL;
}

/* Returns the name of libxl record @type, or NULL if unknown. */
const char *
fm_xen_libxl_record_name(guint32 type)
{
    return type < FM_XEN_LIBXL_REC_TYPE_LAST ? libxl_record_names[type] : NULL;
}

/* Returns the name of page @type, or NULL if reserved or out of range. */
const char *
fm_xen_page_type_name(guint32 type)
{
    return type < G_N_ELEMENTS(page_type_names) ? page_type_names[type] : NULL;
}

/* Returns TRUE if a page of @type has data in PAGE_DATA: normal pages and page
 * tables; not holes (XTAB), allocate-only or broken pages. */
gboolean
fm_xen_page_type_has_data(guint32 type)
{
    return fm_xen_page_type_name(type) != NULL && type != FM_XEN_PAGE_BROKEN &&
        type != FM_XEN_PAGE_XALLOC && type != FM_XEN_PAGE_XTAB;
}
