#!/bin/sh
# t8004-relay-auth - logging in to a real smarthost: a throwaway Postfix
# (tests/test-lib.sh postfix_start) that relays only for SASL-authenticated
# clients (Cyrus SASL, sasldb made here with saslpasswd2, AUTH only over
# TLS) onward to smtp-sink. relay_auth with the right password over
# STARTTLS (AUTH PLAIN; LOGIN where only that is offered), a wrong one (deferred with Postfix's 535 in the status file;
# the file fixed, SIGHUP and flush: delivered), TLS from the first byte
# (relay_tls=wrapper, an smtpd with smtpd_tls_wrappermode, the certificate
# verified against the relay's address), relays that offer no AUTH or no
# TLS (deferred, saying so), and a relay_auth file others can read (78).
. "$(dirname "$0")/test-lib.sh"

[ "$(id -u)" -eq 0 ] || test_skip_all "needs root to run Postfix"
command -v postfix >/dev/null && command -v saslpasswd2 >/dev/null &&
	ls /usr/lib/*/sasl2/libsasldb.so >/dev/null 2>&1 ||
	test_fail_all "no postfix, sasl2-bin or libsasl2-modules (tests/deps.sh installs them)"

SINK=127.0.0.1:$(free_port)
SUB=$(free_port)	# STARTTLS, AUTH required to relay (587-style)
SMTPS=$(free_port)	# the same with TLS from the first byte (465-style)
NOAUTH=$(free_port)	# STARTTLS, but no AUTH offered
LOGIN=$(free_port)	# STARTTLS, AUTH LOGIN alone
PF=$T/postfix
start_sink "$SINK"

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
	-addext subjectAltName=IP:127.0.0.1 -keyout "$T/key.pem" \
	-out "$T/cert.pem" >"$T/openssl.log" 2>&1 || test_fail_all "openssl req failed"
# Cyrus reads smtpd.conf from cyrus_sasl_config_path, which Debian's
# Postfix replaces by CONFIG_DIRECTORY/sasl: the same file in both.
mkdir -p "$PF/conf/sasl"
printf '%s\n' "pwcheck_method: auxprop" "auxprop_plugin: sasldb" \
	"mech_list: PLAIN LOGIN" "sasldb_path: $T/sasldb" >"$PF/conf/sasl/smtpd.conf"
sed "s/^mech_list:.*/mech_list: LOGIN/" "$PF/conf/sasl/smtpd.conf" \
	>"$PF/conf/sasl/smtpdlogin.conf"
echo right-pass | saslpasswd2 -f "$T/sasldb" -c -p -u example.test alice ||
	test_fail_all "saslpasswd2 failed"
chown postfix "$T/sasldb"

# auth TEXT: the relay_auth file, owner-only
auth() {
	printf '%s\n' "$1" >"$T/auth" && chmod 600 "$T/auth"
}

# sunk SUBJECT: smtp-sink got the message (through Postfix)
sunk() {
	grep -l "^Subject: $1\$" "$T"/sink/* 2>/dev/null | grep -q .
}

# show: what a failing test needs to be understood
show() {
	cat "$MNT"/queue/*/status "$MNT"/sent/*/status 2>/dev/null
	tail -n 15 "$PF/maillog"
	false
}

# status_has WHERE NAME TEXT: the message's status file holds TEXT
status_has() {
	d=$(entry "$1" "$2") && grep -F -- "$3" "$d/status"
}

# via NAME RELAY [SETTINGS]: a new mailfs m-NAME (the last one stopped)
# sending through RELAY with relay_auth (and SETTINGS, ",k=v..."), and a
# message NAME to NAME@remote.test
via() {
	{ [ -z "${MAILFS_PID:-}" ] || mailfs_stop; } &&
	mailfs_start "m-$1" -o "relayhost=$2,relay_auth=$T/auth,retry=1h${3:-}" &&
	send "$1" "$1@remote.test"
}

# delivered NAME: message NAME went through the relay to the sink
delivered() {
	wait_for 300 status_is sent "$1" "$1@remote.test" delivered "2\..*" &&
	wait_for 300 sunk "$1"
}

# deferred NAME CODE TEXT: message NAME waits with CODE, TEXT in its status
deferred() {
	wait_for 300 status_is queue "$1" "$1@remote.test" deferred "$2" &&
	status_has queue "$1" "$3" && ! sunk "$1"
}

test_expect_success 'a Postfix smarthost with SASL over TLS' '
	postfix_start "$PF" "relayhost = [${SINK%:*}]:${SINK#*:}
smtpd_tls_cert_file = $T/cert.pem
smtpd_tls_key_file = $T/key.pem
smtpd_sasl_auth_enable = yes
smtpd_tls_auth_only = yes
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = $PF/conf/sasl
smtpd_sasl_local_domain = example.test
smtpd_relay_restrictions = permit_sasl_authenticated, reject" \
	"127.0.0.1:$SUB inet n - n - - smtpd -o smtpd_tls_security_level=may
127.0.0.1:$SMTPS inet n - n - - smtpd -o smtpd_tls_wrappermode=yes
127.0.0.1:$NOAUTH inet n - n - - smtpd -o smtpd_tls_security_level=may -o smtpd_sasl_auth_enable=no
127.0.0.1:$LOGIN inet n - n - - smtpd -o smtpd_tls_security_level=may -o smtpd_sasl_path=smtpdlogin" &&
	wait_for 100 "$PY" -c "import socket; socket.create_connection((\"127.0.0.1\", $SUB), 1)"
'

test_expect_success 'right password over STARTTLS: delivered through the relay' '
	auth "alice right-pass" &&
	via r1 "[127.0.0.1]:$SUB" && delivered r1 &&
	wait_for 50 grep -q "sasl_method=PLAIN, sasl_username=alice@example.test" "$PF/maillog" ||
	show
'

test_expect_success 'the password is in no log' '
	! grep -rF right-pass "$MNT/log" "$T/m-r1/stderr" "$(entry sent r1)"
'

test_expect_success 'wrong password: deferred with the relay'"'"'s 535' '
	auth "alice wrong-pass" &&
	via w1 "[127.0.0.1]:$SUB" && deferred w1 "4\.7\..*" "535 5.7.8" &&
	status_has queue w1 "AUTH PLAIN as alice" || show
'

test_expect_success 'the file fixed, SIGHUP and flush: delivered' '
	auth "alice right-pass" &&
	kill -HUP "$MAILFS_PID" &&
	wait_for 100 grep -q " reload" "$MNT/log" &&
	echo flush >"$MNT/ctl" && delivered w1 || show
'

test_expect_success 'AUTH LOGIN when the relay offers no PLAIN' '
	via l1 "[127.0.0.1]:$LOGIN" && delivered l1 &&
	wait_for 50 grep -q "sasl_method=LOGIN, sasl_username=alice@example.test" "$PF/maillog" ||
	show
'

test_expect_success 'relay offering STARTTLS but no AUTH: deferred, saying so' '
	via n1 "[127.0.0.1]:$NOAUTH" &&
	deferred n1 "4\.7\.0" "relay offers no AUTH PLAIN or LOGIN"
'

test_expect_success 'relay without TLS: no password in the clear, deferred' '
	via c1 "$SINK" && deferred c1 "4\.7\.0" "relay requires TLS for AUTH"
'

test_expect_success 'relay_tls=wrapper: TLS from the first byte, certificate verified' '
	via s1 "[127.0.0.1]:$SMTPS" ",relay_tls=wrapper,tls=verify,tls_ca=$T/cert.pem" &&
	delivered s1 || show
'

test_expect_success 'relay_tls=wrapper to a STARTTLS port: deferred, not in clear' '
	via x1 "[127.0.0.1]:$SUB" ",relay_tls=wrapper" &&
	deferred x1 "4\.7\.5" "TLS from the first byte"
'

test_expect_success 'a relay_auth file others can read: exit 78' '
	mailfs_stop &&
	M=$T/m78 && mkdir -p "$M" &&
	chmod 644 "$T/auth" &&
	config_refused relay_auth -f -o "spool=$T/s78,relayhost=[127.0.0.1]:$SUB,relay_auth=$T/auth" &&
	! grep -F right-pass "$T/stderr"
'

test_expect_success 'stop the smarthost' '
	postfix_stop "$PF"
'

test_done
