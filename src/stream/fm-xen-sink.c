/*
 * fm-xen-sink.c: the FmSink that writes Xen's migration stream (fm-xen-sink.h).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "stream/fm-xen-sink.h"

#include "stream/fm-xen-checks.h"
#include "stream/fm-xen-writer.h"
#include "util/fm-error.h"
#include "util/fm-i18n.h"

typedef unsigned long long ull;

typedef struct {
    FmSink parent;
    FmChannel *channel;        /* borrowed */
    FmXenStreamWriter *writer; /* on channel */
    FmXenGuestType guest_type;
    guint32 xen_major;
    guint32 xen_minor;
    guint32 emulator_id;
    GBytes *cpuid_policy;      /* NULL: none */
    GBytes *msr_policy;
    GBytes *emu_xenstore;      /* set by fm_xen_sink_set_emulator_state() */
    GBytes *emu_context;       /*   NULL until then */
    guint64 page_count;        /* from begin */
    guint64 *pfn_map;          /* page number -> guest pfn; NULL: identity */
    gsize pfn_map_len;
    const guint8 *page_types;  /* borrowed; NULL: all NOTAB */
    guint8 pv_info[FM_XEN_PV_INFO_SIZE];
    GBytes *pv_p2m_frames;     /* PV only */
    GArray *mapped;            /* scratch: the pfns of one send_pages call */
    GArray *types;             /* scratch: their types */
    GByteArray *packed;        /* scratch: their data, without the typeless pages */
    gboolean begun;
    gboolean aborted;
} FmXenSink;

static const FmSinkOps fm_xen_sink_ops;

/* Returns @sink as a Xen sink; NULL (and a critical) if it is another kind. */
static FmXenSink *
fm_xen_sink_cast(FmSink *sink)
{
    g_return_val_if_fail(sink != NULL && sink->ops == &fm_xen_sink_ops, NULL);
    return (FmXenSink *)sink;
}

/* Brings bytes_sent up to date. */
static void
fm_xen_sink_count(FmXenSink *self)
{
    self->parent.bytes_sent = fm_xen_stream_writer_get_offset(self->writer);
}

/* Fails once the sink was aborted or before begin (@need_begun). */
static gboolean
fm_xen_sink_check_usable(FmXenSink *self, gboolean need_begun, GError **error)
{
    if (self->aborted) {
        g_set_error(error, FM_ERROR, FM_ERROR_FAILED,
                    _("cannot write to a stream that was abandoned"));
        return FALSE;
    }
    if (need_begun && !self->begun) {
        g_set_error(error, FM_ERROR, FM_ERROR_FAILED,
                    _("cannot write a record before the stream was begun"));
        return FALSE;
    }
    return TRUE;
}

/* Writes the headers and the static data. */
static gboolean
fm_xen_sink_begin(FmSink *sink, guint64 page_count, gsize page_size, GError **error)
{
    FmXenSink *self = fm_xen_sink_cast(sink);
    gboolean pv = self->guest_type == FM_XEN_GUEST_PV;
    gboolean ok;

    if (!fm_xen_sink_check_usable(self, FALSE, error))
        return FALSE;
    if (pv && self->pv_p2m_frames == NULL) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("cannot begin the stream of a PV guest without its p2m frames"));
        return FALSE;
    }
    if (self->begun) {
        g_set_error(error, FM_ERROR, FM_ERROR_FAILED, _("the stream was already begun"));
        return FALSE;
    }
    if (page_size != FM_XEN_PAGE_SIZE) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("invalid page size %llu for a Xen x86 stream (it must be 4096)"),
                    (ull)page_size);
        return FALSE;
    }
    if (page_count == 0 || page_count - 1 > FM_XEN_PFN_MASK) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("invalid page count %llu for a Xen x86 stream"), (ull)page_count);
        return FALSE;
    }
    if (self->pfn_map != NULL && page_count != self->pfn_map_len) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("invalid page count %llu: the pfn map has %llu pages"),
                    (ull)page_count, (ull)self->pfn_map_len);
        return FALSE;
    }
    if (self->guest_type == FM_XEN_GUEST_HVM &&
        self->emulator_id != FM_XEN_EMULATOR_QEMU_TRADITIONAL &&
        self->emulator_id != FM_XEN_EMULATOR_QEMU_UPSTREAM) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("invalid emulator id %u for an HVM guest (1: qemu-traditional, 2: qemu-upstream)"),
                    self->emulator_id);
        return FALSE;
    }

    ok = fm_xen_stream_writer_write_libxl_header(self->writer, error) &&
        fm_xen_stream_writer_begin_libxc(self->writer,
                                         pv ? FM_XEN_DOMAIN_X86_PV : FM_XEN_DOMAIN_X86_HVM,
                                         self->xen_major, self->xen_minor, error) &&
        (!pv ||
         fm_xen_stream_writer_write_libxc_record(self->writer, FM_XEN_LIBXC_REC_X86_PV_INFO,
                                                 self->pv_info, sizeof(self->pv_info),
                                                 error)) &&
        (self->cpuid_policy == NULL ||
         fm_xen_stream_writer_write_libxc_record(self->writer,
                                                 FM_XEN_LIBXC_REC_X86_CPUID_POLICY,
                                                 g_bytes_get_data(self->cpuid_policy, NULL),
                                                 g_bytes_get_size(self->cpuid_policy),
                                                 error)) &&
        (self->msr_policy == NULL ||
         fm_xen_stream_writer_write_libxc_record(self->writer,
                                                 FM_XEN_LIBXC_REC_X86_MSR_POLICY,
                                                 g_bytes_get_data(self->msr_policy, NULL),
                                                 g_bytes_get_size(self->msr_policy),
                                                 error)) &&
        fm_xen_stream_writer_write_libxc_record(self->writer,
                                                FM_XEN_LIBXC_REC_STATIC_DATA_END, NULL, 0,
                                                error) &&
        (!pv ||
         fm_xen_stream_writer_write_libxc_record(self->writer,
                                                 FM_XEN_LIBXC_REC_X86_PV_P2M_FRAMES,
                                                 g_bytes_get_data(self->pv_p2m_frames, NULL),
                                                 g_bytes_get_size(self->pv_p2m_frames),
                                                 error));
    fm_xen_sink_count(self);
    if (!ok)
        return FALSE;
    self->page_count = page_count;
    self->begun = TRUE;
    return TRUE;
}

/* Sends pages of the given types (NULL: NOTAB), bounded by the page count. */
static gboolean
fm_xen_sink_write_pages(FmXenSink *self, const guint64 *pfns, const guint8 *types,
                        gsize n, const guint8 *data, GError **error)
{
    gboolean ok;

    if (!fm_xen_sink_check_usable(self, TRUE, error))
        return FALSE;
    for (gsize i = 0; i < n; i++) {
        if (pfns[i] >= self->page_count) {
            g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                        _("cannot send pfn %llu: the guest has %llu pages"),
                        (ull)pfns[i], (ull)self->page_count);
            return FALSE;
        }
    }
    if (self->pfn_map != NULL) {
        g_array_set_size(self->mapped, n);
        for (gsize i = 0; i < n; i++)
            g_array_index(self->mapped, guint64, i) = self->pfn_map[pfns[i]];
        pfns = (const guint64 *)(gconstpointer)self->mapped->data;
    }
    ok = fm_xen_stream_writer_write_pages(self->writer, pfns, types, n, data, error);
    fm_xen_sink_count(self);
    return ok;
}

/* Sends pages as PAGE_DATA: NOTAB, or of the types the backend keeps, leaving
 * out the data of pages whose type has none. */
static gboolean
fm_xen_sink_send_pages(FmSink *sink, const guint64 *pfns, gsize n, const guint8 *data,
                       GError **error)
{
    FmXenSink *self = fm_xen_sink_cast(sink);
    gsize kept = 0;

    if (self->page_types == NULL)
        return fm_xen_sink_write_pages(self, pfns, NULL, n, data, error);
    g_array_set_size(self->types, n);
    g_byte_array_set_size(self->packed, 0);
    for (gsize i = 0; i < n; i++) {
        /* Out-of-range numbers are refused by fm_xen_sink_write_pages(). */
        guint8 type = pfns[i] < self->page_count ? self->page_types[pfns[i]]
                                                 : FM_XEN_PAGE_NOTAB;

        g_array_index(self->types, guint8, i) = type;
        if (fm_xen_page_type_has_data(type))
            kept++;
    }
    if (kept == n)
        return fm_xen_sink_write_pages(self, pfns, (const guint8 *)self->types->data, n,
                                       data, error);
    for (gsize i = 0; i < n; i++) {
        if (fm_xen_page_type_has_data(g_array_index(self->types, guint8, i)))
            g_byte_array_append(self->packed, data + i * FM_XEN_PAGE_SIZE,
                                FM_XEN_PAGE_SIZE);
    }
    return fm_xen_sink_write_pages(self, pfns, (const guint8 *)self->types->data, n,
                                   self->packed->data, error);
}

/* Sends typed pages; see fm-xen-sink.h. */
gboolean
fm_xen_sink_send_typed_pages(FmSink *sink, const guint64 *pfns, const guint8 *types,
                             gsize n, const guint8 *data, GError **error)
{
    FmXenSink *self = fm_xen_sink_cast(sink);

    g_return_val_if_fail(self != NULL, FALSE);
    g_return_val_if_fail(n == 0 || (pfns != NULL && types != NULL), FALSE);
    return fm_xen_sink_write_pages(self, pfns, types, n, data, error);
}

/* Sends one libxc record of libxc type @type. */
static gboolean
fm_xen_sink_send_record(FmSink *sink, guint32 type, const void *data, gsize len,
                        GError **error)
{
    FmXenSink *self = fm_xen_sink_cast(sink);
    gboolean ok;

    if (!fm_xen_sink_check_usable(self, TRUE, error))
        return FALSE;
    if (type == FM_XEN_LIBXC_REC_END || type == FM_XEN_LIBXC_REC_PAGE_DATA ||
        type == FM_XEN_LIBXC_REC_STATIC_DATA_END) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("cannot send a libxc %s record with fm_sink_send_record(): the Xen sink writes it"),
                    fm_xen_libxc_record_name(type));
        return FALSE;
    }
    ok = fm_xen_stream_writer_write_libxc_record(self->writer, type, data, len, error);
    fm_xen_sink_count(self);
    return ok;
}

/* Nothing to mark: the writes are already in the kernel. */
static gboolean
fm_xen_sink_flush(FmSink *sink, GError **error)
{
    return fm_xen_sink_check_usable(fm_xen_sink_cast(sink), TRUE, error);
}

/* Writes the libxc END, the emulator records of an HVM guest and the libxl END. */
static gboolean
fm_xen_sink_finish(FmSink *sink, GError **error)
{
    FmXenSink *self = fm_xen_sink_cast(sink);
    gboolean hvm = self->guest_type == FM_XEN_GUEST_HVM;
    gboolean ok;

    if (!fm_xen_sink_check_usable(self, TRUE, error))
        return FALSE;
    /* Xen's restore of an HVM guest starts its device model from this state. */
    if (hvm && self->emu_context == NULL) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("cannot end the stream of an HVM guest without its device model state"));
        return FALSE;
    }
    ok = fm_xen_stream_writer_end_libxc(self->writer, error) &&
        (!hvm || g_bytes_get_size(self->emu_xenstore) == 0 ||
         fm_xen_stream_writer_write_emulator_record(self->writer,
                                                    FM_XEN_LIBXL_REC_EMULATOR_XENSTORE_DATA,
                                                    self->emulator_id, 0,
                                                    g_bytes_get_data(self->emu_xenstore, NULL),
                                                    g_bytes_get_size(self->emu_xenstore),
                                                    error)) &&
        (!hvm ||
         fm_xen_stream_writer_write_emulator_record(self->writer,
                                                    FM_XEN_LIBXL_REC_EMULATOR_CONTEXT,
                                                    self->emulator_id, 0,
                                                    g_bytes_get_data(self->emu_context, NULL),
                                                    g_bytes_get_size(self->emu_context),
                                                    error)) &&
        fm_xen_stream_writer_write_libxl_end(self->writer, error);
    fm_xen_sink_count(self);
    return ok;
}

/* Nothing to send: the sink only refuses further calls. */
static void
fm_xen_sink_abort(FmSink *sink, const char *reason)
{
    FmXenSink *self = fm_xen_sink_cast(sink);

    (void)reason;
    self->aborted = TRUE;
}

/* Frees the sink, not the channel. */
static void
fm_xen_sink_free(FmSink *sink)
{
    FmXenSink *self = fm_xen_sink_cast(sink);

    fm_xen_stream_writer_free(self->writer);
    g_clear_pointer(&self->cpuid_policy, g_bytes_unref);
    g_clear_pointer(&self->msr_policy, g_bytes_unref);
    g_clear_pointer(&self->emu_xenstore, g_bytes_unref);
    g_clear_pointer(&self->emu_context, g_bytes_unref);
    g_clear_pointer(&self->pv_p2m_frames, g_bytes_unref);
    g_free(self->pfn_map);
    g_array_unref(self->mapped);
    g_array_unref(self->types);
    g_byte_array_unref(self->packed);
    g_free(self);
}

static const FmSinkOps fm_xen_sink_ops = {
    .name = "xen",
    .records = FM_SINK_RECORDS_XEN_LIBXC,
    .begin = fm_xen_sink_begin,
    .send_pages = fm_xen_sink_send_pages,
    .send_record = fm_xen_sink_send_record,
    .flush = fm_xen_sink_flush,
    .finish = fm_xen_sink_finish,
    .abort = fm_xen_sink_abort,
    .free = fm_xen_sink_free,
};

/* Returns a copy of @len bytes at @data, or NULL when empty. */
static GBytes *
fm_xen_copy_blob(const void *data, gsize len)
{
    return len > 0 ? g_bytes_new(data, len) : NULL;
}

/* Returns a new Xen sink on the borrowed @channel; see fm-xen-sink.h. */
FmSink *
fm_xen_sink_new(FmChannel *channel, const FmXenStreamInfo *info)
{
    FmXenSink *self;

    g_return_val_if_fail(channel != NULL && info != NULL, NULL);
    g_return_val_if_fail(info->guest_type == FM_XEN_GUEST_PVH ||
                         info->guest_type == FM_XEN_GUEST_HVM ||
                         info->guest_type == FM_XEN_GUEST_PV, NULL);
    g_return_val_if_fail(info->pv_p2m_frames_len == 0 || info->pv_p2m_frames != NULL,
                         NULL);
    g_return_val_if_fail(info->cpuid_policy_len == 0 || info->cpuid_policy != NULL, NULL);
    g_return_val_if_fail(info->msr_policy_len == 0 || info->msr_policy != NULL, NULL);
    g_return_val_if_fail(info->pfn_map_len == 0 || info->pfn_map != NULL, NULL);

    self = g_new0(FmXenSink, 1);
    self->parent.ops = &fm_xen_sink_ops;
    self->channel = channel;
    self->writer = fm_xen_stream_writer_new(channel);
    self->guest_type = info->guest_type;
    self->xen_major = info->xen_major;
    self->xen_minor = info->xen_minor;
    self->emulator_id = info->emulator_id;
    self->cpuid_policy = fm_xen_copy_blob(info->cpuid_policy, info->cpuid_policy_len);
    self->msr_policy = fm_xen_copy_blob(info->msr_policy, info->msr_policy_len);
    if (info->pfn_map != NULL) {
        self->pfn_map = g_memdup2(info->pfn_map, info->pfn_map_len * sizeof(guint64));
        self->pfn_map_len = info->pfn_map_len;
    }
    self->mapped = g_array_new(FALSE, FALSE, sizeof(guint64));
    self->types = g_array_new(FALSE, FALSE, sizeof(guint8));
    self->packed = g_byte_array_new();
    self->page_types = info->page_types;
    if (info->guest_type == FM_XEN_GUEST_PV) {
        /* Checked when begin writes it. */
        self->pv_info[0] = (guint8)info->pv_guest_width;
        self->pv_info[1] = (guint8)info->pv_pt_levels;
        self->pv_p2m_frames = fm_xen_copy_blob(info->pv_p2m_frames,
                                               info->pv_p2m_frames_len);
    }
    return &self->parent;
}

/* Stores an HVM guest's device model state; see fm-xen-sink.h. */
gboolean
fm_xen_sink_set_emulator_state(FmSink *sink, const void *xenstore_data,
                               gsize xenstore_len, const void *context,
                               gsize context_len, GError **error)
{
    FmXenSink *self = fm_xen_sink_cast(sink);
    g_autoptr(GError) invalid = NULL;

    g_return_val_if_fail(self != NULL, FALSE);
    g_return_val_if_fail(xenstore_len == 0 || xenstore_data != NULL, FALSE);
    g_return_val_if_fail(context_len == 0 || context != NULL, FALSE);

    if (self->guest_type != FM_XEN_GUEST_HVM) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    self->guest_type == FM_XEN_GUEST_PV ?
                    _("a PV guest has no device model state") :
                    _("a PVH guest has no device model state"));
        return FALSE;
    }
    if (context_len == 0) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("the device model state of an HVM guest cannot be empty"));
        return FALSE;
    }
    /* The offset is unknown yet: the checks below speak of offset 0. */
    if (!fm_xen_check_emulator_length(FM_XEN_LIBXL_REC_EMULATOR_XENSTORE_DATA,
                                      xenstore_len, 0, &invalid) ||
        !fm_xen_check_emulator_length(FM_XEN_LIBXL_REC_EMULATOR_CONTEXT, context_len, 0,
                                      &invalid) ||
        !fm_xen_check_emulator(FM_XEN_LIBXL_REC_EMULATOR_XENSTORE_DATA,
                               FM_XEN_EMULATOR_QEMU_UPSTREAM, xenstore_data, xenstore_len,
                               FALSE, 0, &invalid)) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("invalid device model state: %s"), invalid->message);
        return FALSE;
    }
    g_clear_pointer(&self->emu_xenstore, g_bytes_unref);
    g_clear_pointer(&self->emu_context, g_bytes_unref);
    self->emu_xenstore = g_bytes_new(xenstore_data, xenstore_len);
    self->emu_context = g_bytes_new(context, context_len);
    return TRUE;
}
