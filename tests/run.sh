#!/bin/sh
# run.sh - `make check`: the C unit tests beside the modules, then every
# integration script tests/tNNNN-*.sh, all through prove (TAP).
# `run.sh --one FILE` is how prove starts each: scripts through sh, so a
# script never depends on its mode bits.
if [ "${1:-}" = --one ]; then
	case $2 in
	*.sh) exec sh "$2" ;;
	*) exec "$2" ;;
	esac
fi
cd "$(dirname "$0")/.." || exit 1
export MAILFS
exec prove --exec "sh tests/run.sh --one" --timer $UNITS tests/t[0-9]*.sh
