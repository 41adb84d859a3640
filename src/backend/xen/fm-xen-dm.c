/*
 * fm-xen-dm.c: the saved state and xenstore keys of an HVM guest's device model.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "backend/xen/fm-xen-dm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>
#include <string.h>
#include <glib/gstdio.h>
#include <xenstore.h>

#include "util/fm-error.h"
#include "util/fm-i18n.h"

/* libxl's LIBXL_DEVICE_MODEL_SAVE_FILE (XEN_LIB_DIR "/qemu-save", /var/lib/xen in
 * Debian's and Xen's default build), not exported by libxl. */
#define FM_XEN_DM_SAVE_FILE "/var/lib/xen/qemu-save"
/* The QMP socket libxl starts QEMU with (LIBXL_RUN_DIR "/qmp-libxl-%d"). */
#define FM_XEN_DM_QMP_SOCKET "/var/run/xen/qmp-libxl-%u"
/* Longest wait for one QMP answer: a device state is small (~100 KiB). */
#define FM_XEN_DM_QMP_TIMEOUT_S 30

/* Returns the path of the saved state; see fm-xen-dm.h. */
char *
fm_xen_dm_save_path(guint32 domid)
{
    return g_strdup_printf("%s.%u", FM_XEN_DM_SAVE_FILE, domid);
}

/* Removes an old saved state; see fm-xen-dm.h. */
gboolean
fm_xen_dm_discard_state(guint32 domid, GError **error)
{
    g_autofree char *path = fm_xen_dm_save_path(domid);

    if (g_unlink(path) < 0 && errno != ENOENT) {
        int err = errno;

        g_set_error(error, FM_ERROR, FM_ERROR_IO,
                    _("cannot remove the old device model state %s: %s"), path,
                    g_strerror(err));
        return FALSE;
    }
    return TRUE;
}

/* Returns the device state QEMU saved into @path, which is removed, or NULL with
 * @error (FM_ERROR_IO: not there, FM_ERROR_FAILED: empty). */
static GBytes *
fm_xen_dm_take_file(guint32 domid, const char *path, GError **error)
{
    g_autoptr(GError) local = NULL;
    char *data = NULL;
    gsize len = 0;

    if (!g_file_get_contents(path, &data, &len, &local)) {
        g_set_error(error, FM_ERROR, FM_ERROR_IO,
                    _("domain %u: the device model did not save its state: %s"), domid,
                    local->message);
        return NULL;
    }
    (void)g_unlink(path);
    if (len == 0) {
        g_free(data);
        g_set_error(error, FM_ERROR, FM_ERROR_FAILED,
                    _("domain %u: the device model saved an empty state (%s)"), domid,
                    path);
        return NULL;
    }
    return g_bytes_new_take(data, len);
}

/* Reads and removes the saved state; see fm-xen-dm.h. */
GBytes *
fm_xen_dm_read_state(guint32 domid, GError **error)
{
    g_autofree char *path = fm_xen_dm_save_path(domid);

    return fm_xen_dm_take_file(domid, path, error);
}


/* Reads QMP lines from @in until the answer to the last command ("return" or
 * "error"; events are skipped).  Returns TRUE for "return", else FALSE with
 * @error naming @what. */
static gboolean
fm_xen_dm_qmp_answer(FILE *in, guint32 domid, const char *what, GError **error)
{
    char line[4096];

    while (fgets(line, sizeof(line), in) != NULL) {
        if (strstr(line, "\"return\"") != NULL)
            return TRUE;
        if (strstr(line, "\"error\"") != NULL) {
            g_strchomp(line);
            g_set_error(error, FM_ERROR, FM_ERROR_IO,
                        _("domain %u: the device model refused %s: %s"), domid, what, line);
            return FALSE;
        }
    }
    g_set_error(error, FM_ERROR, FM_ERROR_IO,
                _("domain %u: no answer from the device model to %s: %s"), domid, what,
                ferror(in) ? g_strerror(errno) : _("connection closed"));
    return FALSE;
}

/* Sends one QMP command @json on @fd and waits for its answer on @in. */
static gboolean
fm_xen_dm_qmp(int fd, FILE *in, guint32 domid, const char *what, const char *json,
              GError **error)
{
    g_autofree char *msg = g_strconcat(json, "\r\n", NULL);
    gsize len = strlen(msg);

    if (write(fd, msg, len) != (ssize_t)len) {
        g_set_error(error, FM_ERROR, FM_ERROR_IO,
                    _("domain %u: cannot send %s to the device model: %s"), domid, what,
                    g_strerror(errno));
        return FALSE;
    }
    return fm_xen_dm_qmp_answer(in, domid, what, error);
}

/* Saves the device state again, live; see fm-xen-dm.h. */
GBytes *
fm_xen_dm_save_live(guint32 domid, GError **error)
{
    g_autofree char *path = g_strdup_printf("%s.%u.live", FM_XEN_DM_SAVE_FILE, domid);
    g_autofree char *cmd = NULL;
    g_autofree char *quoted = g_strescape(path, NULL);
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    struct timeval tv = { .tv_sec = FM_XEN_DM_QMP_TIMEOUT_S };
    FILE *in = NULL;
    gboolean ok;
    int fd;

    g_snprintf(sun.sun_path, sizeof(sun.sun_path), FM_XEN_DM_QMP_SOCKET, domid);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
        connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
        (in = fdopen(dup(fd), "r")) == NULL) {
        g_set_error(error, FM_ERROR, FM_ERROR_IO,
                    _("domain %u: cannot reach the device model at %s: %s"), domid,
                    sun.sun_path, g_strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    cmd = g_strdup_printf("{\"execute\": \"xen-save-devices-state\", \"arguments\": "
                          "{\"filename\": \"%s\", \"live\": true}}", quoted);
    /* The greeting carries "QMP", not "return": read it as one line. */
    ok = fgets((char[4096]){ 0 }, 4096, in) != NULL &&
        fm_xen_dm_qmp(fd, in, domid, "qmp_capabilities",
                      "{\"execute\": \"qmp_capabilities\"}", error) &&
        fm_xen_dm_qmp(fd, in, domid, "xen-save-devices-state", cmd, error);
    if (!ok && error != NULL && *error == NULL)
        g_set_error(error, FM_ERROR, FM_ERROR_IO,
                    _("domain %u: no greeting from the device model"), domid);
    fclose(in);
    close(fd);
    if (!ok) {
        (void)g_unlink(path);
        return NULL;
    }
    return fm_xen_dm_take_file(domid, path, error);
}

/* Appends @s and its NUL to @buf. */
static void
fm_xen_dm_append(GByteArray *buf, const char *s)
{
    g_byte_array_append(buf, (const guint8 *)s, strlen(s) + 1);
}

/* Reads the physmap keys; see fm-xen-dm.h.  The keys are those libxl's save
 * copies (libxl__save_emulator_xenstore_data), relative to the device model's
 * directory, which the destination's libxl writes back under its own. */
GBytes *
fm_xen_dm_read_xenstore(guint32 domid, GError **error)
{
    static const char *const subkeys[] = { "start_addr", "size", "name" };
    g_autofree char *root = g_strdup_printf("/local/domain/0/device-model/%u", domid);
    g_autofree char *dir = g_strconcat(root, "/physmap", NULL);
    g_autoptr(GByteArray) buf = g_byte_array_new();
    struct xs_handle *xsh;
    char **entries;
    unsigned int n = 0;
    gboolean ok = TRUE;

    xsh = xs_open(XS_OPEN_READONLY);
    if (xsh == NULL) {
        g_set_error(error, FM_ERROR, FM_ERROR_IO, _("cannot open xenstore: %s"),
                    g_strerror(errno));
        return NULL;
    }
    entries = xs_directory(xsh, XBT_NULL, dir, &n);
    if (entries == NULL && errno != ENOENT) {
        g_set_error(error, FM_ERROR, FM_ERROR_IO,
                    _("domain %u: cannot list the device model's xenstore directory %s: %s"),
                    domid, dir, g_strerror(errno));
        ok = FALSE;
    }
    for (unsigned int i = 0; ok && entries != NULL && i < n; i++) {
        for (gsize j = 0; j < G_N_ELEMENTS(subkeys); j++) {
            g_autofree char *key = g_strdup_printf("physmap/%s/%s", entries[i], subkeys[j]);
            g_autofree char *path = g_strconcat(root, "/", key, NULL);
            unsigned int len = 0;
            char *value = xs_read(xsh, XBT_NULL, path, &len);

            if (value == NULL) {
                g_set_error(error, FM_ERROR, FM_ERROR_IO,
                            _("domain %u: cannot read the device model's xenstore key %s: %s"),
                            domid, path, g_strerror(errno));
                ok = FALSE;
                break;
            }
            fm_xen_dm_append(buf, key);
            fm_xen_dm_append(buf, value);
            free(value);
        }
    }
    free(entries);
    xs_close(xsh);
    if (!ok)
        return NULL;
    return g_byte_array_free_to_bytes(g_steal_pointer(&buf));
}
