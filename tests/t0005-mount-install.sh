#!/bin/sh
# t0005-mount-install - mailfs as a server's mail system: mount options in
# -o (FUSE's reach the mount, mount(8)'s and fstab's are accepted, an
# unknown bare word is refused), `mailfs SOURCE MOUNTPOINT -o ...` as
# mount.fuse3 runs it, fstab lines of type fuse.mailfs and of type fuse
# (PROGRAM#SOURCE) mounted with `mount --fstab`, and `make install` with its systemd unit, which
# `systemd-analyze verify` passes.
. "$(dirname "$0")/test-lib.sh"

M=$T/mnt
mkdir -p "$M" "$T/spool"
test_mounts="$test_mounts $M"
BASE="spool=$T/spool,listen=none,hostname=mailfs.test"

# mount_opts DIR: the per-mount and the superblock options of the mount
# on DIR, as one comma list
mount_opts() {
	awk -v d="$1" '$5 == d { for (i = 7; $i != "-"; i++); print $6 "," $(i + 3) }' \
		/proc/self/mountinfo
}

# has_opt DIR OPT: the mount on DIR has OPT
has_opt() {
	mount_opts "$1" | tr ',' '\n' | grep -qx -- "$2"
}

# stop_daemon PID DIR: end a daemon that detached, by its pid
stop_daemon() {
	kill "$1" 2>/dev/null
	wait_for 100 gone "$1"
	unmount "$2"
}

test_expect_success 'allow_other and default_permissions reach the mount' '
	if [ "$(id -u)" -ne 0 ]; then test_skip "allow_other needs root here"; return 0; fi
	mailfs_start ao -o allow_other,default_permissions &&
	mount_opts "$MNT" && has_opt "$MNT" allow_other &&
	has_opt "$MNT" default_permissions &&
	mailfs_stop
'

test_expect_success 'listen=none,allow_other: listen none, allow_other a mount option' '
	if [ "$(id -u)" -ne 0 ]; then test_skip "allow_other needs root here"; return 0; fi
	mailfs_start ln -o "listen=none,allow_other" &&
	has_opt "$MNT" allow_other && mailfs_stop &&
	! grep -i "listen" "$T/ln/stderr"
'

# every option mount(8) and fstab(5) may hand over is accepted; those the
# kernel keeps show in mountinfo
for opt in rw nosuid nodev noexec noatime auto noauto user nofail _netdev \
	x-systemd.automount x-systemd.requires=network-online.target \
	x-systemd.mount-timeout=30 dev suid exec defaults relatime user=root \
	comment=systemd.automount; do
	test_expect_success "-o $opt is accepted" "
		mailfs_start o -o '$opt' &&
		case $opt in
		noexec|noatime) has_opt \"\$MNT\" $opt ;;
		dev|suid) has_opt \"\$MNT\" no$opt ;;	# always nosuid,nodev
		esac &&
		mailfs_stop
	"
done

test_expect_success 'ro makes a read-only mount' '
	mailfs_start ro -o ro,noexec &&
	has_opt "$MNT" ro && has_opt "$MNT" noexec &&
	! cp /etc/hostname "$MNT/outbox/x" 2>err && cat err && grep -qi "read-only" err &&
	mailfs_stop
'

test_expect_success 'an unknown bare word in -o is refused with 78, naming it' '
	config_refused "bogus" -o "$BASE,bogus" &&
	config_refused "bogus" -o "allow_other,bogus,$BASE" &&
	config_refused "allow_others" -o "$BASE,allow_others"
'

test_expect_success 'a word after listen=none is refused with 78, naming both' '
	config_refused "listen.*none.*bogus" -o "$BASE,listen=none,bogus"
'

test_expect_success 'list values with commas still work beside mount options' '
	mailfs_start lists -o "allow_other,domains=a.test,b.test,retry=1m,5m,noatime,dns=127.0.0.1,127.0.0.2:5353,_netdev" &&
	has_opt "$MNT" noatime && mailfs_stop
'

test_expect_success 'mailfs SOURCE MOUNTPOINT mounts, SOURCE ignored' '
	mkdir -p "$T/src/mnt" "$T/src/spool" &&
	test_mounts="$test_mounts $T/src/mnt" &&
	"$MAILFS" -f -o "spool=$T/src/spool,listen=none,hostname=mailfs.test" \
		mailfs "$T/src/mnt" >"$T/src/err" 2>&1 &
	pid=$! && track_pid $pid &&
	wait_for 100 test -e "$T/src/mnt/ctl" &&
	kill_pid $pid && wait_for 50 eval "! mountpoint -q $T/src/mnt"
'

test_expect_success 'as mount.fuse3 runs it: options after the operands, detached' '
	mkdir -p "$T/mf/mnt" "$T/mf/spool" &&
	test_mounts="$test_mounts $T/mf/mnt" &&
	"$MAILFS" mailfs "$T/mf/mnt" -o "rw,allow_other,spool=$T/mf/spool,listen=none,hostname=mailfs.test,dev,suid" &&
	pid=$(mailfs_pid_with "spool=$T/mf/spool,") && track_pid $pid &&
	test -e "$T/mf/mnt/ctl" && has_opt "$T/mf/mnt" allow_other &&
	stop_daemon $pid "$T/mf/mnt" && ! mountpoint -q "$T/mf/mnt"
'

test_expect_success 'options after the operands count under POSIXLY_CORRECT too' '
	POSIXLY_CORRECT=1 && export POSIXLY_CORRECT &&
	config_refused "bogus" mailfs -o "$BASE,bogus"
	rc=$?
	unset POSIXLY_CORRECT
	return $rc
'

# mount(8) runs the helpers with a PATH of its own: the fstab test gives
# it our mailfs as /usr/local/sbin/mailfs in a mount namespace of its
# own (unshare), leaving the system's directories as they are
test_expect_success 'an fstab line of type fuse.mailfs mounts with mount --fstab' '
	if [ "$(id -u)" -ne 0 ]; then test_skip "mount(8) of an fstab line needs root here"; return 0; fi
	# in a chroot (fresh-check, CI) / is no mount point, and unshare
	# cannot make the namespace private; the next test still runs there
	if ! mountpoint -q /; then test_skip "/ is not a mount point (a chroot): no private mount namespace"; return 0; fi
	test -x /sbin/mount.fuse3 || { echo "no /sbin/mount.fuse3 (package fuse3)"; return 1; }
	F=$T/fstab; mkdir -p "$F/bin" "$F/mnt" "$F/spool" &&
	ln -s "$MAILFS" "$F/bin/mailfs" &&
	printf "mailfs %s fuse.mailfs allow_other,spool=%s,listen=none,hostname=mailfs.test,_netdev,nofail,x-systemd.automount 0 0\n" \
		"$F/mnt" "$F/spool" >"$F/fstab" &&
	cat "$F/fstab" &&
	unshare --mount --propagation private sh -c "
		mount --bind \"$F/bin\" /usr/local/sbin &&
		mount --fstab \"$F/fstab\" \"$F/mnt\" &&
		grep -F \" $F/mnt \" /proc/self/mountinfo >\"$F/mountinfo\" &&
		test -e \"$F/mnt/ctl\" && ls \"$F/mnt\" >\"$F/ls\" &&
		umount \"$F/mnt\"" &&
	cat "$F/mountinfo" "$F/ls" &&
	grep -q " fuse.mailfs " "$F/mountinfo" && grep -q allow_other "$F/mountinfo" &&
	grep -qx outbox "$F/ls"
	rc=$?
	# umount ends the daemon; if anything failed, end it by its pid
	pid=$(mailfs_pid_with "spool=$F/spool,") && { kill "$pid"; wait_for 100 gone "$pid"; }
	[ $rc -eq 0 ] && ! mailfs_pid_with "spool=$F/spool,"
'

# The type fuse with PROGRAM#SOURCE names our mailfs by its path: no
# PATH, no namespace, so this runs in a chroot too.
test_expect_success 'an fstab line of type fuse naming mailfs by path mounts with mount --fstab' '
	if [ "$(id -u)" -ne 0 ]; then test_skip "mount(8) of an fstab line needs root here"; return 0; fi
	test -x /sbin/mount.fuse3 || { echo "no /sbin/mount.fuse3 (package fuse3)"; return 1; }
	F=$T/fstab2; mkdir -p "$F/mnt" "$F/spool" &&
	printf "%s#mailfs %s fuse allow_other,spool=%s,listen=none,hostname=mailfs.test,_netdev,nofail 0 0\n" \
		"$MAILFS" "$F/mnt" "$F/spool" >"$F/fstab" &&
	cat "$F/fstab" &&
	test_mounts="$test_mounts $F/mnt" &&
	mount --fstab "$F/fstab" "$F/mnt" &&
	grep -F " $F/mnt " /proc/self/mountinfo >"$F/mountinfo" &&
	cat "$F/mountinfo" &&
	grep -q " fuse.mailfs " "$F/mountinfo" && grep -q allow_other "$F/mountinfo" &&
	test -e "$F/mnt/outbox" && umount "$F/mnt"
	rc=$?
	pid=$(mailfs_pid_with "spool=$F/spool,") && { kill "$pid"; wait_for 100 gone "$pid"; }
	[ $rc -eq 0 ] && ! mailfs_pid_with "spool=$F/spool,"
'

test_expect_success 'allow_other without user_allow_other: fusermount3 says why' '
	if [ "$(id -u)" -ne 0 ]; then test_skip "needs root to become nobody"; return 0; fi
	if grep -q "^[[:space:]]*user_allow_other" /etc/fuse.conf 2>/dev/null; then
		test_skip "/etc/fuse.conf has user_allow_other"; return 0
	fi
	if ! setpriv --reuid=nobody --regid=nogroup --clear-groups test -r /dev/fuse -a -w /dev/fuse; then
		test_skip "/dev/fuse is not open to other users here"; return 0
	fi
	U=$T/user; mkdir -p "$U/mnt" "$U/spool" && chown -R nobody "$U" &&
	chmod 711 "$T" &&
	test_mounts="$test_mounts $U/mnt" &&
	setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME="$U" \
		"$MAILFS" -o "spool=$U/spool,listen=none,hostname=mailfs.test,allow_other" \
		"$U/mnt" >"$U/out" 2>"$U/err"
	rc=$?
	cat "$U/err"
	[ $rc -eq 1 ] && grep -q user_allow_other "$U/err" &&
	grep -q "mailfs: cannot mount $U/mnt" "$U/err" && ! mountpoint -q "$U/mnt"
'

# make install: the Makefile's B is where the binary under test was built
case $MAILFS in
"$SRCDIR"/build/*/mailfs) B=${MAILFS#"$SRCDIR"/}; B=${B%/mailfs} ;;
*) B=build/plain ;;
esac
install_into() {
	make -s -C "$SRCDIR" B="$B" install "$@" >"$T/make.out" 2>&1
	rc=$?
	cat "$T/make.out"
	return $rc
}

test_expect_success 'make install DESTDIR PREFIX=/usr: the files, with their modes' '
	install_into DESTDIR="$T/root" PREFIX=/usr &&
	(cd "$T/root" && find . -type f -printf "%m %P\n" | sort) >actual &&
	cat >expect <<-EOF &&
	644 etc/mailfs.conf
	644 usr/lib/systemd/system/mailfs.service
	644 usr/share/man/man5/mailfs.conf.5
	644 usr/share/man/man8/mailfs.8
	755 usr/sbin/mailfs
	EOF
	test_cmp expect actual &&
	cmp "$T/root/usr/sbin/mailfs" "$SRCDIR/$B/mailfs" &&
	grep -qx "ExecStart=/usr/sbin/mailfs -f \$MAILFS_OPTS \${MOUNTPOINT}" \
		"$T/root/usr/lib/systemd/system/mailfs.service"
'

test_expect_success 'make install keeps an existing /etc/mailfs.conf; uninstall leaves it' '
	echo "# mine" >"$T/root/etc/mailfs.conf" &&
	install_into DESTDIR="$T/root" PREFIX=/usr &&
	[ "$(cat "$T/root/etc/mailfs.conf")" = "# mine" ] &&
	install_into DESTDIR="$T/root" PREFIX=/usr uninstall &&
	(cd "$T/root" && find . -type f) >left && cat left &&
	[ "$(cat left)" = "./etc/mailfs.conf" ]
'

test_expect_success 'the example mailfs.conf is accepted, and so are its defaults' '
	install_into DESTDIR="$T/ex" PREFIX=/usr &&
	"$MAILFS" -c "$T/ex/etc/mailfs.conf" -o "$BASE" "$M" &&
	pid=$(mailfs_pid_with "$BASE") && track_pid $pid && stop_daemon $pid "$M" &&
	sed -n "s/^#\([a-z_]* = [^(]*\)\$/\1/p" "$T/ex/etc/mailfs.conf" >defaults.conf &&
	cat defaults.conf && [ "$(wc -l <defaults.conf)" -eq 35 ] &&
	"$MAILFS" -c defaults.conf -o "$BASE" "$M" &&
	pid=$(mailfs_pid_with "$BASE") && track_pid $pid && stop_daemon $pid "$M"
'

test_expect_success 'the unit runs mailfs in the foreground, restarts it, unmounts' '
	U=$T/ex/usr/lib/systemd/system/mailfs.service &&
	grep -qx "Type=simple" "$U" && grep -qx "Restart=on-failure" "$U" &&
	grep -q "^ExecStart=/usr/sbin/mailfs -f " "$U" &&
	grep -qx "ExecStopPost=-fusermount3 -u -q -z \${MOUNTPOINT}" "$U" &&
	grep -qx "After=network-online.target nss-lookup.target" "$U"
'

# installed without DESTDIR under $T, so that the unit names a mailfs that
# is there and `man` finds the pages it names (SYSCONFDIR: never /etc)
test_expect_success 'systemd-analyze verify passes the installed unit' '
	command -v systemd-analyze || { echo "no systemd-analyze (package systemd)"; return 1; }
	# it runs man(1) for Documentation=man:...
	command -v man || { echo "no man (package man-db)"; return 1; }
	install_into PREFIX="$T/p/usr" SYSCONFDIR="$T/p/etc" &&
	MANPATH=$T/p/usr/share/man systemd-analyze verify \
		"$T/p/usr/lib/systemd/system/mailfs.service" >verify 2>&1
	rc=$?
	cat verify
	[ $rc -eq 0 ] && ! [ -s verify ]
'

test_done
