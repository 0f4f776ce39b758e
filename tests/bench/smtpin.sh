# smtpin.sh - line 4 of issue 9: smtp-source with 20 sessions sends
# N_SMTPIN messages of ~4 KiB to the listener, into the inbox (a Maildir),
# against Postfix's smtpd and virtual(8) into a Maildir; the clock runs
# until the last message is in the Maildir's new/. Syncs per message: a
# run of N_SYNCS messages under strace. Records smtpin, smtpin.postfix
# (msg/s), smtpin.syncs and rss.smtpin.

# source PORT N: smtp-source, 20 sessions, N messages to rcpt@bench.test
source_to() {
	timeout -k 5 "$LIMIT" smtp-source -s 20 -m "$2" -l "$SIZE" \
		-f bench@bench.test -t rcpt@bench.test "127.0.0.1:$1" >/dev/null 2>&1
}

smtpin_mailfs() {
	port=$(free_port)
	mailfs_up "smtpin$1" "listen=127.0.0.1:$port" || { record smtpin error; return; }
	T0=$(now)
	source_to "$port" "$N_SMTPIN"
	record smtpin "$(rate "$N_SMTPIN" "$(timed_count "$SPOOL/inbox/new" "$N_SMTPIN")")"
	mailfs_down
	record rss.smtpin "$HWM"
}

smtpin_syncs() {
	port=$(free_port)
	mailfs_up smtpinsync "listen=127.0.0.1:$port" || { record smtpin.syncs error; return; }
	strace_up "$MAILFS_PID" "$T/strace.smtpin"
	source_to "$port" "$N_SYNCS"
	wait_count "$SPOOL/inbox/new" "$N_SYNCS"
	strace_down
	record smtpin.syncs "$(per "$N_SYNCS" "$SYNCS")"
	mailfs_down
}

smtpin_postfix() {
	[ $POSTFIX -eq 1 ] || return 0
	sport=$(free_port)
	mkdir -p "$T/pfin$1/vmail"
	chown postfix "$T/pfin$1/vmail"
	pf_up "pfin$1" "virtual_mailbox_domains = bench.test
virtual_mailbox_base = $T/pfin$1/vmail
virtual_mailbox_maps = static:box/
virtual_uid_maps = static:$(id -u postfix)
virtual_gid_maps = static:$(id -g postfix)
virtual_minimum_uid = 1" "127.0.0.1:$sport inet n - n - - smtpd" ||
		{ record smtpin.postfix error; return; }
	T0=$(now)
	source_to "$sport" "$N_SMTPIN"
	record smtpin.postfix "$(rate "$N_SMTPIN" "$(timed_count "$PFX/vmail/box/new" "$N_SMTPIN")")"
	pf_down
}

bench_smtpin() {
	note "smtp in: $N_SMTPIN messages of ~4 KiB, 20 sessions, into a Maildir, vs Postfix smtpd + virtual"
	each_run smtpin_mailfs smtpin_postfix
	if command -v strace >/dev/null; then
		smtpin_syncs
	else
		note "smtp in: no strace, syncs not counted"
	fi
}
