#!/bin/sh
# Checks that po/POTFILES lists every module source that marks messages for
# translation (_(), N_(), C_(), NC_()), and only files that exist. Run from
# anywhere; `meson test --suite po` runs it.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

status=0
marked=$(grep -lE '(^|[^A-Za-z0-9_])(N_|C_|NC_|_)\(' tls/*.cc tls/*.h tls/*/*.cc tls/*/*.h 2>/dev/null || true)
while IFS= read -r f; do
  [ -n "$f" ] || continue
  if ! grep -qx "$f" po/POTFILES; then
    echo "po/POTFILES does not list $f, which has translatable messages"
    status=1
  fi
done <<EOF
$marked
EOF
while IFS= read -r f; do
  case "$f" in ''|'#'*) continue ;; esac
  if [ ! -f "$f" ]; then
    echo "po/POTFILES lists $f, which does not exist"
    status=1
  fi
done < po/POTFILES
[ $status -eq 0 ] && echo "po/POTFILES is complete"
exit $status
