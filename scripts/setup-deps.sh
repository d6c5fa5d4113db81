#!/bin/sh
# Installs the Debian 12 packages that building, testing and running the demo
# need, and only those that are missing. Safe to run again: when everything is
# present it changes nothing and needs no root.
#
# clang 14 and its runtimes are for the hardening steps of .ci/run: the fuzz
# targets (scripts/fuzz-smoke.sh) and the clang ASan build that runs
# glib-networking's programs (scripts/sanitize.sh, step asan-peer).
# clang-14 brings libclang-rt-14-dev (the sanitizer and libFuzzer runtimes)
# only as a recommendation, which the install below skips; llvm-14 brings
# llvm-symbolizer-14, which clang's runtimes use to name a report's frames.
set -eu

packages="
meson
ninja-build
g++
pkg-config
libglib2.0-dev
libgnutls28-dev
libpsl-dev
publicsuffix
gettext
glib-networking
glib-networking-tests
gnutls-bin
openssl
softhsm2
p11-kit
libp11-kit-dev
python3-gi
gir1.2-soup-3.0
clang
clang-14
libclang-rt-14-dev
llvm-14
"

missing=""
for p in $packages; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  case "$status" in
    *"install ok installed"*) ;;
    *) missing="$missing $p" ;;
  esac
done

if [ -z "$missing" ]; then
  echo "setup-deps: all required packages are installed"
  exit 0
fi

echo "setup-deps: installing:$missing"
if [ "$(id -u)" -eq 0 ]; then
  sudo=""
elif command -v sudo >/dev/null 2>&1; then
  sudo="sudo"
else
  echo "setup-deps: need root (or sudo) to install:$missing" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
# shellcheck disable=SC2086  # word splitting of the package list is intended
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
