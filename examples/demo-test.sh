#!/bin/sh
# Runs the demo once, as scripts/demo.sh does, keeps its exit status, and
# checks that the report shows what this module adds to GIO's API: the
# second TLS connection resumed its session, and the DTLS handshake's
# retransmissions are counted.
#   demo-test.sh DEMO [ARGUMENTS...]
set -eu
demo=$1
shift
out=$(mktemp)
trap 'rm -f "$out"' EXIT

status=0
"$demo" "$@" >"$out" 2>&1 || status=$?
cat "$out"
[ "$status" -eq 0 ] || exit "$status"

if ! grep -q '^  second connection: *session resumed: yes$' "$out"; then
  echo "demo-test: the report does not say that the second TLS connection resumed its session" >&2
  exit 1
fi
if ! grep -q '^  handshake: *DTLS retransmissions: [0-9][0-9]* (client [0-9]*, server [0-9]*)$' "$out"; then
  echo "demo-test: the report does not count the DTLS retransmissions" >&2
  exit 1
fi
