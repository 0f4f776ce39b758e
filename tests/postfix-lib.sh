# postfix-lib.sh - a throwaway Postfix instance, for tests/t*.sh (after
# test-lib.sh) and tests/bench.sh: its own config_directory and
# queue_directory, no chroot, its smtpd on a loopback port, nothing sent
# to the outside. Needs root (Postfix drops to mail_owner itself).
#
#	postfix_start DIR PORT <<EOF	main.cf lines of the test's own
#	...
#	EOF
#	postfix_stop DIR
#
# postfix_start makes DIR/conf, DIR/queue, DIR/data, writes main.cf (the
# common settings, then stdin) and master.cf (the system's, smtpd on
# 127.0.0.1:PORT, chroot off), and starts it; POSTFIX_PID is the master's
# pid. Its log goes to DIR/maillog (maillog_file, through postlogd), so
# no syslog is needed. postfix_stop stops it and ends the master by PID
# if it is still there.

postfix_start() {
	pfx=$1 port=$2
	mkdir -p "$pfx/conf" "$pfx/queue" "$pfx/data" || return 1
	chown postfix "$pfx/data"
	{
		cat <<-EOC
		compatibility_level = 3.6
		queue_directory = $pfx/queue
		data_directory = $pfx/data
		mail_owner = postfix
		setgid_group = postdrop
		myhostname = postfix.test
		mydomain = postfix.test
		myorigin = postfix.test
		mydestination =
		inet_interfaces = 127.0.0.1
		inet_protocols = ipv4
		mynetworks = 127.0.0.0/8
		smtp_tls_security_level = none
		smtpd_tls_security_level = none
		alias_maps =
		alias_database =
		local_recipient_maps =
		smtputf8_enable = no
		biff = no
		maillog_file_prefixes = $pfx
		maillog_file = $pfx/maillog
		EOC
		cat
	} >"$pfx/conf/main.cf"
	awk -v port="$port" '
		/^[a-z]/ { if ($1 == "smtp" && $2 == "inet") $1 = "127.0.0.1:" port
			   if ($5 == "y") $5 = "n" }
		!/^[ \t]*(#|$)/ { print }' /etc/postfix/master.cf \
		>"$pfx/conf/master.cf"
	postfix -c "$pfx/conf" start >"$pfx/start.log" 2>&1 ||
		{ cat "$pfx/start.log" >&2; return 1; }
	POSTFIX_PID=$(tr -dc 0-9 <"$pfx/queue/pid/master.pid")
}

postfix_stop() {
	pid=$(tr -dc 0-9 <"$1/queue/pid/master.pid" 2>/dev/null)
	postfix -c "$1/conf" stop >/dev/null 2>&1
	n=50
	while [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ $n -gt 0 ]; do
		sleep 0.1
		n=$((n - 1))
	done
	[ -z "$pid" ] || kill -9 "$pid" 2>/dev/null
	return 0
}
