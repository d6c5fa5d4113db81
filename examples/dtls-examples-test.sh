#!/bin/sh
# Runs the DTLS examples over loopback: the echo server in the background on
# a free port, then two ping clients at the same time (so the server
# demultiplexes two peers on its one socket), each with --count 3; then
# again with a pre-shared key (--psk) on both sides and one client, which
# must negotiate an ECDHE-PSK suite.
# Every wait is bounded; the server is killed at the end whatever happens.
#   dtls-examples-test.sh ECHO_SERVER PING_CLIENT
set -eu
server=$1
client=$2
dir=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT

# Starts the server with "$@" and sets $port (at most 10 s).
start_server() {
  "$server" --port 0 "$@" >"$dir/server.log" 2>&1 &
  server_pid=$!
  # The server prints "listening on 127.0.0.1:PORT" once bound.
  port=
  for _ in $(seq 100); do
    port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$dir/server.log")
    [ -n "$port" ] && break
    sleep 0.1
  done
  if [ -z "$port" ]; then
    echo "the echo server did not start:" >&2
    cat "$dir/server.log" >&2
    exit 1
  fi
}

# Waits (at most 10 s) for the server to exit by itself.
wait_server() {
  for _ in $(seq 100); do
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
}

start_server --exit-after 2

status=0
timeout 30 "$client" --port "$port" --count 3 --interval 200 >"$dir/client1.log" 2>&1 &
c1=$!
timeout 30 "$client" --port "$port" --count 3 --interval 200 >"$dir/client2.log" 2>&1 &
c2=$!
wait "$c1" || status=1
wait "$c2" || status=1

# With both peers gone (close_notify) the server exits by itself.
wait_server

for log in client1 client2 server; do
  echo "--- $log"
  cat "$dir/$log.log"
done
for log in client1 client2; do
  grep -q '^received "echo: ping 3"$' "$dir/$log.log" || status=1
  grep -q '^3 of 3 pings echoed$' "$dir/$log.log" || status=1
done
[ "$(grep -c ': new peer' "$dir/server.log")" -eq 2 ] || status=1

# Pre-shared keys, as Qt's DTLS examples: no certificate on the server.
kill "$server_pid" 2>/dev/null || true
wait "$server_pid" 2>/dev/null || true
psk=client1:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
start_server --exit-after 1 --psk "$psk"
timeout 30 "$client" --port "$port" --count 2 --interval 200 --psk "$psk" >"$dir/psk-client.log" 2>&1 || status=1
wait_server
for log in psk-client server; do
  echo "--- $log (PSK)"
  cat "$dir/$log.log"
done
grep -q '^handshake done: DTLS 1.2, TLS_ECDHE_PSK_' "$dir/psk-client.log" || status=1
grep -q '^2 of 2 pings echoed$' "$dir/psk-client.log" || status=1
exit $status
