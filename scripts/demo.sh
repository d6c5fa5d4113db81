#!/bin/sh
# Installs what is missing, builds gio-tls-gnutls and runs the demo against the
# freshly built module: GIO_MODULE_DIR names the build's tls/ directory, which
# holds our module and nothing else, so GIO cannot pick another TLS backend.
#
# Environment:
#   BUILD_DIR   build directory (default: build, next to this script's parent)
# Arguments are passed on to the demo (see examples/demo.cc).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-"$top/build"}

"$top/scripts/setup-deps.sh"

if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" "$top"
fi
meson compile -C "$build"

GIO_MODULE_DIR="$build/tls"
GIO_USE_TLS=gnutls
export GIO_MODULE_DIR GIO_USE_TLS
exec "$build/examples/gio-tls-gnutls-demo" --expect-backend GTlsBackendGnutls --require-all "$@"
