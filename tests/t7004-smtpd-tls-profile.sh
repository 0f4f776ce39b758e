#!/bin/sh
# t7004-smtpd-tls-profile - the listener's TLS offer is Mozilla's
# "intermediate" profile: TLS 1.3, and TLS 1.2 with ECDHE and AEAD suites
# only (no RSA key exchange, no CBC); TLS 1.1 is refused.
# smtpd_tls_ciphers widens TLS 1.2 for operators who must, and a list
# OpenSSL cannot use is refused at start (78).
. "$(dirname "$0")/test-lib.sh"

openssl req -x509 -newkey rsa:2048 -nodes \
	-keyout "$T/key.pem" -out "$T/cert.pem" -days 2 -subj /CN=mailfs.test \
	>/dev/null 2>&1 || test_fail_all "openssl cannot make a certificate"
PORT=$(free_port)
OPTS="listen=127.0.0.1:$PORT,domains=example.test,tls_cert=$T/cert.pem,tls_key=$T/key.pem"
mailfs_start tls -o "$OPTS"

# handshake ARGS...: openssl s_client -starttls smtp with ARGS; prints the
# cipher agreed, or "refused"
handshake() {
	echo QUIT | openssl s_client -starttls smtp -connect 127.0.0.1:$PORT \
		"$@" >"$T/hs.out" 2>&1
	r=$(sed -n "s/^New, .*, Cipher is //p" "$T/hs.out" | head -n 1)
	case $r in
	""|"(NONE)") echo refused ;;
	*) echo "$r" ;;
	esac
}

# refused ARGS... / agreed CIPHER ARGS...
refused() { r=$(handshake "$@"); say "$* -> $r" >&3; test "$r" = refused; }
agreed() { want=$1; shift; r=$(handshake "$@"); say "$* -> $r" >&3; test "$r" = "$want"; }

test_expect_success 'TLS 1.2 with plain RSA key exchange is refused' '
	refused -tls1_2 -cipher AES128-SHA &&
	refused -tls1_2 -cipher AES256-GCM-SHA384 &&
	refused -tls1_2 -cipher AES128-SHA256
'

test_expect_success 'TLS 1.2 with ECDHE but CBC is refused (LUCKY13)' '
	refused -tls1_2 -cipher ECDHE-RSA-AES128-SHA &&
	refused -tls1_2 -cipher ECDHE-RSA-AES256-SHA384
'

test_expect_success 'TLS 1.2 ECDHE with AES-GCM or ChaCha20-Poly1305 is taken' '
	agreed ECDHE-RSA-AES128-GCM-SHA256 -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256 &&
	agreed ECDHE-RSA-AES256-GCM-SHA384 -tls1_2 -cipher ECDHE-RSA-AES256-GCM-SHA384 &&
	agreed ECDHE-RSA-CHACHA20-POLY1305 -tls1_2 -cipher ECDHE-RSA-CHACHA20-POLY1305
'

test_expect_success 'TLS 1.3 is taken, each of its suites' '
	agreed TLS_AES_256_GCM_SHA384 -tls1_3 -ciphersuites TLS_AES_256_GCM_SHA384 &&
	agreed TLS_AES_128_GCM_SHA256 -tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256 &&
	agreed TLS_CHACHA20_POLY1305_SHA256 -tls1_3 -ciphersuites TLS_CHACHA20_POLY1305_SHA256
'

test_expect_success 'TLS 1.1 and 1.0 are refused' '
	refused -tls1_1 -cipher "DEFAULT:@SECLEVEL=0" &&
	refused -tls1 -cipher "DEFAULT:@SECLEVEL=0"
'

test_expect_success 'smtpd_tls_ciphers widens TLS 1.2 for an operator who must' '
	mailfs_stop &&
	mailfs_start wide -o "$OPTS,smtpd_tls_ciphers=DEFAULT" &&
	agreed AES128-SHA -tls1_2 -cipher AES128-SHA &&
	agreed TLS_AES_256_GCM_SHA384 -tls1_3 -ciphersuites TLS_AES_256_GCM_SHA384 &&
	refused -tls1_1 -cipher "DEFAULT:@SECLEVEL=0"
'

test_expect_success 'a cipher list OpenSSL cannot use is refused at start (78)' '
	M=$T/never && mkdir -p "$M" &&
	config_refused smtpd_tls_ciphers -f -o "spool=$T/s2,$OPTS,smtpd_tls_ciphers=NO-SUCH-CIPHER"
'

test_done
