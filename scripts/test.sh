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

# shellcheck disable=SC2086  # MESON_ARGS is a list of arguments
if [ -f "$build/build.ninja" ]; then
  meson setup --reconfigure --werror ${MESON_ARGS:-} "$build" "$top"
else
  meson setup --werror ${MESON_ARGS:-} "$build" "$top"
fi
meson compile -C "$build"

status=0
meson test -C "$build" --print-errorlogs "$@" || status=$?

python3 - "$build/meson-logs/testlog.json" <<'PY' || status=1
import json, re, sys

path = sys.argv[1]
passed = failed = skipped = 0
ok_line = re.compile(r'^(not ok|ok)\b(.*)$')
try:
    records = [json.loads(line) for line in open(path, encoding='utf-8') if line.strip()]
except OSError as e:
    print(f'cannot read {path}: {e}')
    print('0 passed, 1 failed')
    sys.exit(1)

for rec in records:
    result = rec.get('result', '')
    sub_pass = sub_fail = sub_skip = 0
    if rec.get('protocol') == 'tap' or 'tap' in str(rec.get('protocol', '')).lower():
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
        # Not TAP, or nothing reported: the program counts as one test.
        if result in ('OK', 'EXPECTEDFAIL'):
            sub_pass = 1
        elif result == 'SKIP':
            sub_skip = 1
        else:
            sub_fail = 1
    elif result not in ('OK', 'EXPECTEDFAIL', 'SKIP') and sub_fail == 0:
        # Reported only passes, then crashed, timed out or left the plan unfinished.
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
