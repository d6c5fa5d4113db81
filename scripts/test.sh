#!/bin/sh
# Installs what is missing, builds gio-tls-gnutls with warnings as errors and
# runs the whole test suite. Ends with one line "N passed, M failed" counting
# every TAP subtest (a test program that is not TAP, or that dies before
# reporting, counts as one) and exits non-zero when anything failed.
#
# Environment:
#   BUILD_DIR   build directory (default: build, next to this script's parent)
#   MESON_ARGS  extra arguments for `meson setup` (e.g. -Db_sanitize=address)
# Arguments are passed on to `meson test` (e.g. --suite coexist).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-"$top/build"}

"$top/scripts/setup-deps.sh"

# A build that fails counts as one failed test, so the summary line is
# always the last thing printed.
build_failed() {
  echo "the build failed (see above)"
  echo "0 passed, 1 failed"
  exit 1
}

# shellcheck disable=SC2086  # MESON_ARGS is a list of arguments
if [ -f "$build/build.ninja" ]; then
  meson setup --reconfigure --werror ${MESON_ARGS:-} "$build" "$top" || build_failed
else
  meson setup --werror ${MESON_ARGS:-} "$build" "$top" || build_failed
fi
meson compile -C "$build" || build_failed

status=0
rm -f "$build/meson-logs/testlog.json"
meson test -C "$build" --print-errorlogs "$@" || status=$?

python3 - "$build/meson-logs/testlog.json" <<'PY' || status=1
import json, re, sys

# One JSON record per test program. Meson's log does not say which protocol a
# test used, so any "ok" / "not ok" line in its output counts as a TAP result.
ok_line = re.compile(r'^(not ok|ok)\b(.*)$')
path = sys.argv[1]
try:
    with open(path, encoding='utf-8') as f:
        records = [json.loads(line) for line in f if line.strip()]
except OSError as e:
    print(f'cannot read {path}: {e}')
    print('0 passed, 1 failed')
    sys.exit(1)

passed = failed = skipped = 0
for rec in records:
    result = rec.get('result', '')
    ok = result in ('OK', 'EXPECTEDFAIL')
    sub_pass = sub_fail = sub_skip = 0
    for line in (rec.get('stdout') or '').splitlines():
        m = ok_line.match(line.strip())
        if not m:
            continue
        directive = m.group(2).upper()
        if '# SKIP' in directive:
            sub_skip += 1
        elif m.group(1) == 'ok' or '# TODO' in directive:
            sub_pass += 1
        else:
            sub_fail += 1
    if sub_pass + sub_fail + sub_skip == 0:
        # Not TAP, or died before reporting: the program counts as one test.
        sub_pass, sub_fail, sub_skip = int(ok), int(not ok and result != 'SKIP'), int(result == 'SKIP')
    elif not ok and result != 'SKIP' and sub_fail == 0:
        # Reported only passes, then crashed, timed out or fell short of its plan.
        sub_fail = 1
    passed += sub_pass
    failed += sub_fail
    skipped += sub_skip

if skipped:
    print(f'{skipped} skipped')
print(f'{passed} passed, {failed} failed')
sys.exit(1 if failed else 0)
PY

exit $status
