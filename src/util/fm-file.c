/*
 * fm-file.c: opening the files a command reads, regular files only.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fm-file.h"
#include "util/fm-error.h"
#include "util/fm-i18n.h"
#include "util/fm-quote.h"

/* Returns what the file of mode @mode is, for a message (static, translated). */
static const char *
fm_file_kind(mode_t mode)
{
    if (S_ISFIFO(mode))
        return _("a FIFO");
    if (S_ISDIR(mode))
        return _("a directory");
    if (S_ISCHR(mode) || S_ISBLK(mode))
        return _("a device");
    if (S_ISSOCK(mode))
        return _("a socket");
    return _("not a plain file");
}

/* Opens the regular file @path; the messages name it if @name_path. */
static int
fm_file_open(const char *path, gboolean name_path, GError **error)
{
    g_autofree char *where = NULL;
    struct stat st;
    int fd, flags;

    g_return_val_if_fail(path != NULL, -1);

    /* O_NONBLOCK: opening a FIFO with no writer returns at once instead of waiting */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        int saved = errno;

        if (!name_path) {
            g_set_error(error, FM_ERROR, FM_ERROR_IO, _("cannot open: %s"), g_strerror(saved));
            return -1;
        }
        where = fm_utf8_safe(path, -1);
        g_set_error(error, FM_ERROR, FM_ERROR_IO, _("cannot open %s: %s"), where,
                    g_strerror(saved));
        return -1;
    }
    if (fstat(fd, &st) < 0) {
        int saved = errno;

        close(fd);
        where = fm_utf8_safe(path, -1);
        g_set_error(error, FM_ERROR, FM_ERROR_IO, _("cannot open %s: %s"), where,
                    g_strerror(saved));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        if (!name_path) {
            g_set_error(error, FM_ERROR, FM_ERROR_IO, _("it is %s, not a regular file: refused"),
                        fm_file_kind(st.st_mode));
            return -1;
        }
        where = fm_utf8_safe(path, -1);
        g_set_error(error, FM_ERROR, FM_ERROR_IO, _("%s is %s, not a regular file: refused"),
                    where, fm_file_kind(st.st_mode));
        return -1;
    }
    flags = fcntl(fd, F_GETFL);
    if (flags >= 0)
        (void)fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    return fd;
}

/* Opens the regular file @path; see fm-file.h. */
int
fm_file_open_regular(const char *path, GError **error)
{
    return fm_file_open(path, TRUE, error);
}

/* The same, with messages that do not name @path; see fm-file.h. */
int
fm_file_open_regular_unnamed(const char *path, GError **error)
{
    return fm_file_open(path, FALSE, error);
}

/* Reads the regular file @path whole; see fm-file.h. */
gboolean
fm_file_get_contents(const char *path, gsize max_bytes, char **contents, gsize *len,
                     GError **error)
{
    g_autofree char *buf = NULL;
    g_autofree char *where = NULL;
    gsize size = 0;
    int fd = fm_file_open_regular(path, error);

    if (fd < 0)
        return FALSE;
    /* one byte beyond the cap tells a file at the cap from a larger one */
    buf = g_malloc(max_bytes + 2);
    while (size <= max_bytes) {
        ssize_t n = read(fd, buf + size, max_bytes + 1 - size);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int saved = errno;

            close(fd);
            where = fm_utf8_safe(path, -1);
            g_set_error(error, FM_ERROR, FM_ERROR_IO, _("cannot read %s: %s"), where,
                        g_strerror(saved));
            return FALSE;
        }
        if (n == 0)
            break;
        size += (gsize)n;
    }
    close(fd);
    if (size > max_bytes) {
        where = fm_utf8_safe(path, -1);
        g_set_error(error, FM_ERROR, FM_ERROR_IO, _("%s is too large (more than %zu bytes)"),
                    where, max_bytes);
        return FALSE;
    }
    buf[size] = '\0';
    *contents = g_steal_pointer(&buf);
    *len = size;
    return TRUE;
}
