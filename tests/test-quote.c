/*
 * test-quote.c: tests of fm-quote (input bytes as they may appear in a message).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>
#include "util/fm-quote.h"

#include <string.h>

typedef struct {
    const char *text;   /* input */
    gssize len;         /* its length, -1: up to the NUL */
    const char *quoted; /* what fm_quote() must return */
    const char *safe;   /* what fm_utf8_safe() must return */
} QuoteCase;

static const QuoteCase quote_cases[] = {
    { "abc", -1, "'abc'", "abc" },
    { "", -1, "''", "''" },
    { NULL, -1, "''", "''" },
    { "4 GiB", -1, "'4 GiB'", "4 GiB" },
    /* valid UTF-8 stays as it is */
    { "d\xc3\xa9j\xc3\xa0 \xe2\x82\xac \xf0\x9f\x98\x80", -1,
      "'d\xc3\xa9j\xc3\xa0 \xe2\x82\xac \xf0\x9f\x98\x80'",
      "d\xc3\xa9j\xc3\xa0 \xe2\x82\xac \xf0\x9f\x98\x80" },
    /* bytes that are not UTF-8: each alone, then resync */
    { "\xff", -1, "'\\xFF'", "\\xFF" },
    { "a\xc3(b", -1, "'a\\xC3(b'", "a\\xC3(b" },
    { "\xc0\xaf", -1, "'\\xC0\\xAF'", "\\xC0\\xAF" },              /* overlong '/' */
    { "\xed\xa0\x80", -1, "'\\xED\\xA0\\x80'", "\\xED\\xA0\\x80" }, /* surrogate */
    { "\xf4\x90\x80\x80", -1, "'\\xF4\\x90\\x80\\x80'", "\\xF4\\x90\\x80\\x80" },
    { "ab\xe2\x82", -1, "'ab\\xE2\\x82'", "ab\\xE2\\x82" },         /* cut short */
    /* @len counts bytes: a NUL inside is a control character */
    { "a\0b", 3, "'a\\x00b'", "a\\x00b" },
    { "abc", 2, "'ab'", "ab" },
    { "abc", 0, "''", "''" },
    /* one line, escapes that cannot be confused with the text */
    { "a\nb\tc\rd", -1, "'a\\nb\\tc\\rd'", "a\\nb\\tc\\rd" },
    { "\x1b[31m\x7f", -1, "'\\x1B[31m\\x7F'", "\\x1B[31m\\x7F" },
    { "back\\slash", -1, "'back\\\\slash'", "back\\\\slash" },
    { "it's", -1, "'it\\'s'", "it's" },
    /* C1 controls, bidi overrides, line separators */
    { "\xc2\x85", -1, "'\\u{0085}'", "\\u{0085}" },
    { "\xe2\x80\xae", -1, "'\\u{202E}'", "\\u{202E}" },
    { "\xe2\x80\xa8", -1, "'\\u{2028}'", "\\u{2028}" },
};

/* Every case gives exactly the expected text, which is valid UTF-8. */
static void
test_quote_cases(void)
{
    for (gsize i = 0; i < G_N_ELEMENTS(quote_cases); i++) {
        const QuoteCase *c = &quote_cases[i];
        g_autofree char *quoted = fm_quote(c->text, c->len);
        g_autofree char *safe = fm_utf8_safe(c->text, c->len);

        g_test_message("case %" G_GSIZE_FORMAT, i);
        g_assert_cmpstr(quoted, ==, c->quoted);
        g_assert_cmpstr(safe, ==, c->safe);
        g_assert_true(g_utf8_validate(quoted, -1, NULL));
        g_assert_true(g_utf8_validate(safe, -1, NULL));
    }
}

/* Long input is cut at a character, with "...", whatever the characters. */
static void
test_quote_bound(void)
{
    const char *pieces[] = { "a", "\xc3\xa9", "\xf0\x9f\x98\x80", "\xff", "\n" };

    for (gsize k = 0; k < G_N_ELEMENTS(pieces); k++) {
        g_autoptr(GString) in = g_string_new(NULL);
        g_autofree char *quoted = NULL;
        g_autofree char *safe = NULL;

        for (int i = 0; i < 10000; i++)
            g_string_append(in, pieces[k]);
        quoted = fm_quote(in->str, in->len);
        safe = fm_utf8_safe(in->str, in->len);
        g_assert_true(g_utf8_validate(quoted, -1, NULL));
        g_assert_true(g_utf8_validate(safe, -1, NULL));
        g_assert_true(g_str_has_suffix(quoted, "...'"));
        g_assert_true(g_str_has_suffix(safe, "..."));
        /* at most one escape (4 bytes) or character (4 bytes) beyond the bound */
        g_assert_cmpuint(strlen(safe), <=, FM_QUOTE_MAX_BYTES + 5 + 3);
        g_assert_cmpuint(strlen(safe), >=, FM_QUOTE_MAX_BYTES);
        g_assert_cmpuint(strlen(quoted), ==, strlen(safe) + 2);
    }
}

/* Every byte string of up to 3 bytes comes out valid UTF-8 and never empty. */
static void
test_quote_all_short(void)
{
    for (guint32 v = 0; v < (1u << 24); v += 131) {
        char buf[3] = { (char)(v >> 16), (char)(v >> 8), (char)v };

        for (gssize len = 1; len <= 3; len++) {
            g_autofree char *quoted = fm_quote(buf, len);
            g_autofree char *safe = fm_utf8_safe(buf, len);

            if (!g_utf8_validate(quoted, -1, NULL) || !g_utf8_validate(safe, -1, NULL) ||
                safe[0] == '\0' || strlen(quoted) < 3)
                g_error("bad rendering of %06x (%d bytes): %s", v, (int)len, safe);
        }
    }
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    g_test_add_func("/quote/cases", test_quote_cases);
    g_test_add_func("/quote/bound", test_quote_bound);
    g_test_add_func("/quote/all-short", test_quote_all_short);

    return g_test_run();
}
