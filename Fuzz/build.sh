#!/usr/bin/env bash
# Builds fuzz targets (libFuzzer + AddressSanitizer) into .build/fuzz-<target>, each only when a source of it is
# newer than its binary: a built target runs again without recompiling.
#   Fuzz/build.sh [target...]        (default: every target)      Fuzz/build.sh --list
# Targets: sip-parser esl json config mi-jsonrpc mi-fifo mi-datagram http.
set -euo pipefail
cd "$(dirname "$0")/.."

targets_all=(sip-parser esl json config mi-jsonrpc mi-fifo mi-datagram http)

# The sources of each target (compiled in one module with its Fuzz/<target>/FuzzEntry.swift).
sources() {
    case "$1" in
        sip-parser) ls Sources/SwitchyardSIP/*.swift ;;
        esl) ls Sources/SwitchyardESL/*.swift ;;
        json) ls Sources/SwitchyardJSON/*.swift ;;
        # The lexer and parser; SyntaxReport (--syntax-only) needs the module loader, which is not fuzzed here.
        config) ls Sources/SwitchyardCore/Config/*.swift | grep -v SyntaxReport ;;
        # MI re-exports SwitchyardJSON: the JSON sources become a module of their own first (see below).
        mi-jsonrpc) ls Sources/SwitchyardMI/*.swift ;;
        # The request framing of mi_fifo (pure logic over SwitchyardJSON's parser).
        mi-fifo) ls Plugins/mi_fifo/FifoFramer.swift ;;
        # mi_datagram's exchange (one datagram in, one out) over the MI dispatcher.
        mi-datagram) ls Sources/SwitchyardMI/*.swift Plugins/mi_datagram/DatagramExchange.swift ;;
        # What our code reads of an HTTP request (libmicrohttpd parses the rest): httpd's head checks and roots,
        # mi_http's answer over the MI dispatcher.
        http) ls Sources/SwitchyardMI/*.swift Plugins/httpd/{HeadCheck,Roots,Config}.swift Plugins/mi_http/Answer.swift ;;
        *) echo "unknown fuzz target '$1' (targets: ${targets_all[*]})" >&2; exit 2 ;;
    esac
}

flags=(-sanitize=fuzzer,address -parse-as-library -O -g)

# Targets whose code imports SwitchyardJSON: it is built as a module of its own first.
needs_json() { [[ "$1" =~ ^(mi-jsonrpc|mi-fifo|mi-datagram|http)$ ]]; }
# Targets whose code imports the SwitchyardABI C header (types only): a module map for it in the build directory.
needs_abi() { [ "$1" = http ]; }

build() {
    local t="$1" bin=".build/fuzz-$t" srcs
    srcs=$(sources "$t"; echo "Fuzz/$t/FuzzEntry.swift"; needs_json "$t" && ls Sources/SwitchyardJSON/*.swift
           needs_abi "$t" && ls Sources/SwitchyardABI/include/*.h || true)
    if [ -x "$bin" ] && [ -z "$(find $srcs -newer "$bin" 2>/dev/null)" ]; then
        echo "fuzz-$t: up to date"
        return
    fi
    echo "fuzz-$t: building"
    mkdir -p .build
    local log=".build/fuzz-$t-build.log" module abi=()
    module="$(echo "$t" | tr -d '-')Fuzz"
    if needs_abi "$t"; then
        mkdir -p ".build/fuzz-$t-modules"
        printf 'module SwitchyardABI {\n    umbrella header "%s"\n    export *\n}\n' \
            "$PWD/Sources/SwitchyardABI/include/SwitchyardABI.h" > ".build/fuzz-$t-modules/SwitchyardABI.modulemap"
        abi=(-Xcc "-fmodule-map-file=$PWD/.build/fuzz-$t-modules/SwitchyardABI.modulemap")
    fi
    # The machine is shared: every compiler run is serialised on this lock.
    if needs_json "$t"; then
        local dir=".build/fuzz-$t-modules"
        mkdir -p "$dir"
        flock /tmp/swift-build.lock swiftc "${flags[@]}" -module-name SwitchyardJSON -emit-module \
            -emit-module-path "$dir/SwitchyardJSON.swiftmodule" -emit-library -static -o "$dir/libSwitchyardJSON.a" \
            Sources/SwitchyardJSON/*.swift > "$log" 2>&1 || { cat "$log"; exit 1; }
        flock /tmp/swift-build.lock swiftc "${flags[@]}" -module-name "$module" -I "$dir" -L "$dir" -lSwitchyardJSON "${abi[@]}" \
            $(sources "$t") "Fuzz/$t/FuzzEntry.swift" -o "$bin" >> "$log" 2>&1 || { cat "$log"; exit 1; }
    else
        flock /tmp/swift-build.lock swiftc "${flags[@]}" -module-name "$module" \
            $(sources "$t") "Fuzz/$t/FuzzEntry.swift" -o "$bin" > "$log" 2>&1 || { cat "$log"; exit 1; }
    fi
}

if [ "${1:-}" = --list ]; then echo "${targets_all[*]}"; exit 0; fi
for t in "${@:-${targets_all[@]}}"; do build "$t"; done
