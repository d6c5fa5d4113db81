#!/bin/sh
# Regenerates the seed corpora in tests/fuzz/corpus with make-seeds from a
# fuzz build (scripts/fuzz-smoke.sh makes one in build-fuzz): the TLS flights
# once with the default priority (TLS 1.3) and once limited to TLS 1.2, whose
# server flight carries the certificate in the clear.
# Usage: tests/fuzz/make-seeds.sh [BUILD_DIR]
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-"$top/build-fuzz"}
corpus="$top/tests/fuzz/corpus"
export ASAN_OPTIONS=detect_leaks=0
"$build/tests/fuzz/make-seeds" "$corpus"
G_TLS_GNUTLS_PRIORITY="NORMAL:-VERS-TLS1.3" "$build/tests/fuzz/make-seeds" "$corpus" -tls12
ls -l "$corpus"/*
