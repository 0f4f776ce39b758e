# inbox.sh - line 5 of issue 9: inbox/ over a Maildir of N_INBOX messages
# of ~4 KiB (gen-maildir.py, made once, copied afresh for every run so that
# deletions do not add up). `cat inbox/*/subject` and `grep -l x
# inbox/*/subject`, cold and warm, against mblaze's `mlist DIR | mscan` on
# the same Maildir; then `ls -l inbox` and `rm -r` of a tenth of the
# entries. Cold: mailfs restarted (its index made by a first start whose
# cat is only noted) after `sync; echo 3 > /proc/sys/vm/drop_caches` (root
# only; without root the cold lines are skipped); warm: the same command
# again at once. Records cat.cold,
# cat.warm, grep.cold, grep.warm, mscan.cold, mscan.warm, lsl, rm (s) and
# rss.inbox; and, noted without a goal, cat.plain and grep.plain: the
# same commands over the same subjects as plain files on ext4, warm: the
# cost without FUSE, to which every open through FUSE adds a round trip
# (on this kind of machine the plain cat alone is about as slow as mscan).

# inbox_start RUN: mailfs over the run's Maildir, the page cache dropped
# first (root only); false if it did not start
inbox_start() {
	[ $ROOT -eq 0 ] || drop_caches
	mailfs_up "inbox$1"
}

# inbox_time KEY SHELL-COMMAND [LINES]: time it in MNT and record it as
# KEY, unless KEY timed out before; with LINES, check it printed that many
inbox_time() {
	gave_up "$1" && return
	v=$(timed sh -c "cd \"\$1\" && $2" sh "$MNT")
	record "$1" "$v"
	[ -z "${3:-}" ] || [ "$v" = timeout ] || lines_are "$3" "$1"
}

# inbox_names: the names in inbox/, within LIMIT
inbox_names() { timeout -k 5 "$LIMIT" ls "$MNT/inbox"; }

inbox_mblaze() {
	[ $MBLAZE_OK -eq 1 ] || return 0
	if [ $ROOT -eq 1 ]; then
		drop_caches
		record mscan.cold "$(timed sh -c 'mlist "$1" | mscan' sh "$T/maildir")"
	fi
	record mscan.warm "$(timed sh -c 'mlist "$1" | mscan' sh "$T/maildir")"
	lines_are "$N_INBOX" mscan.warm
}

inbox_mailfs() {
	rm -rf "$T/inbox$1"
	mkdir -p "$T/inbox$1/spool"
	cp -a "$T/maildir" "$T/inbox$1/spool/inbox"
	# the first start over this Maildir builds the index while cat reads:
	# shown, not judged; issue 9's cold is a restart with the index made
	inbox_start "$1" || { record rss.inbox error; return; }
	v=$(timed sh -c 'cd "$1" && cat inbox/*/subject' sh "$MNT")
	note "inbox: cat inbox/*/subject at the first start (index built): $v s"
	mailfs_down
	rss=$HWM
	# cat: cold (if root), then warm
	inbox_start "$1" || { record rss.inbox error; return; }
	[ $ROOT -eq 0 ] || inbox_time cat.cold 'cat inbox/*/subject' "$N_INBOX"
	inbox_time cat.warm 'cat inbox/*/subject' "$N_INBOX"
	n=$(inbox_names | wc -l)
	[ "$n" -eq "$N_INBOX" ] || note "inbox: $n entries of $N_INBOX"
	mailfs_down
	rss=$(max "$rss" "$HWM")
	# grep: cold (if root), then warm; then ls -l and rm -r, warm
	inbox_start "$1" || { record rss.inbox error; return; }
	[ $ROOT -eq 0 ] || inbox_time grep.cold 'grep -l x inbox/*/subject'
	inbox_time grep.warm 'grep -l x inbox/*/subject'
	inbox_time lsl 'ls -l inbox' $((N_INBOX + 1))
	inbox_names | head -n $((N_INBOX / 10)) >"$T/inbox$1/rm.list"
	inbox_time rm "cd inbox && xargs rm -r <\"$T/inbox$1/rm.list\""
	n=$(inbox_names | wc -l)
	[ "$n" -eq $((N_INBOX - N_INBOX / 10)) ] ||
		note "inbox: $n entries left after rm -r, not $((N_INBOX - N_INBOX / 10))"
	mailfs_down
	record rss.inbox "$(max "$rss" "$HWM")"
	rm -rf "$T/inbox$1"
}

# inbox_plain RUN: the same commands over a plain directory tree on ext4
# of the same subjects, one ID/subject file per message, warm: what any
# file system gives here (noted, no goal)
inbox_plain() {
	[ -d "$T/plain" ] || $PY - "$T/maildir" "$T/plain" <<-'EOF'
	import os, sys
	src, dst = sys.argv[1], sys.argv[2]
	for sub in ("cur", "new"):
	    for name in os.listdir(os.path.join(src, sub)):
	        subj = ""
	        with open(os.path.join(src, sub, name), "rb") as f:
	            for line in f:
	                if line.lower().startswith(b"subject:"):
	                    subj = line[8:].strip().decode("utf-8", "replace")
	                    break
	        d = os.path.join(dst, name.split(":")[0])
	        os.makedirs(d)
	        with open(os.path.join(d, "subject"), "w") as f:
	            f.write(subj + "\n")
	EOF
	timed sh -c 'cd "$1" && cat */subject' sh "$T/plain" >/dev/null
	record cat.plain "$(timed sh -c 'cd "$1" && cat */subject' sh "$T/plain")"
	record grep.plain "$(timed sh -c 'cd "$1" && grep -l x */subject' sh "$T/plain")"
}

bench_inbox() {
	note "inbox: $N_INBOX messages; cat and grep -l of inbox/*/subject vs mlist | mscan; ls -l; rm -r of $((N_INBOX / 10))"
	$PY "$BENCH_DIR/gen-maildir.py" "$T/maildir" "$N_INBOX"
	# mscan's sequence file: none of the user's
	mkdir -p "$T/mblaze"
	: >"$T/mblaze/seq"
	MBLAZE=$T/mblaze
	export MBLAZE
	MBLAZE_OK=1
	command -v mlist >/dev/null && command -v mscan >/dev/null ||
		{ MBLAZE_OK=0; note "inbox: no mblaze (mlist, mscan): no reference"; }
	each_run inbox_mblaze inbox_mailfs inbox_plain
	note "inbox: the same subjects as files of a plain directory tree, warm (no goal; no FUSE): cat $(median cat.plain) s, grep -l $(median grep.plain) s"
	rm -rf "$T/maildir" "$T/plain"
}
