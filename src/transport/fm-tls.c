/*
 * fm-tls.c: TLS (GnuTLS, x509, mutual verification) as a layer of an FmChannel.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "transport/fm-tls.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#ifdef WITH_TLS
# include <gnutls/gnutls.h>
# include <gnutls/x509.h>
#endif

#include "transport/fm-dn.h"
#include "util/fm-error.h"
#include "util/fm-i18n.h"

/* Returns the host of "tcp://HOST:PORT" (brackets of an IPv6 address removed). */
char *
fm_tls_hostname_from_address(const char *address)
{
    const char *rest;
    const char *end;

    g_return_val_if_fail(address != NULL, NULL);
    if (!g_str_has_prefix(address, "tcp://"))
        return NULL;
    rest = address + strlen("tcp://");
    if (rest[0] == '[') {
        end = strchr(rest, ']');
        if (end == NULL || end == rest + 1)
            return NULL;
        return g_strndup(rest + 1, end - rest - 1);
    }
    end = strrchr(rest, ':');
    if (end == NULL)
        end = rest + strlen(rest);
    if (end == rest)
        return NULL;
    return g_strndup(rest, end - rest);
}

#ifdef WITH_TLS

/* The byte a server sends once it accepted the client's certificate. */
#define FM_TLS_ACCEPTED 0x01
/* First byte of a TLS record carrying an alert or a handshake message: anything
 * else first means the peer does not speak TLS. */
#define FM_TLS_CONTENT_ALERT     0x15
#define FM_TLS_CONTENT_HANDSHAKE 0x16
/* Below this, a writev is gathered into one record (gnutls_record_cork) rather
 * than sent as one record per buffer. */
#define FM_TLS_CORK_MAX (64 * 1024)

struct _FmTlsCreds {
    FmTlsRole role;
    gnutls_certificate_credentials_t x509;
    char *ca_path;             /* for messages */
    GPtrArray *allowed_dns;    /* server: FmDnPattern; NULL = any DN the CA signed */
    double handshake_timeout;
};

/* One session on one channel: the channel's layer once the handshake succeeded. */
typedef struct {
    gnutls_session_t session;
    FmChannel *channel;        /* borrowed: the channel owns us */
    const FmTlsCreds *creds;
    char *hostname;            /* client: the name the server's certificate must carry */
    char *peer_dn;             /* the peer certificate's DN, once verified */

    /* during the handshake */
    double handshake_bound;    /* seconds */
    gint64 deadline;           /* monotonic µs; 0 once the handshake is over */
    gboolean seen_first_byte;
    gboolean peer_not_tls;     /* the peer's first byte was no TLS record */
    gboolean timed_out;
    GError *verify_error;      /* why our verification callback refused the peer */

    GError *io_error;          /* why the last push/pull failed */
} FmTlsLayer;

/* Returns TRUE: this build has GnuTLS. */
gboolean
fm_tls_available(void)
{
    return TRUE;
}

/* Frees @tls (the session too); NULL ok. */
static void
fm_tls_layer_free(FmTlsLayer *tls)
{
    if (tls == NULL)
        return;
    if (tls->session != NULL)
        gnutls_deinit(tls->session);
    g_free(tls->hostname);
    g_free(tls->peer_dn);
    g_clear_error(&tls->verify_error);
    g_clear_error(&tls->io_error);
    g_free(tls);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FmTlsLayer, fm_tls_layer_free)

/* Keeps the first error of the push/pull functions for the caller of gnutls. */
static void
fm_tls_keep_io_error(FmTlsLayer *tls, GError *error)
{
    if (tls->io_error == NULL)
        tls->io_error = error;
    else
        g_error_free(error);
}

/* Waits until the descriptor is readable, at most @ms (< 0: the handshake's
 * deadline, or for ever after it).  Returns > 0 if readable, 0 on timeout, -1 on
 * error. */
static int
fm_tls_wait_readable(FmTlsLayer *tls, int ms)
{
    struct pollfd pfd = { .fd = fm_channel_get_fd(tls->channel), .events = POLLIN };

    for (;;) {
        int wait_ms = ms;
        int r;

        if (tls->deadline > 0) {
            gint64 left = tls->deadline - g_get_monotonic_time();
            int left_ms = left <= 0 ? 0 : (int)MIN((left + 999) / 1000, (gint64)G_MAXINT);

            wait_ms = wait_ms < 0 ? left_ms : MIN(wait_ms, left_ms);
            if (left <= 0) {
                tls->timed_out = TRUE;
                return 0;
            }
        }
        r = poll(&pfd, 1, wait_ms);
        if (r >= 0 || errno != EINTR) {
            if (r == 0 && tls->deadline > 0 && g_get_monotonic_time() >= tls->deadline)
                tls->timed_out = TRUE;
            return r;
        }
    }
}

/* gnutls pull function: reads from the channel's descriptor.  During the
 * handshake the wait is bounded by the handshake's deadline, and the first byte
 * tells whether the peer speaks TLS at all. */
static ssize_t
fm_tls_pull(gnutls_transport_ptr_t ptr, void *buf, size_t len)
{
    FmTlsLayer *tls = ptr;
    GError *error = NULL;
    gssize r;

    if (tls->deadline > 0) {
        int w = fm_tls_wait_readable(tls, -1);

        if (w <= 0) {
            gnutls_transport_set_errno(tls->session, w == 0 ? ETIMEDOUT : errno);
            return -1;
        }
    }
    r = fm_channel_raw_read(tls->channel, buf, len, &error);
    if (r < 0) {
        fm_tls_keep_io_error(tls, error);
        gnutls_transport_set_errno(tls->session, EIO);
        return -1;
    }
    if (r > 0 && !tls->seen_first_byte) {
        guint8 first = ((const guint8 *)buf)[0];

        tls->seen_first_byte = TRUE;
        tls->peer_not_tls = first != FM_TLS_CONTENT_HANDSHAKE &&
                            first != FM_TLS_CONTENT_ALERT;
    }
    return r;
}

/* gnutls pull-timeout function: waits at most @ms for input. */
static int
fm_tls_pull_timeout(gnutls_transport_ptr_t ptr, unsigned int ms)
{
    FmTlsLayer *tls = ptr;

    return fm_tls_wait_readable(tls, ms == GNUTLS_INDEFINITE_TIMEOUT ? -1
                                     : (int)MIN(ms, (unsigned)G_MAXINT));
}

/* gnutls push function: writes all of @buf (the channel bounds each wait). */
static ssize_t
fm_tls_push(gnutls_transport_ptr_t ptr, const void *buf, size_t len)
{
    FmTlsLayer *tls = ptr;
    GError *error = NULL;

    if (!fm_channel_raw_write_all(tls->channel, buf, len, &error)) {
        fm_tls_keep_io_error(tls, error);
        gnutls_transport_set_errno(tls->session, EIO);
        return -1;
    }
    return (ssize_t)len;
}

/* Sets @error for the gnutls failure @r of a transfer on @tls: the push/pull
 * error if that is what failed, else gnutls's own reason. */
static void
fm_tls_set_error(FmTlsLayer *tls, int r, GError **error)
{
    if ((r == GNUTLS_E_PUSH_ERROR || r == GNUTLS_E_PULL_ERROR) && tls->io_error != NULL) {
        g_propagate_error(error, g_steal_pointer(&tls->io_error));
        return;
    }
    g_clear_error(&tls->io_error);
    if (r == GNUTLS_E_FATAL_ALERT_RECEIVED) {
        g_set_error(error, FM_ERROR, FM_ERROR_PROTOCOL,
                    _("TLS: %s ended the session with the alert '%s'"),
                    fm_channel_get_address(tls->channel),
                    gnutls_alert_get_name(gnutls_alert_get(tls->session)));
        return;
    }
    g_set_error(error, FM_ERROR, FM_ERROR_PROTOCOL, _("TLS error on the connection with %s: %s"),
                fm_channel_get_address(tls->channel), gnutls_strerror(r));
}

/* ---- the layer ---- */

/* FmChannelLayerOps.read */
static gssize
fm_tls_layer_read(gpointer layer, void *buf, gsize len, GError **error)
{
    FmTlsLayer *tls = layer;

    for (;;) {
        ssize_t r = gnutls_record_recv(tls->session, buf, len);

        if (r >= 0)
            return r;
        if (r == GNUTLS_E_INTERRUPTED || r == GNUTLS_E_AGAIN)
            continue;
        /* A connection closed without close_notify reads as a plain end of file:
         * the stream's own framing (END record, digest) detects a truncation. */
        if (r == GNUTLS_E_PREMATURE_TERMINATION) {
            g_clear_error(&tls->io_error);
            return 0;
        }
        fm_tls_set_error(tls, (int)r, error);
        return -1;
    }
}

/* Sends all of @buf in records. */
static gboolean
fm_tls_send_all(FmTlsLayer *tls, const guint8 *buf, gsize len, GError **error)
{
    while (len > 0) {
        ssize_t r = gnutls_record_send(tls->session, buf, len);

        if (r == GNUTLS_E_INTERRUPTED || r == GNUTLS_E_AGAIN)
            continue;
        if (r < 0) {
            fm_tls_set_error(tls, (int)r, error);
            return FALSE;
        }
        buf += r;
        len -= (gsize)r;
    }
    return TRUE;
}

/* FmChannelLayerOps.write: small gathers go out as one record. */
static gboolean
fm_tls_layer_write(gpointer layer, const FmIoVector *vectors, gsize n_vectors,
                   GError **error)
{
    FmTlsLayer *tls = layer;
    gsize total = 0;
    gboolean cork;
    int r;

    for (gsize i = 0; i < n_vectors; i++)
        total += vectors[i].len;
    cork = n_vectors > 1 && total <= FM_TLS_CORK_MAX;
    if (cork)
        gnutls_record_cork(tls->session);
    for (gsize i = 0; i < n_vectors; i++) {
        if (!fm_tls_send_all(tls, vectors[i].data, vectors[i].len, error)) {
            if (cork)
                (void)gnutls_record_uncork(tls->session, 0);
            return FALSE;
        }
    }
    if (!cork)
        return TRUE;
    do {
        r = gnutls_record_uncork(tls->session, GNUTLS_RECORD_WAIT);
    } while (r == GNUTLS_E_INTERRUPTED || r == GNUTLS_E_AGAIN);
    if (r < 0) {
        fm_tls_set_error(tls, r, error);
        return FALSE;
    }
    return TRUE;
}

/* FmChannelLayerOps.pending */
static gboolean
fm_tls_layer_pending(gpointer layer)
{
    FmTlsLayer *tls = layer;

    return gnutls_record_check_pending(tls->session) > 0;
}

/* FmChannelLayerOps.shutdown_write: sends close_notify; we can still read. */
static gboolean
fm_tls_layer_shutdown_write(gpointer layer, GError **error)
{
    FmTlsLayer *tls = layer;
    int r;

    do {
        r = gnutls_bye(tls->session, GNUTLS_SHUT_WR);
    } while (r == GNUTLS_E_INTERRUPTED || r == GNUTLS_E_AGAIN);
    if (r < 0) {
        fm_tls_set_error(tls, r, error);
        return FALSE;
    }
    return TRUE;
}

/* FmChannelLayerOps.free */
static void
fm_tls_layer_free_func(gpointer layer)
{
    fm_tls_layer_free(layer);
}

static const FmChannelLayerOps fm_tls_layer_ops = {
    .read = fm_tls_layer_read,
    .write = fm_tls_layer_write,
    .pending = fm_tls_layer_pending,
    .shutdown_write = fm_tls_layer_shutdown_write,
    .free = fm_tls_layer_free_func,
};

/* ---- credentials ---- */

/* Returns TRUE if @path exists; else sets @error saying which credential is
 * missing. */
static gboolean
fm_tls_check_file(const char *path, const char *what, GError **error)
{
    if (g_file_test(path, G_FILE_TEST_IS_REGULAR))
        return TRUE;
    g_set_error(error, FM_ERROR, FM_ERROR_CONFIG, _("TLS: the %s %s does not exist"),
                what, path);
    return FALSE;
}

/* Returns the CA file: DIR/ca-cert.pem, else FM_TLS_FALLBACK_CA; NULL with @error
 * if neither exists. */
static char *
fm_tls_find_ca(const char *dir, GError **error)
{
    g_autofree char *path = g_build_filename(dir, "ca-cert.pem", NULL);

    if (g_file_test(path, G_FILE_TEST_IS_REGULAR))
        return g_steal_pointer(&path);
    if (g_file_test(FM_TLS_FALLBACK_CA, G_FILE_TEST_IS_REGULAR))
        return g_strdup(FM_TLS_FALLBACK_CA);
    g_set_error(error, FM_ERROR, FM_ERROR_CONFIG,
                _("TLS: no CA certificate: neither %s nor %s exists"), path,
                FM_TLS_FALLBACK_CA);
    return NULL;
}

/* Returns the translated name of @role's certificate or key, for messages. */
static const char *
fm_tls_role_name(FmTlsRole role, gboolean key)
{
    if (role == FM_TLS_SERVER)
        return key ? _("server key") : _("server certificate");
    return key ? _("client key") : _("client certificate");
}

/* Frees @creds; NULL ok. */
void
fm_tls_creds_free(FmTlsCreds *creds)
{
    if (creds == NULL)
        return;
    if (creds->x509 != NULL)
        gnutls_certificate_free_credentials(creds->x509);
    g_free(creds->ca_path);
    g_clear_pointer(&creds->allowed_dns, g_ptr_array_unref);
    g_free(creds);
}

static int fm_tls_verify_peer(gnutls_session_t session);

/* Loads the credentials of @role from @dir; see the header. */
FmTlsCreds *
fm_tls_creds_new(FmTlsRole role, const char *dir, GError **error)
{
    g_autoptr(FmTlsCreds) creds = g_new0(FmTlsCreds, 1);
    g_autofree char *crl = NULL;
    g_autofree char *cert = NULL;
    g_autofree char *key = NULL;
    const char *prefix = role == FM_TLS_SERVER ? "server" : "client";
    int r;

    if (dir == NULL)
        dir = FM_TLS_DEFAULT_DIR;
    creds->role = role;
    /* A client may wait its whole timeout for a busy receiver to accept it. */
    creds->handshake_timeout = role == FM_TLS_SERVER ? FM_TLS_HANDSHAKE_TIMEOUT : 0;
    r = gnutls_certificate_allocate_credentials(&creds->x509);
    if (r < 0) {
        creds->x509 = NULL;
        g_set_error(error, FM_ERROR, FM_ERROR_FAILED, _("TLS: cannot allocate credentials: %s"),
                    gnutls_strerror(r));
        return NULL;
    }

    creds->ca_path = fm_tls_find_ca(dir, error);
    if (creds->ca_path == NULL)
        return NULL;
    r = gnutls_certificate_set_x509_trust_file(creds->x509, creds->ca_path,
                                               GNUTLS_X509_FMT_PEM);
    if (r <= 0) {
        g_set_error(error, FM_ERROR, FM_ERROR_CONFIG,
                    _("TLS: cannot load the CA certificate %s: %s"), creds->ca_path,
                    r < 0 ? gnutls_strerror(r) : _("it holds no certificate"));
        return NULL;
    }

    crl = g_build_filename(dir, "ca-crl.pem", NULL);
    if (!g_file_test(crl, G_FILE_TEST_IS_REGULAR)) {
        g_free(crl);
        /* libvirt's CRL belongs to libvirt's CA: use it only with that CA */
        crl = g_str_equal(creds->ca_path, FM_TLS_FALLBACK_CA) &&
              g_file_test(FM_TLS_FALLBACK_CRL, G_FILE_TEST_IS_REGULAR) ?
              g_strdup(FM_TLS_FALLBACK_CRL) : NULL;
    }
    if (crl != NULL) {
        r = gnutls_certificate_set_x509_crl_file(creds->x509, crl, GNUTLS_X509_FMT_PEM);
        if (r < 0) {
            g_set_error(error, FM_ERROR, FM_ERROR_CONFIG,
                        _("TLS: cannot load the revocation list %s: %s"), crl,
                        gnutls_strerror(r));
            return NULL;
        }
    }

    cert = g_strdup_printf("%s/%s-cert.pem", dir, prefix);
    key = g_strdup_printf("%s/%s-key.pem", dir, prefix);
    if (!fm_tls_check_file(cert, fm_tls_role_name(role, FALSE), error) ||
        !fm_tls_check_file(key, fm_tls_role_name(role, TRUE), error))
        return NULL;
    r = gnutls_certificate_set_x509_key_file(creds->x509, cert, key, GNUTLS_X509_FMT_PEM);
    if (r < 0) {
        g_set_error(error, FM_ERROR, FM_ERROR_CONFIG,
                    _("TLS: cannot load the certificate %s with the key %s: %s"), cert, key,
                    gnutls_strerror(r));
        return NULL;
    }
    gnutls_certificate_set_verify_function(creds->x509, fm_tls_verify_peer);
    return g_steal_pointer(&creds);
}

/* Replaces the server's DN allow-list; see fm-tls.h. */
gboolean
fm_tls_creds_set_allowed_dns(FmTlsCreds *creds, const char *const *patterns, GError **error)
{
    g_autoptr(GPtrArray) list = NULL;

    g_return_val_if_fail(creds != NULL, FALSE);
    if (patterns != NULL && patterns[0] != NULL) {
        list = g_ptr_array_new_with_free_func((GDestroyNotify)fm_dn_pattern_free);
        for (guint i = 0; patterns[i] != NULL; i++) {
            FmDnPattern *pattern = fm_dn_pattern_parse(patterns[i], error);

            if (pattern == NULL)
                return FALSE;
            g_ptr_array_add(list, pattern);
        }
    }
    g_clear_pointer(&creds->allowed_dns, g_ptr_array_unref);
    creds->allowed_dns = g_steal_pointer(&list);
    return TRUE;
}

/* Sets the handshake's bound in seconds. */
void
fm_tls_creds_set_handshake_timeout(FmTlsCreds *creds, double seconds)
{
    g_return_if_fail(creds != NULL && seconds > 0);
    creds->handshake_timeout = seconds;
}

/* ---- verification ---- */

/* Returns the DN of the peer's certificate (caller frees), or NULL if it sent
 * none or it cannot be parsed. */
static char *
fm_tls_peer_dn(gnutls_session_t session)
{
    const gnutls_datum_t *certs;
    unsigned int n = 0;
    gnutls_x509_crt_t crt;
    gnutls_datum_t dn = { NULL, 0 };
    char *result = NULL;

    certs = gnutls_certificate_get_peers(session, &n);
    if (certs == NULL || n == 0 || gnutls_x509_crt_init(&crt) < 0)
        return NULL;
    if (gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) == 0 &&
        gnutls_x509_crt_get_dn2(crt, &dn) == 0) {
        result = g_strndup((const char *)dn.data, dn.size);
        gnutls_free(dn.data);
    }
    gnutls_x509_crt_deinit(crt);
    return result;
}

/* Sets @tls->verify_error for the verification @status (non-zero) of the peer
 * certificate with DN @dn. */
static void
fm_tls_set_status_error(FmTlsLayer *tls, unsigned int status, const char *dn)
{
    const char *peer = fm_channel_get_address(tls->channel);
    GError **error = &tls->verify_error;

    if (status & (GNUTLS_CERT_SIGNER_NOT_FOUND | GNUTLS_CERT_SIGNER_NOT_CA)) {
        g_set_error(error, FM_ERROR, FM_ERROR_VERIFY,
                    _("TLS: the certificate of %s (%s) is not signed by our CA %s"),
                    peer, dn, tls->creds->ca_path);
    } else if (status & GNUTLS_CERT_REVOKED) {
        g_set_error(error, FM_ERROR, FM_ERROR_VERIFY,
                    _("TLS: the certificate of %s (%s) has been revoked"), peer, dn);
    } else if (status & GNUTLS_CERT_EXPIRED) {
        g_set_error(error, FM_ERROR, FM_ERROR_VERIFY,
                    _("TLS: the certificate of %s (%s) has expired"), peer, dn);
    } else if (status & GNUTLS_CERT_NOT_ACTIVATED) {
        g_set_error(error, FM_ERROR, FM_ERROR_VERIFY,
                    _("TLS: the certificate of %s (%s) is not valid yet"), peer, dn);
    } else if (status & GNUTLS_CERT_UNEXPECTED_OWNER) {
        g_set_error(error, FM_ERROR, FM_ERROR_VERIFY,
                    _("TLS: the certificate of %s (%s) is not for the host '%s'"),
                    peer, dn, tls->hostname);
    } else {
        gnutls_datum_t text = { NULL, 0 };

        gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &text, 0);
        g_set_error(error, FM_ERROR, FM_ERROR_VERIFY,
                    _("TLS: the certificate of %s (%s) is invalid: %s"), peer, dn,
                    text.data ? (const char *)text.data : "?");
        gnutls_free(text.data);
    }
}

/* Returns the subject of @crt as RDNs, the most specific first (RFC 4514 order),
 * in @rdns (FmDnRdn), their attributes in @avas (GArray of FmDnAva per RDN) and
 * their strings in @strings; FALSE if it cannot be parsed.  A value that is not
 * UTF-8 or holds a NUL is kept as NULL: it matches no pattern. */
static gboolean
fm_tls_subject_rdns(gnutls_x509_crt_t crt, GArray *rdns, GPtrArray *avas, GPtrArray *strings)
{
    gnutls_x509_dn_t dn;
    GArray *parsed = g_array_new(FALSE, TRUE, sizeof(GArray *));
    gboolean ok = TRUE;

    if (gnutls_x509_crt_get_subject(crt, &dn) < 0) {
        g_array_unref(parsed);
        return FALSE;
    }
    for (int irdn = 0; ok && irdn < 256; irdn++) {
        GArray *rdn = g_array_new(FALSE, TRUE, sizeof(FmDnAva));

        for (int iava = 0; iava < 64; iava++) {
            gnutls_x509_ava_st ava;
            FmDnAva out;
            char *oid;
            int r = gnutls_x509_dn_get_rdn_ava(dn, irdn, iava, &ava);

            if (r == GNUTLS_E_ASN1_ELEMENT_NOT_FOUND || r == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
                break;
            if (r < 0) {
                ok = FALSE;
                break;
            }
            oid = g_strndup((const char *)ava.oid.data, ava.oid.size);
            g_ptr_array_add(strings, oid);
            out.oid = oid;
            out.name = gnutls_x509_dn_oid_name(oid, GNUTLS_X509_DN_OID_RETURN_OID);
            if (out.name == NULL)
                out.name = oid;
            out.value = NULL;
            if (memchr(ava.value.data, '\0', ava.value.size) == NULL &&
                g_utf8_validate((const char *)ava.value.data, ava.value.size, NULL)) {
                char *value = g_strndup((const char *)ava.value.data, ava.value.size);

                g_ptr_array_add(strings, value);
                out.value = value;
            }
            g_array_append_val(rdn, out);
        }
        if (rdn->len == 0) {
            g_array_unref(rdn);
            break;
        }
        g_ptr_array_add(avas, rdn);
        g_array_append_val(parsed, rdn);
    }
    /* GnuTLS numbers the RDNs from the most specific (CN=...), as RFC 4514 and
     * gnutls_x509_crt_get_dn2() write them */
    for (guint i = 0; ok && i < parsed->len; i++) {
        GArray *rdn = g_array_index(parsed, GArray *, i);
        FmDnRdn entry = { (const FmDnAva *)rdn->data, rdn->len };

        g_array_append_val(rdns, entry);
    }
    g_array_unref(parsed);
    return ok;
}

/* Returns TRUE if the subject of the peer's certificate in @session matches one of
 * the server's allowed patterns, compared RDN by RDN (fm-dn.h). */
static gboolean
fm_tls_dn_allowed(const FmTlsCreds *creds, gnutls_session_t session)
{
    g_autoptr(GArray) rdns = g_array_new(FALSE, TRUE, sizeof(FmDnRdn));
    g_autoptr(GPtrArray) avas = g_ptr_array_new_with_free_func((GDestroyNotify)g_array_unref);
    g_autoptr(GPtrArray) strings = g_ptr_array_new_with_free_func(g_free);
    const gnutls_datum_t *certs;
    unsigned int n = 0;
    gnutls_x509_crt_t crt;
    gboolean parsed;

    if (creds->allowed_dns == NULL)
        return TRUE;
    certs = gnutls_certificate_get_peers(session, &n);
    if (certs == NULL || n == 0 || gnutls_x509_crt_init(&crt) < 0)
        return FALSE;
    parsed = gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) == 0 &&
             fm_tls_subject_rdns(crt, rdns, avas, strings);
    gnutls_x509_crt_deinit(crt);
    if (!parsed)
        return FALSE;
    for (guint i = 0; i < creds->allowed_dns->len; i++) {
        if (fm_dn_pattern_match(g_ptr_array_index(creds->allowed_dns, i),
                                (const FmDnRdn *)rdns->data, rdns->len))
            return TRUE;
    }
    return FALSE;
}

/* gnutls verification callback, run inside the handshake when the peer's
 * certificate arrived: returns 0 to go on, or an error (the reason kept in the
 * layer) to abort the handshake. */
static int
fm_tls_verify_peer(gnutls_session_t session)
{
    FmTlsLayer *tls = gnutls_session_get_ptr(session);
    g_autofree char *dn = NULL;
    unsigned int status = 0;
    int r;

    dn = fm_tls_peer_dn(session);
    if (dn == NULL) {
        g_set_error(&tls->verify_error, FM_ERROR, FM_ERROR_VERIFY,
                    _("TLS: %s sent no usable certificate"),
                    fm_channel_get_address(tls->channel));
        return GNUTLS_E_CERTIFICATE_ERROR;
    }
    if (tls->hostname != NULL)
        r = gnutls_certificate_verify_peers3(session, tls->hostname, &status);
    else
        r = gnutls_certificate_verify_peers2(session, &status);
    if (r < 0) {
        g_set_error(&tls->verify_error, FM_ERROR, FM_ERROR_VERIFY,
                    _("TLS: cannot verify the certificate of %s (%s): %s"),
                    fm_channel_get_address(tls->channel), dn, gnutls_strerror(r));
        return GNUTLS_E_CERTIFICATE_ERROR;
    }
    if (status != 0) {
        fm_tls_set_status_error(tls, status, dn);
        return GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR;
    }
    if (tls->creds->role == FM_TLS_SERVER && !fm_tls_dn_allowed(tls->creds, session)) {
        g_set_error(&tls->verify_error, FM_ERROR, FM_ERROR_VERIFY,
                    _("TLS: the certificate of %s (%s) is not in the list of allowed distinguished names"),
                    fm_channel_get_address(tls->channel), dn);
        return GNUTLS_E_CERTIFICATE_ERROR;
    }
    tls->peer_dn = g_steal_pointer(&dn);
    return 0;
}

/* ---- the handshake ---- */

/* Sets @error for the failed handshake @r (or acceptance, @after_handshake). */
static void
fm_tls_set_handshake_error(FmTlsLayer *tls, int r, gboolean after_handshake,
                           GError **error)
{
    const char *peer = fm_channel_get_address(tls->channel);
    gboolean server = tls->creds->role == FM_TLS_SERVER;

    if (tls->verify_error != NULL) {
        g_propagate_error(error, g_steal_pointer(&tls->verify_error));
    } else if (tls->peer_not_tls) {
        if (server)
            g_set_error(error, FM_ERROR, FM_ERROR_PROTOCOL,
                        _("TLS: the client %s does not speak TLS (this receiver requires --tls)"),
                        peer);
        else
            g_set_error(error, FM_ERROR, FM_ERROR_PROTOCOL,
                        _("TLS: the destination %s does not speak TLS (is it running with --tls?)"),
                        peer);
    } else if (tls->timed_out || r == GNUTLS_E_TIMEDOUT) {
        g_set_error(error, FM_ERROR, FM_ERROR_IO,
                    _("TLS: no handshake from %s within %g s: it does not speak TLS or does not answer (is it running with --tls?)"),
                    peer, tls->handshake_bound);
    } else if (r == GNUTLS_E_FATAL_ALERT_RECEIVED) {
        const char *alert = gnutls_alert_get_name(gnutls_alert_get(tls->session));

        if (server)
            g_set_error(error, FM_ERROR, FM_ERROR_VERIFY,
                        _("TLS: the client %s refused the handshake (alert '%s'): does it trust our CA, and is our certificate valid and for the name it connected to?"),
                        peer, alert);
        else if (after_handshake)
            g_set_error(error, FM_ERROR, FM_ERROR_VERIFY,
                        _("TLS: the destination %s refused our certificate (alert '%s'): is it signed by the destination's CA, valid, and allowed by its --tls-allowed-dn?"),
                        peer, alert);
        else
            g_set_error(error, FM_ERROR, FM_ERROR_VERIFY,
                        _("TLS: the destination %s refused the handshake (alert '%s')"),
                        peer, alert);
    } else if (r == GNUTLS_E_NO_CERTIFICATE_FOUND || r == GNUTLS_E_CERTIFICATE_REQUIRED) {
        g_set_error(error, FM_ERROR, FM_ERROR_VERIFY, _("TLS: %s sent no certificate"), peer);
    } else if (r == 0) {
        g_set_error(error, FM_ERROR, FM_ERROR_VERIFY,
                    _("TLS: the destination %s closed the connection instead of accepting our certificate"),
                    peer);
    } else {
        fm_tls_set_error(tls, r, error);
        g_prefix_error(error, _("TLS handshake failed: "));
    }
}

/* After sending an alert: ends our direction and reads what the peer still sends
 * until it closes (within the handshake's deadline), since closing with unread
 * input would reset the connection and the peer would lose the alert, and with
 * it the reason of the refusal. */
static void
fm_tls_linger(FmTlsLayer *tls)
{
    guint8 buf[4096];
    gsize total = 0;

    if (shutdown(fm_channel_get_fd(tls->channel), SHUT_WR) < 0)
        return;
    while (total < 16 * 1024 * 1024 && fm_tls_wait_readable(tls, -1) > 0) {
        gssize r = fm_channel_raw_read(tls->channel, buf, sizeof(buf), NULL);

        if (r <= 0)
            return;
        total += (gsize)r;
    }
}

/* Runs the handshake and the acceptance on @tls; FALSE with @error. */
static gboolean
fm_tls_handshake(FmTlsLayer *tls, GError **error)
{
    gboolean server = tls->creds->role == FM_TLS_SERVER;
    guint8 byte = FM_TLS_ACCEPTED;
    int r;

    do {
        r = gnutls_handshake(tls->session);
    } while (r < 0 && !gnutls_error_is_fatal(r));
    if (r < 0) {
        /* Tell the peer why, when it can still hear it; its answer does not matter. */
        gboolean tell = !tls->peer_not_tls && !tls->timed_out;

        fm_tls_set_handshake_error(tls, r, FALSE, error);
        if (tell) {
            (void)gnutls_alert_send_appropriate(tls->session, r);
            fm_tls_linger(tls);
        }
        return FALSE;
    }
    if (server) {
        ssize_t w;

        do {
            w = gnutls_record_send(tls->session, &byte, 1);
        } while (w == GNUTLS_E_INTERRUPTED || w == GNUTLS_E_AGAIN);
        if (w < 0) {
            fm_tls_set_handshake_error(tls, (int)w, TRUE, error);
            return FALSE;
        }
        return TRUE;
    }
    for (;;) {
        ssize_t got = gnutls_record_recv(tls->session, &byte, 1);

        if (got == GNUTLS_E_INTERRUPTED || got == GNUTLS_E_AGAIN)
            continue;
        if (got == 1 && byte == FM_TLS_ACCEPTED)
            return TRUE;
        if (got == 1) {
            g_set_error(error, FM_ERROR, FM_ERROR_PROTOCOL,
                        _("TLS: the destination %s answered the handshake with 0x%02x, not a fragmig acceptance"),
                        fm_channel_get_address(tls->channel), byte);
            return FALSE;
        }
        if (got == GNUTLS_E_PREMATURE_TERMINATION)
            got = 0;
        fm_tls_set_handshake_error(tls, (int)got, TRUE, error);
        return FALSE;
    }
}

/* Starts TLS on @channel; see the header. */
gboolean
fm_tls_channel_start(FmChannel *channel, FmTlsCreds *creds, const char *hostname,
                     char **peer_dn, GError **error)
{
    g_autoptr(FmTlsLayer) tls = NULL;
    gboolean server;
    double timeout;
    double bound;
    int r;

    g_return_val_if_fail(channel != NULL && creds != NULL, FALSE);
    g_return_val_if_fail(!fm_channel_has_layer(channel), FALSE);
    server = creds->role == FM_TLS_SERVER;

    tls = g_new0(FmTlsLayer, 1);
    tls->channel = channel;
    tls->creds = creds;
    tls->hostname = server ? NULL : g_strdup(hostname);
    r = gnutls_init(&tls->session, (server ? GNUTLS_SERVER : GNUTLS_CLIENT) | GNUTLS_NO_TICKETS);
    if (r < 0) {
        tls->session = NULL;
        g_set_error(error, FM_ERROR, FM_ERROR_FAILED, _("TLS: cannot start a session: %s"),
                    gnutls_strerror(r));
        return FALSE;
    }
    r = gnutls_set_default_priority(tls->session);
    if (r >= 0)
        r = gnutls_credentials_set(tls->session, GNUTLS_CRD_CERTIFICATE, creds->x509);
    if (r < 0) {
        g_set_error(error, FM_ERROR, FM_ERROR_FAILED, _("TLS: cannot start a session: %s"),
                    gnutls_strerror(r));
        return FALSE;
    }
    if (server) {
        gnutls_certificate_server_set_request(tls->session, GNUTLS_CERT_REQUIRE);
        /* Without the list of our CAs in the request, a client sends its
         * certificate even if another CA signed it, and the refusal can say so
         * instead of "no certificate". */
        gnutls_certificate_send_x509_rdn_sequence(tls->session, 1);
    }
    gnutls_session_set_ptr(tls->session, tls);
    gnutls_transport_set_ptr(tls->session, tls);
    gnutls_transport_set_pull_function(tls->session, fm_tls_pull);
    gnutls_transport_set_pull_timeout_function(tls->session, fm_tls_pull_timeout);
    gnutls_transport_set_push_function(tls->session, fm_tls_push);
    /* our pull function enforces the deadline */
    gnutls_handshake_set_timeout(tls->session, GNUTLS_INDEFINITE_TIMEOUT);

    /* Every wait of the handshake, pushes included, ends by the deadline. */
    timeout = fm_channel_get_timeout(channel);
    bound = creds->handshake_timeout;
    if (bound <= 0)
        bound = timeout > 0 ? timeout : FM_CHANNEL_DEFAULT_TIMEOUT;
    if (timeout <= 0 || timeout > bound)
        fm_channel_set_timeout(channel, bound);
    tls->handshake_bound = bound;
    tls->deadline = g_get_monotonic_time() + (gint64)(bound * 1e6);
    if (!fm_tls_handshake(tls, error)) {
        fm_channel_set_timeout(channel, timeout);
        return FALSE;
    }
    fm_channel_set_timeout(channel, timeout);
    tls->deadline = 0;
    g_clear_error(&tls->io_error);

    if (peer_dn != NULL)
        *peer_dn = g_strdup(tls->peer_dn);
    fm_channel_set_layer(channel, &fm_tls_layer_ops, g_steal_pointer(&tls));
    return TRUE;
}

#else /* !WITH_TLS */

struct _FmTlsCreds {
    int unused;
};

/* Without GnuTLS: no TLS; every entry point that could start it says so. */

/* Returns FALSE: this build has no GnuTLS. */
gboolean
fm_tls_available(void)
{
    return FALSE;
}

/* Returns NULL with FM_ERROR_UNSUPPORTED. */
FmTlsCreds *
fm_tls_creds_new(FmTlsRole role G_GNUC_UNUSED, const char *dir G_GNUC_UNUSED,
                 GError **error)
{
    g_set_error(error, FM_ERROR, FM_ERROR_UNSUPPORTED,
                _("TLS is not available: fragmig was built without GnuTLS"));
    return NULL;
}

/* Does nothing: there are no credentials. */
gboolean
fm_tls_creds_set_allowed_dns(FmTlsCreds *creds G_GNUC_UNUSED,
                             const char *const *patterns G_GNUC_UNUSED,
                             GError **error G_GNUC_UNUSED)
{
    return TRUE;
}

/* Does nothing: there are no credentials. */
void
fm_tls_creds_set_handshake_timeout(FmTlsCreds *creds G_GNUC_UNUSED,
                                   double seconds G_GNUC_UNUSED)
{
}

/* Frees @creds; NULL ok. */
void
fm_tls_creds_free(FmTlsCreds *creds)
{
    g_free(creds);
}

/* Returns FALSE with FM_ERROR_UNSUPPORTED. */
gboolean
fm_tls_channel_start(FmChannel *channel G_GNUC_UNUSED, FmTlsCreds *creds G_GNUC_UNUSED,
                     const char *hostname G_GNUC_UNUSED, char **peer_dn G_GNUC_UNUSED,
                     GError **error)
{
    g_set_error(error, FM_ERROR, FM_ERROR_UNSUPPORTED,
                _("TLS is not available: fragmig was built without GnuTLS"));
    return FALSE;
}

#endif /* WITH_TLS */
