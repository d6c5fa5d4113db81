#!/bin/sh
# Runs the test suite under the sanitizers, the way CI does (.ci/run):
#   asan       AddressSanitizer + UndefinedBehaviorSanitizer, gcc (build-asan):
#              every suite but glib-networking's programs, halting on the
#              first report, with leak detection on (coexist without it).
#   asan-peer  the same with clang (build-asan-clang): glib-networking's
#              programs (suite peer), leak detection on.
#   tsan       ThreadSanitizer, gcc (build-tsan): the tests that use several
#              threads, glib-networking's simultaneous-* cases included.
# Each step goes through scripts/test.sh, so it builds with warnings as
# errors. Ends with one line "N passed, M failed" summing every step and
# exits non-zero when anything failed. docs/robustness.md says what runs
# where and why.
#
# Environment:
#   SANITIZE_STEPS  which steps to run (default: "asan asan-peer tsan")
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
supp="$top/tests"
steps=${SANITIZE_STEPS:-"asan asan-peer tsan"}
passed=0
failed=0
status=0

# Runs a command (env ... scripts/test.sh ...), adds its summary line to the
# totals.
run_step() {
  name=$1
  shift
  log=$(mktemp)
  echo "sanitize: $name"
  "$@" 2>&1 | tee "$log" || true
  # tee hides test.sh's status; its last line is the verdict.
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1 || true)
  rm -f "$log"
  if [ -z "$line" ]; then
    echo "sanitize: $name printed no summary"
    failed=$((failed + 1))
    status=1
    return
  fi
  p=${line%% passed*}
  f=${line#*passed, }
  f=${f%% failed}
  passed=$((passed + p))
  failed=$((failed + f))
  [ "$f" -eq 0 ] || status=1
}

for step in $steps; do
  case $step in
  asan)
    # Everything but glib-networking's programs (step asan-peer) and
    # coexist, with leak detection.
    run_step "AddressSanitizer + UndefinedBehaviorSanitizer, whole suite" env \
      ASAN_OPTIONS="halt_on_error=1:abort_on_error=1:detect_leaks=1:fast_unwind_on_malloc=0:print_summary=1:suppressions=$supp/asan.supp" \
      LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0" \
      UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1:suppressions=$supp/ubsan.supp" \
      BUILD_DIR="$top/build-asan" GTG_SANITIZED=1 \
      MESON_ARGS="-Db_sanitize=address,undefined -Db_lundef=false" \
      "$top/scripts/test.sh" --timeout-multiplier 3 --no-suite peer --no-suite coexist
    # coexist runs glib-networking's module beside ours; LeakSanitizer's
    # tracer crashes at exit once that module has run a handshake, so this
    # one runs without leak detection (ASan and UBSan stay on).
    run_step "AddressSanitizer + UndefinedBehaviorSanitizer, coexist (no leak detection)" env \
      ASAN_OPTIONS="halt_on_error=1:abort_on_error=1:detect_leaks=0:print_summary=1:suppressions=$supp/asan.supp" \
      UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1:suppressions=$supp/ubsan.supp" \
      BUILD_DIR="$top/build-asan" \
      MESON_ARGS="-Db_sanitize=address,undefined -Db_lundef=false" \
      "$top/scripts/test.sh" --timeout-multiplier 3 --suite coexist
    ;;
  asan-peer)
    # glib-networking's programs are not instrumented: they load our
    # instrumented module with the sanitizer runtime preloaded
    # (tests/meson.build, sanitizer_preload_env). Built with clang, whose
    # UBSan runs inside its ASan runtime, in a build directory of its own.
    run_step "AddressSanitizer + UndefinedBehaviorSanitizer (clang), glib-networking's programs" env \
      ASAN_OPTIONS="halt_on_error=1:abort_on_error=1:detect_leaks=1:fast_unwind_on_malloc=0:print_summary=1:suppressions=$supp/asan.supp" \
      LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0" \
      UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1:suppressions=$supp/ubsan.supp" \
      CC=clang-14 CXX=clang++-14 BUILD_DIR="$top/build-asan-clang" \
      MESON_ARGS="-Db_sanitize=address,undefined -Db_lundef=false" \
      "$top/scripts/test.sh" --timeout-multiplier 3 --suite peer
    ;;
  tsan)
    # The threaded tests: glib-networking's simultaneous-* cases (a reader
    # and a writer thread on one connection, with and without
    # renegotiation, and with TLS 1.2's real renegotiation, which the gate's
    # writer handshake with a peer renegotiation must survive; libtsan
    # preloaded, as for asan-peer), our sync echo
    # with a server thread, a reader blocked while the application drops the
    # connection, handshake cancellation from another thread,
    # DTLS with one thread per side, DTLS batches with a reader and a writer
    # thread on each connection, a handshake suspended on its fiber
    # (the fiber switches are annotated for TSan), a blocking handshake
    # whose interaction answers from the main thread, implicit DTLS
    # handshakes in the background, and a reader and a writer thread
    # meeting a server's refusal of the client certificate. One path per run: GLib prints a TAP
    # plan per -p. gcc, not clang: clang 14's shared TSan runtime cannot be
    # preloaded (docs/robustness.md, Findings).
    for case in \
        gn-connection:/tls/gnutls/connection/simultaneous-async \
        gn-connection:/tls/gnutls/connection/simultaneous-sync \
        gn-connection:/tls/gnutls/connection/simultaneous-async-rehandshake \
        gn-connection:/tls/gnutls/connection/simultaneous-sync-rehandshake \
        gn-connection-tls12:/tls/gnutls/connection/simultaneous-async-rehandshake \
        gn-connection-tls12:/tls/gnutls/connection/simultaneous-sync-rehandshake \
        test-connection:/connection/tls1.3/sync-echo \
        test-connection:/connection/tls1.3/streams-outlive-connection \
        test-connection:/connection/tls1.2/sync-echo \
        test-connection:/connection/tls1.3/cancel/sync-handshake \
        test-dtls:/dtls/sync/two-threads \
        test-dtls-batch:/dtls/batch/two-threads-each \
        test-suspend:/suspend/interaction/answers-later \
        test-suspend:/suspend/interaction/sync-handshake \
        test-implicit-dtls:/implicit/dtls/one-thread-nonblocking \
        test-client-certificate:/client-certificate/tls1.3/refused/during-read; do
      run_step "ThreadSanitizer, $case" env \
        TSAN_OPTIONS="halt_on_error=1:history_size=7:second_deadlock_stack=1:report_signal_unsafe=0:suppressions=$supp/tsan.supp" \
        BUILD_DIR="$top/build-tsan" \
        MESON_ARGS="-Db_sanitize=thread -Db_lundef=false" \
        "$top/scripts/test.sh" --timeout-multiplier 3 "${case%%:*}" --test-args "-p ${case#*:}"
    done
    ;;
  *)
    echo "sanitize: unknown step $step" >&2
    exit 2
    ;;
  esac
done

echo "$passed passed, $failed failed"
exit $status
