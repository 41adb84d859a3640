/*
 * gen-corpus.c: writes the seed corpus of the fuzz targets (tests/fuzz/corpus/)
 * with the project's own writers, so that every seed is a valid input that goes
 * deep into its decoder.  `make fuzz-corpus` runs it; the output is deterministic
 * and small, and is checked in.
 *
 *   gen-corpus DIR      writes DIR/<target>/<seed> for every target
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/local/fm-guest.h"
#include "stream/fm-stream.h"
#include "stream/fm-xen-sink.h"
#include "stream/fm-xl-format.h"
#include "tests/fm-test-util.h"
#include "trace/fm-trace.h"
#include "util/fm-bytes.h"
#include "util/fm-digest.h"
#include "util/fm-error.h"

#define SEED_PAGE 512u      /* native seeds: small pages, so that seeds stay small */
#define SEED_PAGES 8u

/* Aborts with the message of @error if @ok is FALSE. */
static void
gen_check(gboolean ok, GError *error, const char *what)
{
    if (!ok) {
        fprintf(stderr, "gen-corpus: %s: %s\n", what, error ? error->message : "failed");
        exit(1);
    }
}

/* Writes @len bytes to DIR/@target/@name. */
static void
gen_save(const char *dir, const char *target, const char *name, const void *data,
         gsize len)
{
    g_autofree char *sub = g_build_filename(dir, target, NULL);
    g_autofree char *path = g_build_filename(sub, name, NULL);
    g_autoptr(GError) error = NULL;

    if (g_mkdir_with_parents(sub, 0755) < 0) {
        fprintf(stderr, "gen-corpus: %s: %s\n", sub, g_strerror(errno));
        exit(1);
    }
    gen_check(g_file_set_contents(path, data, len, &error), error, path);
}

/* Saves what was written into the memory channel @channel. */
static void
gen_save_channel(const char *dir, const char *target, const char *name,
                 FmChannel *channel)
{
    g_autoptr(GBytes) bytes = fm_test_channel_contents(channel);
    gsize len;
    const void *data = g_bytes_get_data(bytes, &len);

    gen_save(dir, target, name, data, len);
}

/* Fills @memory (@n pages of @page bytes) with a recognisable pattern. */
static void
gen_fill(guint8 *memory, gsize n, gsize page)
{
    for (gsize i = 0; i < n * page; i++)
        memory[i] = (guint8)((i / page) * 37 + i % 251 + 1);
}

/* ---- native stream ---- */

/* Writes a complete native stream of the pattern memory: every page, a second
 * round with some pages again, each other record type, the XXH3-128 digest of the
 * memory, END (or ABORT when @abort_reason is set). */
static void
gen_native(const char *dir, const char *target, const char *name,
           const char *abort_reason)
{
    g_autoptr(FmChannel) channel = fm_test_channel_from_bytes(NULL, 0);
    g_autoptr(FmStreamWriter) writer = fm_stream_writer_new(channel);
    g_autoptr(GError) error = NULL;
    guint8 memory[SEED_PAGES * SEED_PAGE];
    guint64 pfns[SEED_PAGES];
    guint8 round[8] = { 0 };
    guint8 digest[8 + FM_DIGEST_SIZE] = { FM_DIGEST_XXH3_128, 0, 0, 0, FM_DIGEST_SIZE };
    static const char stats[] = "time_elapsed=12\ndata_total=4096\n";
    gboolean ok;

    gen_fill(memory, SEED_PAGES, SEED_PAGE);
    for (guint i = 0; i < SEED_PAGES; i++)
        pfns[i] = SEED_PAGES - 1 - i;       /* any order: reverse */
    fm_digest_compute(memory, sizeof(memory), digest + 8);
    ok = fm_stream_writer_write_header(writer, SEED_PAGES, SEED_PAGE, &error);
    /* round 0: every page, the last one from the pattern, the others in reverse */
    for (guint i = 0; ok && i < SEED_PAGES; i++) {
        guint64 pfn = pfns[i];
        ok = fm_stream_writer_write_pages(writer, &pfn, 1, memory + pfn * SEED_PAGE, &error);
    }
    ok = ok && fm_stream_writer_write_record(writer, FM_RECORD_ROUND_END, round, 8, &error);
    if (ok && abort_reason) {
        ok = fm_stream_writer_write_abort(writer, abort_reason, &error);
        gen_check(ok, error, name);
        gen_save_channel(dir, target, name, channel);
        return;
    }
    /* round 1: two pages in one record */
    {
        guint64 again[2] = { 1, 5 };
        guint8 data[2 * SEED_PAGE];

        memcpy(data, memory + 1 * SEED_PAGE, SEED_PAGE);
        memcpy(data + SEED_PAGE, memory + 5 * SEED_PAGE, SEED_PAGE);
        ok = ok && fm_stream_writer_write_pages(writer, again, 2, data, &error);
    }
    round[0] = 1;
    ok = ok && fm_stream_writer_write_record(writer, FM_RECORD_ROUND_END, round, 8, &error) &&
        fm_stream_writer_write_record(writer, FM_RECORD_CPU_STATE, "vcpu0 state", 11, &error) &&
        fm_stream_writer_write_record(writer, FM_RECORD_DEVICE_STATE, "", 0, &error) &&
        fm_stream_writer_write_record(writer, FM_RECORD_STATS, stats, strlen(stats), &error) &&
        fm_stream_writer_write_record(writer, FM_RECORD_DIGEST, digest, sizeof(digest), &error) &&
        fm_stream_writer_write_end(writer, &error);
    gen_check(ok, error, name);
    gen_save_channel(dir, target, name, channel);
}

/* A stream with the SHA-256 digest and 4 KiB pages, one record of 4 pages. */
static void
gen_native_sha(const char *dir, const char *target, const char *name)
{
    g_autoptr(FmChannel) channel = fm_test_channel_from_bytes(NULL, 0);
    g_autoptr(FmStreamWriter) writer = fm_stream_writer_new(channel);
    g_autoptr(GError) error = NULL;
    g_autoptr(GChecksum) sha = g_checksum_new(G_CHECKSUM_SHA256);
    g_autofree guint8 *memory = g_malloc(4 * 4096);
    guint64 pfns[4] = { 0, 1, 2, 3 };
    guint8 digest[8 + 32] = { FM_DIGEST_SHA256, 0, 0, 0, 32 };
    gsize digest_len = 32;
    gboolean ok;

    gen_fill(memory, 4, 4096);
    g_checksum_update(sha, memory, 4 * 4096);
    g_checksum_get_digest(sha, digest + 8, &digest_len);
    ok = fm_stream_writer_write_header(writer, 4, 4096, &error) &&
        fm_stream_writer_write_pages(writer, pfns, 4, memory, &error) &&
        fm_stream_writer_write_record(writer, FM_RECORD_DIGEST, digest, sizeof(digest), &error) &&
        fm_stream_writer_write_end(writer, &error);
    gen_check(ok, error, name);
    gen_save_channel(dir, target, name, channel);
}

/* The RESULT replies a destination sends. */
static void
gen_results(const char *dir)
{
    static const struct {
        const char *name;
        FmResultStatus status;
        const char *message;
    } replies[] = {
        { "ok", FM_RESULT_OK, "" },
        { "protocol", FM_RESULT_PROTOCOL, "unknown record type 0x00000042 at offset 40" },
        { "limit", FM_RESULT_LIMIT, "the guest (8 pages of 512 bytes, at offset 24) exceeds the destination\xe2\x80\x99s memory limit" },
    };

    for (gsize i = 0; i < G_N_ELEMENTS(replies); i++) {
        g_autoptr(FmChannel) channel = fm_test_channel_from_bytes(NULL, 0);
        g_autoptr(GError) error = NULL;

        gen_check(fm_stream_write_result(channel, replies[i].status, replies[i].message,
                                         &error), error, replies[i].name);
        gen_save_channel(dir, "result", replies[i].name, channel);
    }
}

/* ---- Xen stream ---- */

/* Writes a Xen stream of a small guest of @type through the Xen sink: RAM pages in
 * two rounds, holes, the state records, for HVM the emulator records. */
static void
gen_xen(const char *dir, const char *name, FmXenGuestType type)
{
    g_autoptr(FmChannel) channel = fm_test_channel_from_bytes(NULL, 0);
    g_autoptr(FmSink) sink = NULL;
    g_autoptr(GError) error = NULL;
    guint8 cpuid[FM_XEN_CPUID_LEAF_SIZE] = { 0 };
    guint8 msr[FM_XEN_MSR_ENTRY_SIZE] = { 0 };
    guint8 tsc[FM_XEN_TSC_INFO_SIZE] = { 0 };
    guint8 hvm_context[40];
    guint8 hvm_params[8 + 2 * FM_XEN_HVM_PARAM_SIZE] = { 0 };
    static const char xenstore[] = "physmap/f0000000/start_addr\0f0000000\0";
    static const char context[] = "QEVM fake device model state";
    g_autofree guint8 *memory = g_malloc(3 * FM_XEN_PAGE_SIZE);
    guint64 pfns[3] = { 0, 1, 2 };
    guint64 holes[2] = { 3, 4 };
    guint8 hole_types[2] = { FM_XEN_PAGE_XTAB, FM_XEN_PAGE_XTAB };
    FmXenStreamInfo info = { 0 };
    gboolean ok;

    fm_put_le32(cpuid + 4, 0xffffffffu);
    fm_put_le32(cpuid + 8, 0xd);
    memcpy(cpuid + 12, "GenuineIntel", 12);
    fm_put_le32(msr, 0xce);
    fm_put_le32(tsc + 4, 2000000);
    fm_put_le64(tsc + 8, 1000000000);
    fm_put_le32(tsc + 16, 1);
    for (gsize i = 0; i < sizeof(hvm_context); i++)
        hvm_context[i] = (guint8)(i * 7 + 3);
    fm_put_le32(hvm_params, 2);
    fm_put_le64(hvm_params + 8, 1);
    fm_put_le64(hvm_params + 16, 0xfeffc);
    fm_put_le64(hvm_params + 24, 17);
    fm_put_le64(hvm_params + 32, 0xfefff);
    gen_fill(memory, 3, FM_XEN_PAGE_SIZE);

    info.guest_type = type;
    info.xen_major = 4;
    info.xen_minor = 17;
    info.cpuid_policy = cpuid;
    info.cpuid_policy_len = sizeof(cpuid);
    info.msr_policy = msr;
    info.msr_policy_len = sizeof(msr);
    info.emulator_id = type == FM_XEN_GUEST_HVM ? FM_XEN_EMULATOR_QEMU_UPSTREAM : 0;
    sink = fm_xen_sink_new(channel, &info);
    ok = fm_sink_begin(sink, 5, FM_XEN_PAGE_SIZE, &error) &&
        fm_sink_send_pages(sink, pfns, 3, memory, &error) &&
        fm_xen_sink_send_typed_pages(sink, holes, hole_types, 2, NULL, &error) &&
        fm_sink_flush(sink, &error) &&
        fm_sink_send_pages(sink, pfns + 1, 1, memory + FM_XEN_PAGE_SIZE, &error) &&
        fm_sink_send_record(sink, FM_XEN_LIBXC_REC_X86_TSC_INFO, tsc, sizeof(tsc), &error) &&
        fm_sink_send_record(sink, FM_XEN_LIBXC_REC_HVM_CONTEXT, hvm_context,
                            sizeof(hvm_context), &error) &&
        fm_sink_send_record(sink, FM_XEN_LIBXC_REC_HVM_PARAMS, hvm_params,
                            sizeof(hvm_params), &error);
    if (ok && type == FM_XEN_GUEST_HVM)
        ok = fm_xen_sink_set_emulator_state(sink, xenstore, sizeof(xenstore) - 1,
                                            context, sizeof(context), &error);
    ok = ok && fm_sink_finish(sink, &error);
    gen_check(ok, error, name);
    gen_save_channel(dir, "xen-stream", name, channel);
}

/* Writes what `xl migrate` sends around the stream: the header with a configuration,
 * then the handshake messages that follow the stream, in order. */
static void
gen_xl(const char *dir)
{
    g_autoptr(FmChannel) channel = fm_test_channel_from_bytes(NULL, 0);
    g_autoptr(GError) error = NULL;
    static const char config[] =
        "{\n    \"c_info\": {\n        \"type\": \"pvh\",\n        \"name\": \"guest\"\n    },\n"
        "    \"b_info\": {\n        \"max_memkb\": 131072\n    }\n}\n";

    gen_check(fm_xl_write_header(channel, config, &error) &&
              fm_xl_write_message(channel, FM_XL_MSG_READY, &error) &&
              fm_xl_write_message(channel, FM_XL_MSG_GO, &error) &&
              fm_xl_write_message(channel, FM_XL_MSG_REPORT, &error), error, "xl");
    gen_save_channel(dir, "xl", "header-and-messages", channel);
}

/* ---- traces ---- */

/* Writes a trace of a few intervals of assorted shapes. */
static void
gen_trace(const char *dir, const char *name, guint32 page_size, guint64 page_count,
          guint n_intervals)
{
    g_autoptr(FmTraceWriter) writer = NULL;
    g_autoptr(GBytes) bytes = NULL;
    g_autoptr(GError) error = NULL;
    gboolean ok = TRUE;

    writer = fm_trace_writer_new(NULL, page_size, page_count, &error);
    gen_check(writer != NULL, error, name);
    for (guint i = 0; ok && i < n_intervals; i++) {
        FmTraceRun runs[3] = {
            { i, 1 },
            { i + 10, 3 + i },
            { page_count - 2, 2 },
        };

        ok = fm_trace_writer_add_runs(writer, 1000000ull * (i + 1) + i * i, runs,
                                      i % 3 + 1, &error);
    }
    ok = ok && fm_trace_writer_finish(writer, &error);
    gen_check(ok, error, name);
    bytes = fm_trace_writer_steal_bytes(writer);
    gen_save(dir, "trace", name, g_bytes_get_data(bytes, NULL), g_bytes_get_size(bytes));
}

/* ---- guest memory ---- */

/* The region fuzz-guest.c adopts, in system pages. */
#define GEN_GUEST_PAGES 16

/* Writes the region of a new guest running @spec: its header page and, for a trace
 * workload, the trace's pages at the end; the pattern pages between are left zero
 * (nothing checks them), so that the seed compresses well in git. */
static void
gen_guest(const char *dir, const char *name, const FmWorkloadSpec *spec, guint threads)
{
    gsize page = (gsize)sysconf(_SC_PAGESIZE);
    gsize len = GEN_GUEST_PAGES * page;
    g_autoptr(FmGuest) guest = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree guint8 *copy = g_malloc0(len);
    const FmGuestHeader *header;

    guest = fm_guest_new(len, page, spec, threads, 7, &error);
    gen_check(guest != NULL, error, name);
    header = fm_guest_header(guest);
    memcpy(copy, fm_guest_region(guest), page);
    if (header->trace_page > 0)
        memcpy(copy + header->trace_page * page,
               (const guint8 *)fm_guest_region(guest) + header->trace_page * page,
               len - header->trace_page * page);
    /* fuzz-guest.c zero-fills the region beyond its input: no trace, one page */
    gen_save(dir, "guest", name, copy, header->trace_page > 0 ? len : page);
}

/* Seeds for every kind of guest header: plain models, phases, a trace. */
static void
gen_guests(const char *dir)
{
    FmWorkloadSpec idle = { .type = FM_WORKLOAD_IDLE, .rate = 4, .zipf_s = 1.0,
                            .region_size = 1.0 };
    FmWorkloadSpec web = { .type = FM_WORKLOAD_WEB, .rate = 500, .zipf_s = 1.2,
                           .region_start = 0.25, .region_size = 0.5 };
    FmWorkloadSpec steps[2] = {
        { .type = FM_WORKLOAD_SWEEP, .rate = 100, .region_size = 0.5, .duration = 0.5 },
        { .type = FM_WORKLOAD_DB, .rate = 50, .region_size = 0.1 },
    };
    FmWorkloadSpec phases = { .type = FM_WORKLOAD_PHASES, .n_phases = 2, .phases = steps,
                              .region_size = 1.0 };
    g_autoptr(FmTrace) trace = NULL;
    g_autoptr(GError) error = NULL;
    FmTraceRun runs[2] = { { 1, 2 }, { 5, 1 } };
    FmWorkloadSpec replay = { .type = FM_WORKLOAD_TRACE, .region_size = 1.0 };

    gen_guest(dir, "idle", &idle, 1);
    gen_guest(dir, "web", &web, 2);
    gen_guest(dir, "phases", &phases, 3);
    trace = fm_trace_new((guint32)sysconf(_SC_PAGESIZE), 8, &error);
    gen_check(trace != NULL, error, "trace guest");
    gen_check(fm_trace_append_runs(trace, 1000000, runs, 2, &error) &&
              fm_trace_append_runs(trace, 3000000, runs + 1, 1, &error), error,
              "trace guest");
    replay.trace = trace;
    replay.rate = fm_trace_mean_rate(trace);
    gen_guest(dir, "trace", &replay, 2);
}

/* ---- scenarios ---- */

static const struct {
    const char *name;
    const char *xml;
} gen_scenarios[] = {
    { "web.xml",
      "<?xml version=\"1.0\"?>\n"
      "<scenario name=\"web\">\n"
      "  <description>web server</description>\n"
      "  <guest memory=\"4GiB\" page-size=\"4096\" verify-rate=\"2GB/s\"/>\n"
      "  <link bandwidth=\"1Gbit\" latency=\"0.5ms\"/>\n"
      "  <workload type=\"web\" rate=\"25%\" zipf=\"1.2\" region-start=\"10%\" region-size=\"50%\"/>\n"
      "  <seed>42</seed>\n"
      "  <param name=\"hot_streak\" value=\"2\"/>\n"
      "  <param name=\"hot_ratio\" value=\"0.5\"/>\n"
      "</scenario>\n" },
    { "db.xml",
      "<scenario name=\"db\"><guest memory=\"16GiB\"/><link bandwidth=\"10Gbit\"/>"
      "<workload type=\"db\" rate=\"7600/s\" region-size=\"10%\"/></scenario>\n" },
    { "phases.xml",
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<!-- a comment -->\n"
      "<scenario name=\"phases\">\n"
      "  <guest memory=\"64MiB\" page-size=\"65536\"/>\n"
      "  <link bandwidth=\"100Mbit\" latency=\"1ms\"/>\n"
      "  <workload type=\"phases\">\n"
      "    <phase type=\"web\" rate=\"25%\" duration=\"0.3s\"/>\n"
      "    <phase type=\"sweep\" rate=\"120%\" region-size=\"50%\" duration=\"1.5s\"/>\n"
      "    <phase type=\"idle\"/>\n"
      "  </workload>\n"
      "</scenario>\n" },
    { "idle.xml",
      "<scenario name=\"idle\"><guest memory=\"1GB\" page-size=\"512\"/>"
      "<link bandwidth=\"1GB/s\"/><workload type=\"idle\"/></scenario>" },
};

int
main(int argc, char **argv)
{
    const char *dir;

    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    dir = argv[1];

    gen_native(dir, "stream", "valid", NULL);
    gen_native(dir, "stream", "aborted", "cancelled by the user");
    gen_native_sha(dir, "stream", "sha256-4k");
    gen_native(dir, "receiver", "valid", NULL);
    gen_native(dir, "receiver", "aborted", "cancelled by the user");
    gen_native_sha(dir, "receiver", "sha256-4k");
    gen_results(dir);
    gen_xen(dir, "hvm", FM_XEN_GUEST_HVM);
    gen_xen(dir, "pvh", FM_XEN_GUEST_PVH);
    gen_xl(dir);
    gen_guests(dir);
    gen_trace(dir, "small", 4096, 64, 5);
    gen_trace(dir, "large-guest", 65536, G_GUINT64_CONSTANT(1) << 32, 3);
    for (gsize i = 0; i < G_N_ELEMENTS(gen_scenarios); i++)
        gen_save(dir, "scenario", gen_scenarios[i].name, gen_scenarios[i].xml,
                 strlen(gen_scenarios[i].xml));
    return 0;
}
