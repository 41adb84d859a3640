#!/bin/sh
# test-tls.sh: `fragmig migrate --tls` into `fragmig receive --tls` end to end, with a
# CA and certificates made by certtool (gnutls-bin) in libvirt's file layout: a
# migration with valid credentials is verified and resumed; a wrong CA on either
# side, an expired or unlisted client certificate, a wrong host name, a plain-TCP
# client against a TLS receiver (and the reverse), a client that never starts the
# handshake, and missing credentials are all refused, each with its reason, and the
# source guest keeps running.  TAP.  Needs $FRAGMIG, $FM_TEST_DATA and certtool.
set -u
: "${FRAGMIG:?}" "${FM_TEST_DATA:?}"
if ! command -v certtool >/dev/null 2>&1; then
    echo "1..0 # SKIP certtool (gnutls-bin) is not installed"
    exit 0
fi
. "$(dirname "$0")/guest-lib.sh"
guest_test_begin tls
GUEST_ARGS="--memory 16M --workload web --rate 10%"
# Every --timeout is a guard against hangs, never reached on a working build however
# loaded the host, except the one a case tests (the silent client's handshake bound).
RECV_TIMEOUT=120

# stop PID...: ends the given background processes and reaps them
stop() {
    kill "$@" 2>/dev/null
    for p in "$@"; do wait "$p" 2>/dev/null; done
}

# migrate ARGS...: migrates $guest to $addr with ARGS; status in $st
migrate() {
    timeout 600 "$FRAGMIG" migrate --pid "$guest" --quiet --format csv --timeout 120 "$@" "$addr" \
        >"$tmp/mig.out" 2>"$tmp/mig.err"
    st=$?
}

# ---- the credentials, in libvirt's layout: one directory per end ----
pki=$tmp/pki
mkdir -p "$pki/ca" "$pki/other-ca"
# key FILE: a new ECDSA key
key() { certtool --generate-privkey --key-type=ecdsa --outfile "$1" >/dev/null 2>&1; }
# ca DIR CN: a self-signed CA in DIR (ca-cert.pem, ca-key.pem)
ca() {
    key "$1/ca-key.pem"
    printf 'cn = "%s"\norganization = "fragmig"\nca\ncert_signing_key\ncrl_signing_key\nexpiration_days = 30\n' "$2" >"$1/ca.info"
    certtool --generate-self-signed --load-privkey "$1/ca-key.pem" --template "$1/ca.info" \
        --outfile "$1/ca-cert.pem" >/dev/null 2>&1
}
# cert CA_DIR DIR ROLE TEMPLATE_LINES: DIR/ROLE-cert.pem and DIR/ROLE-key.pem signed by
# the CA of CA_DIR, DIR/ca-cert.pem that CA
cert() {
    mkdir -p "$2"
    key "$2/$3-key.pem"
    printf '%b' "$4" >"$2/$3.info"
    certtool --generate-certificate --load-privkey "$2/$3-key.pem" \
        --load-ca-certificate "$1/ca-cert.pem" --load-ca-privkey "$1/ca-key.pem" \
        --template "$2/$3.info" --outfile "$2/$3-cert.pem" >/dev/null 2>&1
    cp "$1/ca-cert.pem" "$2/ca-cert.pem"
}
ca "$pki/ca" "fragmig test CA"
ca "$pki/other-ca" "another CA"
client_lines='organization = "fragmig"\ntls_www_client\nsigning_key\nencryption_key\n'
cert "$pki/ca" "$pki/server" server \
    'cn = "localhost"\norganization = "fragmig"\ndns_name = "localhost"\nip_address = "127.0.0.1"\ntls_www_server\nsigning_key\nencryption_key\nexpiration_days = 30\n'
cert "$pki/ca" "$pki/client" client "cn = \"client1\"\n${client_lines}expiration_days = 30\n"
cert "$pki/ca" "$pki/expired" client \
    "cn = \"old\"\n${client_lines}activation_date = \"2020-01-01 00:00:00\"\nexpiration_date = \"2021-01-01 00:00:00\"\n"
# a CN that holds a comma: its DN is written O=fragmig,CN=evil\,CN=admin
cert "$pki/ca" "$pki/crafted" client "cn = \"evil,CN=admin\"\n${client_lines}expiration_days = 30\n"
cert "$pki/other-ca" "$pki/foreign" client "cn = \"client1\"\n${client_lines}expiration_days = 30\n"
cp "$pki/ca/ca-cert.pem" "$pki/foreign/ca-cert.pem"   # trusts our CA, signed by another
mkdir -p "$pki/distrust"                              # the client's own, trusting another CA
cp "$pki/client/client-cert.pem" "$pki/client/client-key.pem" "$pki/distrust/"
cp "$pki/other-ca/ca-cert.pem" "$pki/distrust/ca-cert.pem"
check "certtool made the credentials" \
    '[ -s "$pki/server/server-cert.pem" ] && [ -s "$pki/client/client-cert.pem" ] && [ -s "$pki/expired/client-cert.pem" ] && [ -s "$pki/foreign/client-cert.pem" ] && [ -s "$pki/crafted/client-cert.pem" ]'

# ---- valid credentials: verified, resumed, the client's DN logged ----
if start_guest && start_receiver --tls --tls-dir "$pki/server" --tls-allowed-dn '*,CN=admin' \
        --tls-allowed-dn 'O=fragmig,CN=client?'; then
    migrate --tls --tls-dir "$pki/client"
    for _ in $(seq 300); do grep -q 'resumed' "$tmp/recv.out" && break; sleep 0.1; done
    check "TLS migration verified and resumed" \
        '[ $st -eq 0 ] && grep -q ",yes," "$tmp/mig.out" && grep -q "^fragmig receive: guest verified .* and resumed" "$tmp/recv.out" && advancing "$receiver"'
    check "the receiver logs the client's certificate" \
        'grep -q "^fragmig receive: TLS connection from tcp://127.0.0.1:[0-9]*, certificate O=fragmig,CN=client1$" "$tmp/recv.out"'
else
    notok "TLS migration: start"; notok "TLS migration: start"
fi
stop "$receiver" "$guest"

# refused WHAT CLIENT_DIR MIGRATE_MESSAGE RECEIVER_MESSAGE [MIGRATE_ARGS] [RECEIVER_ARGS]:
# a migration that must fail on both sides with the given reasons, the guest unharmed
refused() {
    what=$1 dir=$2 mig_msg=$3 recv_msg=$4 margs=${5:-} rargs=${6:-}
    if ! start_guest || ! start_receiver --tls --tls-dir "$pki/server" $rargs; then
        notok "$what: start"; return
    fi
    # shellcheck disable=SC2086
    migrate --tls --tls-dir "$pki/$dir" $margs
    # the receiver refuses the connection, says why, and goes on listening
    wait_line "$tmp/recv.err" '/refused a connection from/p' >/dev/null
    if [ "$st" -ne 1 ]; then notok "$what: migrate exit $st"
    elif ! grep -qF -- "$mig_msg" "$tmp/mig.err"; then echo "# migrate lacks: $mig_msg" >>"$tmp/mig.err"; notok "$what: migrate's reason"
    elif ! grep -q "failed, the guest keeps running here" "$tmp/mig.err" || ! advancing "$guest"; then notok "$what: guest keeps running"
    elif ! kill -0 "$receiver" 2>/dev/null || ! grep -qF -- "$recv_msg" "$tmp/recv.err"; then echo "# receiver lacks: $recv_msg, or stopped" >>"$tmp/recv.err"; notok "$what: receiver's reason, still listening"
    else ok "$what: refused on both sides, the guest keeps running, the receiver listens on"
    fi
    stop "$receiver" "$guest"
}

refused "client certificate from another CA" foreign \
    "refused our certificate" "(O=fragmig,CN=client1) is not signed by our CA"
refused "expired client certificate" expired \
    "refused our certificate" "(O=fragmig,CN=old) has expired"
refused "client DN not in --tls-allowed-dn" client \
    "refused our certificate" "(O=fragmig,CN=client1) is not in the list of allowed distinguished names" \
    "" "--tls-allowed-dn O=fragmig,CN=client2"
refused "a CN 'evil,CN=admin' against the pattern *,CN=admin" crafted \
    "refused our certificate" "is not in the list of allowed distinguished names" \
    "" "--tls-allowed-dn *,CN=admin"
refused "client trusts another CA" distrust \
    "(O=fragmig,CN=localhost) is not signed by our CA" "refused the handshake"
refused "server certificate for another host" client \
    "(O=fragmig,CN=localhost) is not for the host 'dest.example'" "refused the handshake" \
    "--tls-hostname dest.example"

# ---- a plain-TCP source against a TLS receiver ----
if start_guest && start_receiver --tls --tls-dir "$pki/server"; then
    t0=$(date +%s)
    migrate
    wait_line "$tmp/recv.err" '/refused a connection from/p' >/dev/null
    t1=$(date +%s)
    check "plain client: migrate refused with the receiver's reason, guest running" \
        '[ $st -eq 1 ] && grep -q "does not speak TLS (this receiver requires --tls)" "$tmp/mig.err" && advancing "$guest"'
    check "plain client: the receiver says so at once, and listens on" \
        'kill -0 "$receiver" && grep -q "refused a connection from tcp://127.0.0.1:[0-9]*: TLS: the client tcp://127.0.0.1:[0-9]* does not speak TLS" "$tmp/recv.err" && [ $((t1 - t0)) -lt 10 ]'
else
    notok "plain client: start"; notok "plain client: start"
fi
stop "$receiver" "$guest"

# ---- a TLS source against a plain receiver ----
if start_guest && start_receiver; then
    migrate --tls --tls-dir "$pki/client"
    check "plain receiver: migrate says it does not speak TLS, guest running" \
        '[ $st -eq 1 ] && grep -q "the destination tcp://127.0.0.1:[0-9]* does not speak TLS (is it running with --tls?)" "$tmp/mig.err" && advancing "$guest"'
else
    notok "plain receiver: start"
fi
stop "$receiver" "$guest"

# ---- a client that connects and says nothing: bounded by the handshake timeout ----
if start_receiver --tls --tls-dir "$pki/server" --timeout 2; then
    port=${addr##*:}
    # connects and only reads: the receiver hears nothing from it
    socat -u TCP:127.0.0.1:"$port" STDOUT >/dev/null 2>&1 &
    silent=$!
    pids="$pids $silent"
    wait_exit "$receiver" 120
    check "silent client: the receiver gives up after the handshake timeout" \
        '[ $status -eq 1 ] && grep -q "TLS: no handshake from tcp://127.0.0.1:[0-9]* within 2 s" "$tmp/recv.err"'
    stop "$silent"
else
    notok "silent client: start"
fi

# ---- several TLS migrations at once into one receiver ----
if start_receiver --tls --tls-dir "$pki/server" --parallel 3 --no-resume; then
    guests=""
    migs=""
    for i in 1 2 3; do
        start_guest || true
        guests="$guests $guest"
        timeout 600 "$FRAGMIG" migrate --pid "$guest" --quiet --format csv --tls --tls-dir "$pki/client" \
            "$addr" >"$tmp/par$i.out" 2>"$tmp/par$i.err" &
        migs="$migs $!"
    done
    okcount=0
    for m in $migs; do wait "$m" && okcount=$((okcount + 1)); done
    for _ in $(seq 300); do [ "$(grep -c 'guest verified' "$tmp/recv.out")" -ge 3 ] && break; sleep 0.1; done
    check "3 TLS migrations at once: all verified" \
        '[ $okcount -eq 3 ] && [ "$(grep -c "^fragmig receive: guest verified" "$tmp/recv.out")" -eq 3 ] && [ "$(grep -c "^fragmig receive: TLS connection from" "$tmp/recv.out")" -eq 3 ]'
    # shellcheck disable=SC2086
    stop "$receiver" $guests
else
    notok "3 TLS migrations at once: start"
fi

# ---- credentials and usage errors ----
"$FRAGMIG" receive --listen tcp://127.0.0.1:0 --tls --tls-dir "$pki/client" >"$tmp/r.out" 2>"$tmp/r.err"
check "receiver without a server certificate" \
    "[ \$? -eq 1 ] && grep -qF 'TLS: the server certificate $pki/client/server-cert.pem does not exist' '$tmp/r.err'"
"$FRAGMIG" migrate --pid 1 --tls --tls-dir "$tmp/nowhere" tcp://127.0.0.1:9 >"$tmp/r.out" 2>"$tmp/r.err"
check "migrate without credentials" \
    "[ \$? -eq 1 ] && grep -q 'TLS: \\(no CA certificate: neither $tmp/nowhere/ca-cert.pem nor\\|the client certificate $tmp/nowhere/client-cert.pem does not exist\\)' '$tmp/r.err'"
"$FRAGMIG" receive --listen tcp://127.0.0.1:0 --tls-allowed-dn 'CN=*' >"$tmp/r.out" 2>"$tmp/r.err"
check "--tls-allowed-dn needs --tls" "[ \$? -eq 2 ] && grep -q 'need --tls' '$tmp/r.err'"
"$FRAGMIG" migrate --pid 1 --tls-hostname x tcp://127.0.0.1:9 >"$tmp/r.out" 2>"$tmp/r.err"
check "--tls-hostname needs --tls" "[ \$? -eq 2 ] && grep -q 'need --tls' '$tmp/r.err'"

echo "1..$n"
[ "$fails" -eq 0 ]
