/*
 * test-tls.c: tests of the TLS layer of FmChannel: mutual x509 verification (CA,
 * validity times, host name, DN allow-list), refusals with their reasons, a peer
 * that does not speak TLS, the handshake timeout, and the channel's data path,
 * bandwidth limit and timeouts through the session.  The certificates are made
 * here with GnuTLS, in a temporary directory, in libvirt's file layout.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "transport/fm-tls.h"
#include "transport/fm-dn.h"

#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "tests/fm-test-util.h"
#include "util/fm-error.h"

/* ---- certificates ---- */

static char *pki;              /* the temporary directory of every credential set */

typedef struct {
    gnutls_x509_privkey_t key;
    gnutls_x509_crt_t crt;
} TestCert;

/* Writes @data as the file DIR/NAME, DIR made if needed. */
static void
write_datum(const char *dir, const char *name, const gnutls_datum_t *data)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);
    g_autoptr(GError) err = NULL;

    g_assert_cmpint(g_mkdir_with_parents(dir, 0700), ==, 0);
    g_file_set_contents(path, (const char *)data->data, data->size, &err);
    g_assert_no_error(err);
}

/* Makes a certificate with subject @dn valid from now + @from_days to now +
 * @to_days, signed by @issuer (NULL: self-signed CA). */
static TestCert
make_cert(const char *dn, gboolean ca, gboolean server, int from_days, int to_days,
          const TestCert *issuer)
{
    TestCert c;
    time_t now = time(NULL);
    guint8 serial[8];
    const guint8 loopback[4] = { 127, 0, 0, 1 };
    const char *err_pos = NULL;

    for (guint i = 0; i < sizeof(serial); i++)
        serial[i] = (guint8)g_random_int_range(1, 256);
    serial[0] &= 0x7f;
    g_assert_cmpint(gnutls_x509_privkey_init(&c.key), ==, 0);
    g_assert_cmpint(gnutls_x509_privkey_generate(c.key, GNUTLS_PK_ECDSA,
                        GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0), ==, 0);
    g_assert_cmpint(gnutls_x509_crt_init(&c.crt), ==, 0);
    g_assert_cmpint(gnutls_x509_crt_set_version(c.crt, 3), ==, 0);
    g_assert_cmpint(gnutls_x509_crt_set_serial(c.crt, serial, sizeof(serial)), ==, 0);
    g_assert_cmpint(gnutls_x509_crt_set_key(c.crt, c.key), ==, 0);
    g_assert_cmpint(gnutls_x509_crt_set_dn(c.crt, dn, &err_pos), ==, 0);
    g_assert_cmpint(gnutls_x509_crt_set_activation_time(c.crt, now + from_days * 86400), ==, 0);
    g_assert_cmpint(gnutls_x509_crt_set_expiration_time(c.crt, now + to_days * 86400), ==, 0);
    g_assert_cmpint(gnutls_x509_crt_set_basic_constraints(c.crt, ca, -1), ==, 0);
    if (ca) {
        g_assert_cmpint(gnutls_x509_crt_set_key_usage(c.crt, GNUTLS_KEY_KEY_CERT_SIGN |
                                                      GNUTLS_KEY_CRL_SIGN), ==, 0);
    } else {
        g_assert_cmpint(gnutls_x509_crt_set_key_usage(c.crt, GNUTLS_KEY_DIGITAL_SIGNATURE |
                                                      GNUTLS_KEY_KEY_ENCIPHERMENT), ==, 0);
        g_assert_cmpint(gnutls_x509_crt_set_key_purpose_oid(c.crt,
                            server ? GNUTLS_KP_TLS_WWW_SERVER : GNUTLS_KP_TLS_WWW_CLIENT, 0), ==, 0);
    }
    if (server) {
        g_assert_cmpint(gnutls_x509_crt_set_subject_alt_name(c.crt, GNUTLS_SAN_DNSNAME,
                            "localhost", strlen("localhost"), GNUTLS_FSAN_APPEND), ==, 0);
        g_assert_cmpint(gnutls_x509_crt_set_subject_alt_name(c.crt, GNUTLS_SAN_IPADDRESS,
                            loopback, sizeof(loopback), GNUTLS_FSAN_APPEND), ==, 0);
    }
    if (issuer == NULL)
        g_assert_cmpint(gnutls_x509_crt_sign2(c.crt, c.crt, c.key, GNUTLS_DIG_SHA256, 0), ==, 0);
    else
        g_assert_cmpint(gnutls_x509_crt_sign2(c.crt, issuer->crt, issuer->key,
                                              GNUTLS_DIG_SHA256, 0), ==, 0);
    return c;
}

/* Writes the credential directory DIR (under pki) holding @ca as ca-cert.pem and
 * @cert (may be NULL) as PREFIX-cert.pem with its key. */
static void
write_dir(const char *dir, const TestCert *ca, const char *prefix, const TestCert *cert)
{
    g_autofree char *path = g_build_filename(pki, dir, NULL);
    gnutls_datum_t d;

    g_assert_cmpint(gnutls_x509_crt_export2(ca->crt, GNUTLS_X509_FMT_PEM, &d), ==, 0);
    write_datum(path, "ca-cert.pem", &d);
    gnutls_free(d.data);
    if (cert == NULL)
        return;
    {
        g_autofree char *cert_name = g_strdup_printf("%s-cert.pem", prefix);
        g_autofree char *key_name = g_strdup_printf("%s-key.pem", prefix);

        g_assert_cmpint(gnutls_x509_crt_export2(cert->crt, GNUTLS_X509_FMT_PEM, &d), ==, 0);
        write_datum(path, cert_name, &d);
        gnutls_free(d.data);
        g_assert_cmpint(gnutls_x509_privkey_export2(cert->key, GNUTLS_X509_FMT_PEM, &d), ==, 0);
        write_datum(path, key_name, &d);
        gnutls_free(d.data);
    }
}

static void
free_cert(TestCert *c)
{
    gnutls_x509_crt_deinit(c->crt);
    gnutls_x509_privkey_deinit(c->key);
}

/* Makes every credential directory the tests use. */
static void
make_pki(void)
{
    TestCert ca = make_cert("C=GB,O=fragmig,CN=fragmig test CA", TRUE, FALSE, -1, 365, NULL);
    TestCert other = make_cert("C=GB,O=mallory,CN=other CA", TRUE, FALSE, -1, 365, NULL);
    TestCert srv = make_cert("C=GB,O=fragmig,CN=localhost", FALSE, TRUE, -1, 365, &ca);
    TestCert cli = make_cert("C=GB,O=fragmig,CN=client1", FALSE, FALSE, -1, 365, &ca);
    TestCert expired = make_cert("C=GB,O=fragmig,CN=old", FALSE, FALSE, -30, -1, &ca);
    TestCert future = make_cert("C=GB,O=fragmig,CN=future", FALSE, FALSE, 10, 365, &ca);
    TestCert foreign = make_cert("C=GB,O=fragmig,CN=client1", FALSE, FALSE, -1, 365, &other);

    pki = g_dir_make_tmp("fragmig-test-tls.XXXXXX", NULL);
    g_assert_nonnull(pki);
    write_dir("server", &ca, "server", &srv);
    write_dir("client", &ca, "client", &cli);
    write_dir("client-expired", &ca, "client", &expired);
    write_dir("client-future", &ca, "client", &future);
    write_dir("client-foreign", &ca, "client", &foreign);
    write_dir("client-other-ca", &other, "client", &cli);
    write_dir("ca-only", &ca, NULL, NULL);
    free_cert(&ca);
    free_cert(&other);
    free_cert(&srv);
    free_cert(&cli);
    free_cert(&expired);
    free_cert(&future);
    free_cert(&foreign);
}

/* Removes the temporary directory. */
static void
remove_pki(void)
{
    g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", pki);

    g_assert_cmpint(system(cmd), ==, 0);
}

/* Returns the credentials of @role from the directory @dir of the pki. */
static FmTlsCreds *
load_creds(FmTlsRole role, const char *dir)
{
    g_autofree char *path = g_build_filename(pki, dir, NULL);
    g_autoptr(GError) err = NULL;
    FmTlsCreds *creds = fm_tls_creds_new(role, path, &err);

    g_assert_no_error(err);
    g_assert_nonnull(creds);
    /* A handshake on a loaded host may take longer than a receiver's default bound:
     * only the tests of the bound set a short one. */
    if (role == FM_TLS_SERVER)
        fm_tls_creds_set_handshake_timeout(creds, FM_TEST_HANG_GUARD);
    return creds;
}

/* ---- one connection: the server end runs in a thread ---- */

/* What the server end does once its handshake is over. */
typedef enum {
    SERVER_HANDSHAKE_ONLY,
    SERVER_ECHO,               /* reads until EOF, then writes back what it read */
    SERVER_SILENT,             /* waits until the client closes */
} ServerAction;

typedef struct {
    FmChannel *channel;        /* owned by the thread */
    FmTlsCreds *creds;         /* borrowed */
    ServerAction action;
    double timeout;            /* of the channel; 0: default */
    /* out */
    gboolean ok;
    GError *error;
    char *peer_dn;
    double seconds;            /* the handshake's duration */
    guint64 echoed;
} Server;

static gpointer
server_thread(gpointer data)
{
    Server *s = data;
    g_autoptr(FmChannel) channel = g_steal_pointer(&s->channel);
    gint64 t0 = g_get_monotonic_time();

    if (s->timeout > 0)
        fm_channel_set_timeout(channel, s->timeout);
    s->ok = fm_tls_channel_start(channel, s->creds, NULL, &s->peer_dn, &s->error);
    s->seconds = (g_get_monotonic_time() - t0) / 1e6;
    if (!s->ok)
        return NULL;
    if (s->action == SERVER_ECHO) {
        g_autoptr(GByteArray) got = g_byte_array_new();
        guint8 buf[65536];

        for (;;) {
            gssize r = fm_channel_read(channel, buf, sizeof(buf), &s->error);

            if (r < 0) {
                s->ok = FALSE;
                return NULL;
            }
            if (r == 0)
                break;
            g_byte_array_append(got, buf, (guint)r);
        }
        s->echoed = got->len;
        s->ok = fm_channel_write_all(channel, got->data, got->len, &s->error) &&
                fm_channel_shutdown_write(channel, &s->error);
    } else if (s->action == SERVER_SILENT) {
        guint8 byte;

        (void)fm_channel_read(channel, &byte, 1, NULL);
    }
    return NULL;
}

/* Makes a connected pair of channels: *client for this thread, and the server's. */
static void
make_pair(FmChannel **client, FmChannel **server)
{
    g_autoptr(GError) err = NULL;
    int sv[2];

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
    *client = fm_channel_new_from_fd(sv[0], &err);
    g_assert_no_error(err);
    *server = fm_channel_new_from_fd(sv[1], &err);
    g_assert_no_error(err);
}

/* Connects a client with the credentials in @client_dir (checking @hostname) to a
 * server with @server_creds that only shakes hands; returns the client's verdict
 * (its error in @error), the server's in @s. */
static gboolean
run_pair(const char *client_dir, FmTlsCreds *server_creds, const char *hostname,
         Server *s, GError **error)
{
    g_autoptr(FmTlsCreds) creds = load_creds(FM_TLS_CLIENT, client_dir);
    g_autoptr(FmChannel) client = NULL;
    GThread *thread;
    gboolean ok;

    make_pair(&client, &s->channel);
    s->creds = server_creds;
    s->action = SERVER_HANDSHAKE_ONLY;
    thread = g_thread_new("tls-server", server_thread, s);
    ok = fm_tls_channel_start(client, creds, hostname, NULL, error);
    g_clear_pointer(&client, fm_channel_free);   /* the server may wait for our end */
    g_thread_join(thread);
    return ok;
}

static void
server_clear(Server *s)
{
    g_clear_error(&s->error);
    g_clear_pointer(&s->peer_dn, g_free);
}

/* Asserts that @err is (@code) and contains @part. */
static void
assert_error(const GError *err, int code, const char *part)
{
    g_assert_nonnull(err);
    if (!g_error_matches(err, FM_ERROR, code) || strstr(err->message, part) == NULL)
        g_error("expected an error with code %d containing '%s', got code %d: %s",
                code, part, err->code, err->message);
}

/* ---- the tests ---- */

/* Data both ways through the session: writes, gathered writes, exact reads,
 * half-close with close_notify; the counters count the users' bytes. */
static void
test_roundtrip(void)
{
    g_autoptr(FmTlsCreds) server_creds = load_creds(FM_TLS_SERVER, "server");
    g_autoptr(FmTlsCreds) client_creds = load_creds(FM_TLS_CLIENT, "client");
    g_autoptr(FmChannel) client = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *peer = NULL;
    g_autofree guint8 *data = g_malloc(3 * 1024 * 1024 + 5);
    g_autofree guint8 *back = g_malloc(3 * 1024 * 1024 + 5);
    gsize len = 3 * 1024 * 1024 + 5;
    Server s = { 0 };
    GThread *thread;
    FmIoVector vec[3];
    guint8 extra;

    for (gsize i = 0; i < len; i++)
        data[i] = (guint8)(i * 7 + (i >> 13));
    make_pair(&client, &s.channel);
    s.creds = server_creds;
    s.action = SERVER_ECHO;
    thread = g_thread_new("tls-server", server_thread, &s);
    g_assert_true(fm_tls_channel_start(client, client_creds, "localhost", &peer, &err));
    g_assert_no_error(err);
    g_assert_true(fm_channel_has_layer(client));
    g_assert_cmpstr(peer, ==, "CN=localhost,O=fragmig,C=GB");

    /* small pieces gathered (one corked record) and large ones */
    vec[0] = (FmIoVector){ data, 5 };
    vec[1] = (FmIoVector){ data + 5, 1000 };
    vec[2] = (FmIoVector){ data + 1005, 2000 };
    g_assert_true(fm_channel_writev_all(client, vec, 3, &err));
    g_assert_no_error(err);
    vec[0] = (FmIoVector){ data + 3005, 1024 * 1024 };
    vec[1] = (FmIoVector){ data + 3005 + 1024 * 1024, len - 3005 - 1024 * 1024 };
    g_assert_true(fm_channel_writev_all(client, vec, 2, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(fm_channel_get_bytes_written(client), ==, len);
    g_assert_true(fm_channel_shutdown_write(client, &err));
    g_assert_no_error(err);

    g_assert_true(fm_channel_read_exact(client, back, len, &err));
    g_assert_no_error(err);
    g_assert_true(memcmp(data, back, len) == 0);
    g_assert_cmpuint(fm_channel_get_bytes_read(client), ==, len);
    /* close_notify: a clean end of file.  The server has sent it once its thread
     * is over, not necessarily when the last data arrived: join it first. */
    g_thread_join(thread);
    g_assert_true(fm_channel_poll_readable(client));
    g_assert_cmpint(fm_channel_read(client, &extra, 1, &err), ==, 0);
    g_assert_no_error(err);

    g_assert_no_error(s.error);
    g_assert_true(s.ok);
    g_assert_cmpstr(s.peer_dn, ==, "CN=client1,O=fragmig,C=GB");
    g_assert_cmpuint(s.echoed, ==, len);
    server_clear(&s);
}

/* Runs one handshake of the client in @client_dir (checking @hostname) against
 * the server credentials in @server_dir with the allow-list @allowed; returns the
 * client's verdict, the errors in @client_err and @s. */
static gboolean
handshake(const char *client_dir, const char *server_dir, const char *const *allowed,
          const char *hostname, GError **client_err, Server *s)
{
    g_autoptr(FmTlsCreds) server_creds = load_creds(FM_TLS_SERVER, server_dir);

    g_assert_true(fm_tls_creds_set_allowed_dns(server_creds, allowed, NULL));
    return run_pair(client_dir, server_creds, hostname, s, client_err);
}

/* The server's name may be checked as a DNS name or an IP address, or not at all. */
static void
test_hostname_ok(void)
{
    const char *names[] = { "localhost", "127.0.0.1", NULL };

    for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
        g_autoptr(GError) err = NULL;
        Server s = { 0 };

        g_assert_true(handshake("client", "server", NULL, names[i], &err, &s));
        g_assert_no_error(err);
        g_assert_true(s.ok);
        server_clear(&s);
    }
}

/* A server certificate for another host is refused by the client. */
static void
test_hostname_wrong(void)
{
    g_autoptr(GError) err = NULL;
    Server s = { 0 };

    g_assert_false(handshake("client", "server", NULL, "evil.example", &err, &s));
    assert_error(err, FM_ERROR_VERIFY, "(CN=localhost,O=fragmig,C=GB) is not for the host 'evil.example'");
    g_assert_false(s.ok);
    assert_error(s.error, FM_ERROR_VERIFY, "refused the handshake");
    server_clear(&s);
}

/* A client that trusts another CA refuses the server. */
static void
test_client_wrong_ca(void)
{
    g_autoptr(GError) err = NULL;
    Server s = { 0 };

    g_assert_false(handshake("client-other-ca", "server", NULL, "localhost", &err, &s));
    assert_error(err, FM_ERROR_VERIFY, "is not signed by our CA");
    g_assert_false(s.ok);
    assert_error(s.error, FM_ERROR_VERIFY, "the client fd:");
    server_clear(&s);
}

/* Client certificates the server must refuse, with the reason on both sides. */
static void
test_client_refused(void)
{
    static const struct {
        const char *dir;
        const char *server_says;
    } cases[] = {
        { "client-foreign", "(CN=client1,O=fragmig,C=GB) is not signed by our CA" },
        { "client-expired", "(CN=old,O=fragmig,C=GB) has expired" },
        { "client-future", "(CN=future,O=fragmig,C=GB) is not valid yet" },
    };

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) err = NULL;
        Server s = { 0 };

        g_test_message("client credentials %s", cases[i].dir);
        g_assert_false(handshake(cases[i].dir, "server", NULL, "localhost", &err, &s));
        assert_error(err, FM_ERROR_VERIFY, "refused our certificate");
        g_assert_false(s.ok);
        assert_error(s.error, FM_ERROR_VERIFY, cases[i].server_says);
        server_clear(&s);
    }
}

/* The DN allow-list: globs as libvirt's tls_allowed_dn_list. */
static void
test_allowed_dn(void)
{
    const char *match[] = { "*,C=FR", "CN=client?,O=fragmig,C=GB", NULL };
    const char *exact[] = { "CN=client1,O=fragmig,C=GB", NULL };
    const char *other[] = { "CN=client2,O=fragmig,C=GB", "CN=admin,*", NULL };
    g_autoptr(GError) err = NULL;
    Server s = { 0 };

    g_assert_true(handshake("client", "server", match, "localhost", &err, &s));
    g_assert_no_error(err);
    g_assert_true(s.ok);
    server_clear(&s);

    g_assert_true(handshake("client", "server", exact, "localhost", &err, &s));
    g_assert_no_error(err);
    g_assert_true(s.ok);
    server_clear(&s);

    g_assert_false(handshake("client", "server", other, "localhost", &err, &s));
    assert_error(err, FM_ERROR_VERIFY, "refused our certificate");
    g_assert_false(s.ok);
    assert_error(s.error, FM_ERROR_VERIFY,
                 "(CN=client1,O=fragmig,C=GB) is not in the list of allowed distinguished names");
    server_clear(&s);
}

/* The allow-list's patterns on parsed DNs (fm-dn.h): a glob never spans RDNs, so a
 * value holding ",CN=admin" is not an RDN CN=admin. */
static void
test_dn_pattern(void)
{
    const FmDnAva evil[] = { { "2.5.4.3", "CN", "evil,CN=admin" } };
    const FmDnAva admin[] = { { "2.5.4.3", "CN", "admin" } };
    const FmDnAva org[] = { { "2.5.4.10", "O", "fragmig" } };
    const FmDnAva gb[] = { { "2.5.4.6", "C", "GB" } };
    const FmDnAva multi[] = { { "2.5.4.11", "OU", "a" }, { "2.5.4.3", "CN", "b" } };
    const FmDnAva bad[] = { { "2.5.4.3", "CN", NULL } };
    const FmDnRdn crafted[] = { { evil, 1 }, { org, 1 } };      /* CN=evil\,CN=admin,O=... */
    const FmDnRdn crafted_last[] = { { org, 1 }, { evil, 1 } }; /* O=fragmig,CN=evil\,CN=admin */
    const FmDnRdn real[] = { { admin, 1 }, { org, 1 }, { gb, 1 } };
    const FmDnRdn real_last[] = { { org, 1 }, { admin, 1 } };
    const FmDnRdn plus[] = { { multi, 2 }, { gb, 1 } };
    const FmDnRdn invalid[] = { { bad, 1 } };
    const struct {
        const char *pattern;
        const FmDnRdn *rdns;
        guint n;
        gboolean match;
    } cases[] = {
        { "*,CN=admin", crafted_last, 2, FALSE },
        { "*,CN=admin", real_last, 2, TRUE },
        { "CN=*,O=fragmig", crafted, 2, TRUE },      /* a glob on the one value */
        { "CN=admin,*", crafted, 2, FALSE },
        { "CN=admin,*", real, 3, TRUE },
        { "CN=evil\\,CN=admin,O=fragmig", crafted, 2, TRUE },
        { "cn=ADMIN,o=fragmig,c=GB", real, 3, FALSE },  /* names any case, values exact */
        { "cn=admin,o=fragmig,c=GB", real, 3, TRUE },
        { "2.5.4.3=admin,O=fragmig,C=GB", real, 3, TRUE },
        { "CN=admin,O=fragmig", real, 3, FALSE },     /* every RDN, not a prefix */
        { "*,O=fragmig,C=GB", real, 3, TRUE },
        { "*,*,C=GB", real, 3, TRUE },
        { "*,*,*,C=GB", real, 3, FALSE },             /* "*" is at least one RDN */
        { "CN=b+OU=a,C=GB", plus, 2, TRUE },
        { "OU=a,CN=b,C=GB", plus, 2, FALSE },
        { "CN=*", invalid, 1, FALSE },                /* a value that is not text */
    };
    const char *bad_patterns[] = { "CN", "CN=a,,O=b", "=x", "CN=a\\", NULL };

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) err = NULL;
        g_autoptr(FmDnPattern) p = fm_dn_pattern_parse(cases[i].pattern, &err);

        g_assert_no_error(err);
        if (fm_dn_pattern_match(p, cases[i].rdns, cases[i].n) != cases[i].match)
            g_error("pattern %s: expected %s", cases[i].pattern,
                    cases[i].match ? "a match" : "no match");
    }
    for (guint i = 0; bad_patterns[i] != NULL; i++) {
        g_autoptr(GError) err = NULL;

        g_assert_null(fm_dn_pattern_parse(bad_patterns[i], &err));
        g_assert_error(err, FM_ERROR, FM_ERROR_INVALID_ARG);
        g_assert_nonnull(strstr(err->message, "invalid distinguished name pattern"));
    }
}

/* A client that sends a fragmig stream in the clear is told apart at once: with the
 * protocol error, not after the handshake's bound (the timeout's error). */
static void
test_plain_client(void)
{
    g_autoptr(FmTlsCreds) server_creds = load_creds(FM_TLS_SERVER, "server");
    g_autoptr(FmChannel) client = NULL;
    g_autoptr(GError) err = NULL;
    const char header[] = "!GIMGARF\001\000\000\000\000\020\000\000 a plain fragmig stream";
    Server s = { 0 };
    GThread *thread;

    make_pair(&client, &s.channel);
    s.creds = server_creds;
    thread = g_thread_new("tls-server", server_thread, &s);
    g_assert_true(fm_channel_write_all(client, header, sizeof(header), &err));
    g_assert_no_error(err);
    g_thread_join(thread);
    g_assert_false(s.ok);
    assert_error(s.error, FM_ERROR_PROTOCOL, "does not speak TLS (this receiver requires --tls)");
    server_clear(&s);
}

/* A client that sends nothing does not hold the server beyond the handshake bound:
 * the bound's error, never before the bound (when after it depends on the host). */
static void
test_silent_client(void)
{
    g_autoptr(FmTlsCreds) server_creds = load_creds(FM_TLS_SERVER, "server");
    g_autoptr(FmChannel) client = NULL;
    Server s = { 0 };
    GThread *thread;

    fm_tls_creds_set_handshake_timeout(server_creds, 0.3);
    make_pair(&client, &s.channel);
    s.creds = server_creds;
    thread = g_thread_new("tls-server", server_thread, &s);
    g_thread_join(thread);
    g_assert_false(s.ok);
    assert_error(s.error, FM_ERROR_IO, "within 0.3 s");
    g_assert_cmpfloat(s.seconds, >=, 0.25);
    server_clear(&s);
}

/* A destination that answers in the clear (a receiver without --tls). */
static void
test_plain_server(void)
{
    g_autoptr(FmTlsCreds) creds = load_creds(FM_TLS_CLIENT, "client");
    g_autoptr(FmChannel) client = NULL;
    g_autoptr(FmChannel) server = NULL;
    g_autoptr(GError) err = NULL;
    guint8 hello[5];

    make_pair(&client, &server);
    /* the answer is there before the client asks: the socket buffers it */
    g_assert_true(fm_channel_write_all(server, "\003\000\000\000 bad magic", 14, &err));
    g_assert_no_error(err);
    g_assert_false(fm_tls_channel_start(client, creds, "localhost", NULL, &err));
    assert_error(err, FM_ERROR_PROTOCOL, "does not speak TLS (is it running with --tls?)");
    /* and what the client sent was a TLS handshake record */
    g_assert_true(fm_channel_read_exact(server, hello, sizeof(hello), NULL));
    g_assert_cmpint(hello[0], ==, 0x16);
    g_assert_cmpint(hello[1], ==, 0x03);
}

/* Missing credentials are named. */
static void
test_missing_files(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *ca_only = g_build_filename(pki, "ca-only", NULL);
    g_autofree char *server = g_build_filename(pki, "server", NULL);
    g_autofree char *empty = g_build_filename(pki, "empty", NULL);
    g_autofree char *want = NULL;
    FmTlsCreds *creds;

    creds = fm_tls_creds_new(FM_TLS_SERVER, ca_only, &err);
    g_assert_null(creds);
    want = g_strdup_printf("TLS: the server certificate %s/server-cert.pem does not exist", ca_only);
    assert_error(err, FM_ERROR_CONFIG, want);
    g_clear_error(&err);

    /* the server's directory has no client certificate */
    creds = fm_tls_creds_new(FM_TLS_CLIENT, server, &err);
    g_assert_null(creds);
    assert_error(err, FM_ERROR_CONFIG, "client-cert.pem does not exist");
    g_clear_error(&err);

    g_assert_cmpint(g_mkdir_with_parents(empty, 0700), ==, 0);
    creds = fm_tls_creds_new(FM_TLS_CLIENT, empty, &err);
    g_assert_null(creds);
    if (g_file_test(FM_TLS_FALLBACK_CA, G_FILE_TEST_EXISTS))
        assert_error(err, FM_ERROR_CONFIG, "client-cert.pem does not exist");
    else
        assert_error(err, FM_ERROR_CONFIG, "no CA certificate: neither");
}

/* Starts a session to a server doing @action; returns the client channel. */
static FmChannel *
start_client(FmTlsCreds *client_creds, FmTlsCreds *server_creds, ServerAction action,
             Server *s, GThread **thread)
{
    g_autoptr(GError) err = NULL;
    FmChannel *client = NULL;

    make_pair(&client, &s->channel);
    s->creds = server_creds;
    s->action = action;
    *thread = g_thread_new("tls-server", server_thread, s);
    g_assert_true(fm_tls_channel_start(client, client_creds, "localhost", NULL, &err));
    g_assert_no_error(err);
    return client;
}

/* The bandwidth limit applies to the data written through the session. */
static void
test_bandwidth(void)
{
    g_autoptr(FmTlsCreds) server_creds = load_creds(FM_TLS_SERVER, "server");
    g_autoptr(FmTlsCreds) client_creds = load_creds(FM_TLS_CLIENT, "client");
    g_autoptr(GError) err = NULL;
    g_autofree guint8 *data = g_malloc0(600 * 1000);
    FmChannel *client;
    Server s = { 0 };
    GThread *thread;
    gint64 t0;
    double seconds;

    client = start_client(client_creds, server_creds, SERVER_ECHO, &s, &thread);
    fm_channel_set_bandwidth(client, 2000 * 1000);
    t0 = g_get_monotonic_time();
    g_assert_true(fm_channel_write_all(client, data, 600 * 1000, &err));
    g_assert_no_error(err);
    seconds = (g_get_monotonic_time() - t0) / 1e6;
    /* 600 kB at 2 MB/s with a 10 ms bucket: at least 0.29 s */
    g_assert_cmpfloat(seconds, >=, 0.28);
    fm_channel_free(client);
    g_thread_join(thread);
    server_clear(&s);
}

/* The channel's timeout bounds a read through the session: its error, not before. */
static void
test_read_timeout(void)
{
    g_autoptr(FmTlsCreds) server_creds = load_creds(FM_TLS_SERVER, "server");
    g_autoptr(FmTlsCreds) client_creds = load_creds(FM_TLS_CLIENT, "client");
    g_autoptr(GError) err = NULL;
    FmChannel *client;
    Server s = { 0 };
    GThread *thread;
    guint8 byte;
    gint64 t0;

    client = start_client(client_creds, server_creds, SERVER_SILENT, &s, &thread);
    fm_channel_set_timeout(client, 0.3);
    t0 = g_get_monotonic_time();
    g_assert_cmpint(fm_channel_read(client, &byte, 1, &err), ==, -1);
    assert_error(err, FM_ERROR_IO, "timed out after 0.3 s waiting for the peer");
    g_assert_cmpfloat((g_get_monotonic_time() - t0) / 1e6, >=, 0.29);
    fm_channel_free(client);
    g_thread_join(thread);
    server_clear(&s);
}

/* The host name a client checks by default. */
static void
test_hostname_from_address(void)
{
    static const struct {
        const char *address;
        const char *host;
    } cases[] = {
        { "tcp://dest.example:4444", "dest.example" },
        { "tcp://127.0.0.1:1", "127.0.0.1" },
        { "tcp://[::1]:4444", "::1" },
        { "tcp://[fe80::1]", "fe80::1" },
        { "tcp://:4444", NULL },
        { "unix:/run/x.sock", NULL },
        { "fd:3", NULL },
    };

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *host = fm_tls_hostname_from_address(cases[i].address);

        g_assert_cmpstr(host, ==, cases[i].host);
    }
}

int
main(int argc, char **argv)
{
    int status;

    g_test_init(&argc, &argv, NULL);
    g_assert_true(fm_tls_available());
    make_pki();
    g_test_add_func("/tls/roundtrip", test_roundtrip);
    g_test_add_func("/tls/hostname-ok", test_hostname_ok);
    g_test_add_func("/tls/hostname-wrong", test_hostname_wrong);
    g_test_add_func("/tls/client-wrong-ca", test_client_wrong_ca);
    g_test_add_func("/tls/client-refused", test_client_refused);
    g_test_add_func("/tls/allowed-dn", test_allowed_dn);
    g_test_add_func("/tls/dn-pattern", test_dn_pattern);
    g_test_add_func("/tls/plain-client", test_plain_client);
    g_test_add_func("/tls/silent-client", test_silent_client);
    g_test_add_func("/tls/plain-server", test_plain_server);
    g_test_add_func("/tls/missing-files", test_missing_files);
    g_test_add_func("/tls/bandwidth", test_bandwidth);
    g_test_add_func("/tls/read-timeout", test_read_timeout);
    g_test_add_func("/tls/hostname-from-address", test_hostname_from_address);
    status = g_test_run();
    remove_pki();
    return status;
}
