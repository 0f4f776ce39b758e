#!/bin/sh
# run.sh - `make check`: the C unit tests beside the modules, then every
# integration script tests/tNNNN-*.sh, all through prove (TAP).
# `run.sh --one FILE` is how prove starts each: scripts through sh, so a
# script never depends on its mode bits.
# A test wedged by a hung FUSE request fails after 10 minutes instead of
# holding CI to its limit; test-lib's exit trap still unmounts and kills.
if [ "${1:-}" = --one ]; then
	case $2 in
	*.sh) exec timeout -k 20 600 sh "$2" ;;
	*) exec timeout -k 20 600 "$2" ;;
	esac
fi
cd "$(dirname "$0")/.." || exit 1
export MAILFS
exec prove --exec "sh tests/run.sh --one" --timer $UNITS tests/t[0-9]*.sh
