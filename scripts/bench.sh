#!/bin/sh
# Runs the benchmark suite (bench/, issue 5) against three things on this
# machine and prints one table:
#   ours             gio-tls-gnutls, GIO_MODULE_DIR=<build>/tls
#   glib-networking  Debian's module, GIO_MODULE_DIR=<temp dir holding only a
#                    symlink to it>
#   raw              raw GnuTLS on the same sockets (gio-tls-bench --raw)
# Each workload group runs once per backend per run, the backends back to
# back (their order rotating between runs), so ratios compare figures taken
# moments apart on a shared, noisy machine. Medians (min–max) over the runs;
# ratios are computed per run, then their median is shown. conc-10000 runs
# in the first run only (it alone takes up to 40 s per backend).
#
#   scripts/bench.sh [--runs N] [--quick] [--builddir DIR] [--output FILE] [--groups "G ..."]
#
# --groups runs only the named workload groups (space-separated; workloads
# within a group comma-separated, as in $groups below), for example
# --groups dtls-dgram,dtls-send,dtls-batch-send-32 to compare a few rows.
#
# --builddir may name a build configured from another checkout (for example a
# clean worktree of a commit); the table then names that checkout's commit.
#
# Writes the table to stdout and every figure as JSON to FILE (default:
# <builddir>/bench-results.json). About 7 minutes with 3 runs on an otherwise idle
# 2-core machine; longer when the machine is shared.
set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
runs=3
quick=""
builddir="$src/build-bench"
output=""
only_groups=""
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --quick) quick="--quick"; shift ;;
    --builddir) builddir=$2; shift 2 ;;
    --output) output=$2; shift 2 ;;
    --groups) only_groups=$2; shift 2 ;;
    *) echo "usage: $0 [--runs N] [--quick] [--builddir DIR] [--output FILE] [--groups \"G ...\"]" >&2; exit 2 ;;
  esac
done
[ -n "$output" ] || output="$builddir/bench-results.json"

"$src/scripts/setup-deps.sh" >&2
if [ ! -f "$builddir/build.ninja" ]; then
  meson setup "$builddir" "$src" -Dbuildtype=release >&2
fi
meson compile -C "$builddir" >&2

bench="$builddir/bench/gio-tls-bench"
ours_dir="$builddir/tls"
gn_module=/usr/lib/x86_64-linux-gnu/gio/modules/libgiognutls.so
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/glib-networking"
ln -s "$gn_module" "$work/glib-networking/"

# Check that each configuration really loads the module it names.
check() {  # label, expected module path, module dir
  got=$(GIO_MODULE_DIR=$3 GIO_USE_TLS=gnutls "$bench" --which)
  case "$got" in
    *"$2"*) echo "bench: $1: $got" >&2 ;;
    *) echo "bench: $1 loads '$got', expected $2" >&2; exit 1 ;;
  esac
}
check ours "$ours_dir/libgiognutls.so" "$ours_dir"
check glib-networking "$gn_module" "$work/glib-networking"

groups="bulk-tls13,bulk-tls12,pingpong hs-ecdsa,hs-rsa,resumed conc-256,conc-256-interaction,conc-1000,conc-10000 idle-mem dtls-hs,dtls-dgram,dtls-send,dtls-batch-send-8,dtls-batch-send-32,dtls-batch-dgram-8,dtls-batch-dgram-32,dtls-loss"
[ -z "$only_groups" ] || groups=$only_groups
backends="raw ours glib-networking"
raw_lines="$work/raw.jsonl"
: > "$raw_lines"
start=$(date +%s)

run_backend() {  # run, backend, group
  args=""
  for w in $(echo "$3" | tr ',' ' '); do args="$args --workload $w"; done
  case "$2" in
    raw) set -- "$1" "$2" env -u GIO_MODULE_DIR "$bench" --raw $quick $args ;;
    ours) set -- "$1" "$2" env GIO_MODULE_DIR="$ours_dir" GIO_USE_TLS=gnutls "$bench" $quick $args ;;
    glib-networking) set -- "$1" "$2" env GIO_MODULE_DIR="$work/glib-networking" GIO_USE_TLS=gnutls "$bench" $quick $args ;;
  esac
  run=$1 label=$2
  shift 2
  "$@" 2>/dev/null | sed "s/^{/{\"run\":$run,\"label\":\"$label\",/" >> "$raw_lines"
}

r=1
while [ "$r" -le "$runs" ]; do
  echo "bench: run $r of $runs ($(( $(date +%s) - start )) s so far)" >&2
  # conc-10000 takes 10-40 s per backend: it runs in the first run only.
  run_groups=$groups
  [ "$r" -eq 1 ] || run_groups=$(echo "$groups" | sed 's/,conc-10000//')
  for g in $run_groups; do
    for b in $backends; do
      run_backend "$r" "$b" "$g"
    done
  done
  # rotate the backend order so none always runs first
  backends="$(echo "$backends" | cut -d' ' -f2-) $(echo "$backends" | cut -d' ' -f1)"
  r=$((r + 1))
done
elapsed=$(( $(date +%s) - start ))

# The commit of the sources the build was made from (the build dir may
# belong to another checkout, e.g. a clean worktree).
built_from=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['directories']['source'])" \
  "$builddir/meson-info/meson-info.json" 2>/dev/null || echo "$src")
commit=$(git -C "$built_from" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$built_from" status --porcelain -- tls 2>/dev/null)" ]; then commit="$commit+local-changes"; fi
cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
python3 "$src/bench/aggregate.py" "$raw_lines" "$output" \
  --date "$(date -u '+%Y-%m-%d %H:%M UTC')" --machine "$(nproc) × $cpu" \
  --commit "$commit" --runs "$runs" --seconds "$elapsed" \
  --glib-networking "$(dpkg-query -W -f='${Version}' glib-networking 2>/dev/null || echo '?')" \
  --gnutls "$(dpkg-query -W -f='${Version}' libgnutls30 2>/dev/null || echo '?')"
