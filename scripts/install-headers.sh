#!/bin/sh
# Installs the Switchyard plugin headers and the pkg-config file switchyard-plugin.pc, so a plugin
# builds outside this repository with one line:
#   cc -std=c99 -shared -fPIC $(pkg-config --cflags switchyard-plugin) -o e164.so e164.c
#
# Usage: scripts/install-headers.sh [PREFIX]      (default /usr/local; DESTDIR is honoured)
#   PREFIX/include/switchyard*.h                 the ABI header and the API headers beside it
#   PREFIX/lib/pkgconfig/switchyard-plugin.pc    Cflags: -I PREFIX/include
# With PREFIX /usr/local, cc finds the headers without any flag; for another prefix set
# PKG_CONFIG_PATH=PREFIX/lib/pkgconfig.
set -eu
prefix=${1:-/usr/local}
case $prefix in /*) ;; *) prefix=$(cd "$prefix" 2>/dev/null && pwd || echo "$PWD/$prefix") ;; esac
src=$(cd "$(dirname "$0")/../Sources/SwitchyardABI/include" && pwd)
header=$src/switchyard.h
major=$(sed -n 's/^#define SY_ABI_MAJOR \([0-9]*\).*/\1/p' "$header")
minor=$(sed -n 's/^#define SY_ABI_MINOR \([0-9]*\).*/\1/p' "$header")
destdir=${DESTDIR:-}

mkdir -p "$destdir$prefix/include" "$destdir$prefix/lib/pkgconfig"
for h in "$src"/switchyard*.h; do
    install -m 644 "$h" "$destdir$prefix/include/"
done
cat > "$destdir$prefix/lib/pkgconfig/switchyard-plugin.pc" <<PC
prefix=$prefix
includedir=\${prefix}/include

Name: switchyard-plugin
Description: Switchyard plugin ABI headers (C99, libc only; link nothing)
Version: $major.$minor
Cflags: -I\${includedir}
PC
echo "installed switchyard ABI $major.$minor headers in $destdir$prefix/include, switchyard-plugin.pc in $destdir$prefix/lib/pkgconfig"
