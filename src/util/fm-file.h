/*
 * fm-file.h: opening the files a command reads (scenarios, traces, run records,
 * suites), refusing what is not a regular file.  A FIFO given as an input would
 * block the open, and then the read, for ever; a device or a directory is never
 * what was meant.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Opens @path for reading without blocking on a FIFO, and keeps it only if it is a
 * regular file.  Returns the descriptor (blocking, close-on-exec; caller closes), or
 * -1 with @error set (FM_ERROR_IO, naming @path, and for a non-regular file what it
 * is: "PATH is a FIFO, not a regular file: refused"). */
int fm_file_open_regular(const char *path, GError **error);
/* The same with messages that do not name @path ("cannot open: ...", "it is a FIFO,
 * not a regular file: refused"), for a caller that prefixes it. */
int fm_file_open_regular_unnamed(const char *path, GError **error);

/* Reads the regular file @path whole, at most @max_bytes (else FM_ERROR_IO "too
 * large"), into *@contents (NUL-terminated; caller frees) and *@len.  Returns TRUE,
 * or FALSE with @error set as fm_file_open_regular() does. */
gboolean fm_file_get_contents(const char *path, gsize max_bytes, char **contents,
                              gsize *len, GError **error);

G_END_DECLS
