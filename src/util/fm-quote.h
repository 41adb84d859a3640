/*
 * fm-quote.h: input bytes as they may appear in a message.
 *
 * Messages quote what they refuse: a file name, an element or attribute name, a
 * value, a field of a stream.  That input is hostile and may be anything: bytes
 * that are not UTF-8, control characters, an empty string, a megabyte.  GError
 * messages must be valid UTF-8 (GLib and every caller assume it), and a message
 * must stay readable.  These two functions are the one way input enters a
 * message; with them, a message is valid UTF-8 and names its place by
 * construction, whatever the input.
 *
 * What they write: printable characters of valid UTF-8 as they are; tab, newline
 * and carriage return as \t, \n, \r; a backslash as \\ (and, between quotes, a
 * quote as \'); any other control character and every byte that does not start a
 * valid UTF-8 sequence (overlong forms, surrogates and truncated sequences
 * included) as \xHH; a character that is not printable or separates lines as
 * \u{HHHH}.  Input beyond about FM_QUOTE_MAX_BYTES of output is cut (at a
 * character) and "..." shows the cut.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The longest rendering of one piece of input, in bytes, before "..." (and the
 * quotes). */
#define FM_QUOTE_MAX_BYTES 1024

/* Returns @text in single quotes, escaped as above: 'abc', '\xff', '' for an
 * empty @text.  @len is the number of bytes, or -1 for a NUL-terminated @text;
 * NULL is taken as empty.  Never empty; the caller frees the result. */
char *fm_quote(const char *text, gssize len);

/* As fm_quote() without the quotes, for input that a message places itself: a
 * path ("PATH:LINE: ..."), an element name ("<NAME>"), a message of another
 * library that may copy input.  An empty or NULL @text comes out as '' so that
 * its place stays visible.  Never empty; the caller frees the result. */
char *fm_utf8_safe(const char *text, gssize len);

G_END_DECLS
