#!/bin/sh
# run.sh - `make check`: the C unit tests beside the modules, then every
# integration script tests/tNNNN-*.sh, all through prove (TAP).
cd "$(dirname "$0")/.." || exit 1
export MAILFS
exec prove --exec '' --timer $UNITS tests/t[0-9]*.sh
