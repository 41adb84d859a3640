/*
 * fm-receiver-memory.c: the memory a receiver fills (fm-receiver-memory.h).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "receiver/fm-receiver-memory.h"
#include "util/fm-error.h"
#include "util/fm-i18n.h"

/* The size of a PMD-mapped transparent huge page on x86-64 and arm64 (4 KiB
 * base pages): a region aligned to it can be backed by huge pages throughout. */
#define FM_RECEIVER_HUGE_ALIGN ((gsize)2 << 20)

struct _FmReceiverMemory {
    guint8 *region;            /* NULL once stolen */
    gsize len;
    gsize page_size;
    guint64 page_count;
    gboolean huge;
    guint64 *hashes;           /* fm_digest_page() of each page as it stands */
    guint64 zero_hash;         /* fm_digest_page() of a page of zeros */
};

/* Maps @len bytes of anonymous memory aligned to @align (a power of two multiple
 * of the system page), trimming the slack around it; returns MAP_FAILED with errno
 * set on failure. */
static guint8 *
fm_receiver_map_aligned(gsize len, gsize align)
{
    gsize span = len + align;
    guint8 *map;
    guint8 *start;
    gsize head;

    if (span < len) {
        errno = ENOMEM;
        return MAP_FAILED;
    }
    map = mmap(NULL, span, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (map == MAP_FAILED)
        return MAP_FAILED;
    start = (guint8 *)(((guintptr)map + align - 1) & ~((guintptr)align - 1));
    head = (gsize)(start - map);
    if (head > 0)
        munmap(map, head);
    munmap(start + len, span - head - len);
    return start;
}

/* Maps and places the memory; see fm-receiver-memory.h. */
FmReceiverMemory *
fm_receiver_memory_new(guint64 page_count, gsize page_size, FmReceiverPlacement placement,
                       GError **error)
{
    g_autoptr(FmReceiverMemory) mem = NULL;
    guint64 zero;
    gsize len;

    g_return_val_if_fail(page_size > 0 && page_count > 0, NULL);

    if (page_count > G_MAXSIZE / page_size ||
        page_count > G_MAXSIZE / sizeof(guint64)) {
        g_set_error(error, FM_ERROR, FM_ERROR_LIMIT,
                    _("cannot allocate %llu pages of %zu bytes for the incoming guest: too large for this host"),
                    (unsigned long long)page_count, page_size);
        return NULL;
    }
    len = (gsize)page_count * page_size;
    mem = g_new0(FmReceiverMemory, 1);
    mem->len = len;
    mem->page_size = page_size;
    mem->page_count = page_count;
    mem->region = fm_receiver_map_aligned(len, placement == FM_RECEIVER_PLACEMENT_HUGE
                                                   ? FM_RECEIVER_HUGE_ALIGN : page_size);
    if (mem->region == MAP_FAILED) {
        int err = errno;

        mem->region = NULL;
        g_set_error(error, FM_ERROR, FM_ERROR_LIMIT,
                    _("cannot allocate %zu bytes for the incoming guest: %s"),
                    len, g_strerror(err));
        return NULL;
    }
    switch (placement) {
    case FM_RECEIVER_PLACEMENT_HUGE:
        /* EINVAL without CONFIG_TRANSPARENT_HUGEPAGE; with THP "never" the kernel
         * takes the advice and gives small pages: both are the small-page case */
        mem->huge = madvise(mem->region, len, MADV_HUGEPAGE) == 0;
        if (!mem->huge)
            g_debug("no huge pages for the incoming guest (%s): small pages",
                    g_strerror(errno));
        break;
    case FM_RECEIVER_PLACEMENT_SMALL:
        (void) madvise(mem->region, len, MADV_NOHUGEPAGE);
        break;
    case FM_RECEIVER_PLACEMENT_POPULATED:
        (void) madvise(mem->region, len, MADV_NOHUGEPAGE);
        /* MADV_POPULATE_WRITE is Linux >= 5.14; touching every page does the same */
        if (madvise(mem->region, len, MADV_POPULATE_WRITE) != 0) {
            for (gsize off = 0; off < len; off += page_size)
                mem->region[off] = 0;
        }
        break;
    }

    mem->hashes = g_try_new(guint64, page_count);
    if (mem->hashes == NULL) {
        g_set_error(error, FM_ERROR, FM_ERROR_LIMIT,
                    _("cannot allocate the page hashes of %llu pages for the incoming guest"),
                    (unsigned long long)page_count);
        return NULL;
    }
    /* fresh memory is zeros until a page is stored */
    {
        g_autofree guint8 *zeros = g_malloc0(page_size);

        zero = fm_digest_page(zeros, page_size);
    }
    for (guint64 i = 0; i < page_count; i++)
        mem->hashes[i] = zero;
    mem->zero_hash = zero;
    return g_steal_pointer(&mem);
}

/* Unmaps (unless stolen) and frees. */
void
fm_receiver_memory_free(FmReceiverMemory *mem)
{
    if (mem == NULL)
        return;
    if (mem->region)
        munmap(mem->region, mem->len);
    g_free(mem->hashes);
    g_free(mem);
}

/* Returns the region (owned by @mem). */
guint8 *
fm_receiver_memory_get_region(const FmReceiverMemory *mem)
{
    g_return_val_if_fail(mem != NULL, NULL);
    return mem->region;
}

/* Returns the length in bytes. */
gsize
fm_receiver_memory_get_len(const FmReceiverMemory *mem)
{
    g_return_val_if_fail(mem != NULL, 0);
    return mem->len;
}

/* Returns whether huge pages were granted. */
gboolean
fm_receiver_memory_is_huge(const FmReceiverMemory *mem)
{
    g_return_val_if_fail(mem != NULL, FALSE);
    return mem->huge;
}

/* Copies (unless already in place) and hashes the pages of @pd. */
void
fm_receiver_memory_store(FmReceiverMemory *mem, const FmPageData *pd)
{
    g_return_if_fail(mem != NULL && mem->region != NULL && pd != NULL);

    for (guint32 i = 0; i < pd->count; i++) {
        guint64 pfn = fm_page_data_get_pfn(pd, i);
        guint8 *page = mem->region + pfn * mem->page_size;

        g_return_if_fail(pfn < mem->page_count);
        if (pd->data != NULL)
            memcpy(page, pd->data + (gsize)i * mem->page_size, mem->page_size);
        /* the page was just written: it is still in the cache */
        mem->hashes[pfn] = fm_digest_page(page, mem->page_size);
    }
}

/* Zeroes the pages of @pd that are not zeros already. */
void
fm_receiver_memory_store_zeros(FmReceiverMemory *mem, const FmPageData *pd)
{
    g_return_if_fail(mem != NULL && mem->region != NULL && pd != NULL);

    for (guint32 i = 0; i < pd->count; i++) {
        guint64 pfn = fm_page_data_get_pfn(pd, i);

        g_return_if_fail(pfn < mem->page_count);
        /* a page whose hash is that of zeros is zeros (or a 2^-64 accident) */
        if (mem->hashes[pfn] != mem->zero_hash) {
            memset(mem->region + pfn * mem->page_size, 0, mem->page_size);
            mem->hashes[pfn] = mem->zero_hash;
        }
    }
}

/* Digests the page hashes. */
void
fm_receiver_memory_page_digest(const FmReceiverMemory *mem, guint8 out[FM_DIGEST_SIZE])
{
    g_return_if_fail(mem != NULL && out != NULL);
    fm_digest_page_table(mem->hashes, mem->page_count, out);
}

/* Hands the region to the caller. */
guint8 *
fm_receiver_memory_steal(FmReceiverMemory *mem, gsize *len)
{
    g_return_val_if_fail(mem != NULL && len != NULL, NULL);
    *len = mem->len;
    return g_steal_pointer(&mem->region);
}
