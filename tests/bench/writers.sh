#!/bin/sh
# writers.sh K LIST HOW DIR - tests/bench's writers: the files named in
# LIST (one a line) written into DIR by K processes at once, the Ith
# taking every Kth line. HOW is "cp" (cp FILE DIR/) or "dd" (dd
# conv=fsync, a durable create of the same file). Exits non-zero if any
# copy failed.
k=$1 list=$2 how=$3 dir=$4
i=0 pids=""
while [ $i -lt "$k" ]; do
	awk -v k="$k" -v i=$i 'NR % k == i' "$list" | {
		while read -r f; do
			case $how in
			cp) cp "$f" "$dir/" ;;
			dd) dd if="$f" of="$dir/${f##*/}" bs=64k conv=fsync status=none ;;
			esac || exit 1
		done
	} &
	pids="$pids $!"
	i=$((i + 1))
done
rc=0
for p in $pids; do wait "$p" || rc=1; done
exit $rc
