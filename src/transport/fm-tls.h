/*
 * fm-tls.h: TLS (GnuTLS, x509) as a layer of an FmChannel, so that nobody without
 * the right credentials can push memory into a receiver or receive a guest.
 *
 * Credentials follow libvirt's layout for migration.  In the directory DIR
 * (FM_TLS_DEFAULT_DIR, /etc/pki/libvirt-migrate, unless --tls-dir says otherwise):
 *   ca-cert.pem       the CA that signs both ends (when DIR has none:
 *                     FM_TLS_FALLBACK_CA, /etc/pki/CA/cacert.pem, libvirt's CA)
 *   ca-crl.pem        optional revocation list (fallback /etc/pki/CA/cacrl.pem)
 *   server-cert.pem   the receiver's certificate and its key, server-key.pem
 *   client-cert.pem   the migrating source's certificate and its key, client-key.pem
 * the same file names as QEMU's and libvirt's migrate_tls_x509_cert_dir.
 *
 * Both ends verify the other during the handshake: the chain up to the CA, the
 * activation and expiration times and the revocation list; the client also checks
 * that the server's certificate names the host it connected to (DNS name or IP
 * address in the subjectAltName, or the CN); the server requires a client
 * certificate and, when an allow-list was set, a distinguished name matching one of
 * its patterns, written as RFC 4514 and gnutls_x509_crt_get_dn2() write a DN, the
 * certificate's last part first, and compared on the parsed DN, RDN by RDN
 * (fm-dn.h): "CN=client1,O=Example,C=GB" matches "CN=*,O=Example,C=GB", and a CN
 * "evil,CN=admin" does not match "*,CN=admin".  The receiver logs
 * each client's DN, ready to be copied into the list.
 * After the server accepted the client, it sends one acceptance byte that the
 * client waits for: in TLS 1.3 the client's handshake ends before the server has
 * judged its certificate, and this way a refusal is the client's handshake error,
 * not a broken pipe somewhere in the stream.
 *
 * Every refusal is an error naming its cause: FM_ERROR_VERIFY for a certificate
 * (unknown CA, expired, not yet valid, revoked, wrong host name, DN not allowed,
 * no certificate) and for a peer refusing ours; FM_ERROR_PROTOCOL for a peer that
 * does not speak TLS at all; FM_ERROR_IO for a handshake timeout or a lost
 * connection; FM_ERROR_CONFIG for credentials that cannot be loaded;
 * FM_ERROR_UNSUPPORTED when fragmig was built without GnuTLS.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include "transport/fm-channel.h"

G_BEGIN_DECLS

#define FM_TLS_DEFAULT_DIR   "/etc/pki/libvirt-migrate"
#define FM_TLS_FALLBACK_CA   "/etc/pki/CA/cacert.pem"
#define FM_TLS_FALLBACK_CRL  "/etc/pki/CA/cacrl.pem"
/* A server's bound on the whole handshake, in seconds (or the channel's timeout if
 * it is shorter): a client that does not speak TLS and sends nothing must not hold
 * a receiver for the whole migration timeout.  A client's bound is its channel's
 * timeout: a busy receiver may keep it in the listen queue for a while. */
#define FM_TLS_HANDSHAKE_TIMEOUT 10.0

typedef enum {
    FM_TLS_CLIENT,   /* the migrating source: client-cert.pem, client-key.pem */
    FM_TLS_SERVER,   /* the receiver: server-cert.pem, server-key.pem */
} FmTlsRole;

typedef struct _FmTlsCreds FmTlsCreds;

/* Returns TRUE if this build has TLS (GnuTLS). */
gboolean fm_tls_available(void);

/* Loads the CA, the optional CRL, and @role's certificate and key from @dir (NULL:
 * FM_TLS_DEFAULT_DIR).  Returns new credentials (free with fm_tls_creds_free()),
 * or NULL with @error naming the file that is missing or invalid. */
FmTlsCreds *fm_tls_creds_new(FmTlsRole role, const char *dir, GError **error);

/* Server only: accept only client certificates whose DN matches one of the
 * @patterns (NULL-terminated), compared RDN by RDN on the parsed DN (fm-dn.h: a
 * glob never reaches across an RDN, whatever the values hold).  NULL or empty: any
 * certificate the CA signed (the default).  Returns FALSE with @error
 * (FM_ERROR_INVALID_ARG) for a pattern that does not parse; the list is then
 * unchanged. */
gboolean fm_tls_creds_set_allowed_dns(FmTlsCreds *creds, const char *const *patterns,
                                      GError **error);

/* Sets the handshake's bound (seconds > 0; default FM_TLS_HANDSHAKE_TIMEOUT for a
 * server, the channel's timeout for a client). */
void fm_tls_creds_set_handshake_timeout(FmTlsCreds *creds, double seconds);

/* Frees @creds; NULL ok.  Channels started with them must be freed first. */
void fm_tls_creds_free(FmTlsCreds *creds);

/* Runs the TLS handshake on @channel (borrowed, nothing sent or read on it yet)
 * with @creds (borrowed; they must outlive the channel), verifies the peer as the
 * header says and attaches the session as the channel's layer.  @hostname (client
 * only; NULL for the server) is the name the server's certificate must carry; NULL
 * checks the chain but no name.  Returns TRUE, with the peer's DN in @peer_dn
 * (caller frees; may be NULL), or FALSE with @error; the channel is then unusable
 * for data and should be freed. */
gboolean fm_tls_channel_start(FmChannel *channel, FmTlsCreds *creds,
                              const char *hostname, char **peer_dn, GError **error);

/* Returns the host name of a "tcp://HOST:PORT" address (caller frees), the name a
 * client checks by default; NULL for other addresses (unix:, fd:). */
char *fm_tls_hostname_from_address(const char *address);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(FmTlsCreds, fm_tls_creds_free)

G_END_DECLS
