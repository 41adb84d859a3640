/*
 * fm-quote.c: input bytes as they may appear in a message (see fm-quote.h).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>
#include "util/fm-quote.h"

#include <string.h>

/* Appends the escaped form of the @len bytes at @text to @out (see fm-quote.h);
 * @quoted escapes single quotes as well.  Stops with "..." once the rendering
 * passes FM_QUOTE_MAX_BYTES. */
static void
fm_quote_append(GString *out, const char *text, gsize len, gboolean quoted)
{
    const char *p = text;
    const char *end = text + len;
    gsize start = out->len;

    while (p < end) {
        gunichar c;
        GUnicodeType type;

        if (out->len - start >= FM_QUOTE_MAX_BYTES) {
            g_string_append(out, "...");
            return;
        }
        c = g_utf8_get_char_validated(p, end - p);
        if (c == (gunichar)-1 || c == (gunichar)-2) {
            /* not the start of a valid sequence: this byte alone, then resync */
            g_string_append_printf(out, "\\x%02X", (guint)(guchar)*p);
            p++;
            continue;
        }
        switch (c) {
        case '\\':
            g_string_append(out, "\\\\");
            break;
        case '\'':
            g_string_append(out, quoted ? "\\'" : "'");
            break;
        case '\t':
            g_string_append(out, "\\t");
            break;
        case '\n':
            g_string_append(out, "\\n");
            break;
        case '\r':
            g_string_append(out, "\\r");
            break;
        default:
            type = g_unichar_type(c);
            if (c < 0x20 || c == 0x7f)
                g_string_append_printf(out, "\\x%02X", (guint)c);
            else if (!g_unichar_isprint(c) || type == G_UNICODE_LINE_SEPARATOR ||
                     type == G_UNICODE_PARAGRAPH_SEPARATOR)
                g_string_append_printf(out, "\\u{%04X}", (guint)c);
            else
                g_string_append_len(out, p, g_utf8_next_char(p) - p);
            break;
        }
        p = g_utf8_next_char(p);
    }
}

/* Returns the length of @text for fm_quote() and fm_utf8_safe(): @len, or up to
 * the NUL when @len is negative; 0 for NULL. */
static gsize
fm_quote_len(const char *text, gssize len)
{
    if (text == NULL)
        return 0;
    return len < 0 ? strlen(text) : (gsize)len;
}

/* Returns @text quoted and escaped (see fm-quote.h); caller frees. */
char *
fm_quote(const char *text, gssize len)
{
    gsize n = fm_quote_len(text, len);
    GString *out = g_string_sized_new(MIN(n, FM_QUOTE_MAX_BYTES) + 8);

    g_string_append_c(out, '\'');
    if (n > 0)
        fm_quote_append(out, text, n, TRUE);
    g_string_append_c(out, '\'');
    return g_string_free(out, FALSE);
}

/* Returns @text escaped, without quotes, '' when empty (see fm-quote.h); caller
 * frees. */
char *
fm_utf8_safe(const char *text, gssize len)
{
    gsize n = fm_quote_len(text, len);
    GString *out;

    if (n == 0)
        return g_strdup("''");
    out = g_string_sized_new(MIN(n, FM_QUOTE_MAX_BYTES) + 8);
    fm_quote_append(out, text, n, FALSE);
    return g_string_free(out, FALSE);
}
