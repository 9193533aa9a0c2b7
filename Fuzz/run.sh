#!/usr/bin/env bash
# Builds the SIP parser fuzzer (libFuzzer + AddressSanitizer) and runs it for a while.
#   Fuzz/run.sh [seconds] [extra libFuzzer flags...]      (default: 60 seconds)
# Seeds: the RFC 4475 fixtures (copied to a temporary corpus directory, which grows as the
# fuzzer finds new coverage). Crash reproducers go to .build/fuzz-artifacts/.
# Reproduce one:  .build/fuzz-sip-parser .build/fuzz-artifacts/crash-<sha1>
set -euo pipefail
cd "$(dirname "$0")/.."

secs="${1:-60}"
shift || true

bin=.build/fuzz-sip-parser
artifacts=.build/fuzz-artifacts
mkdir -p .build "$artifacts"

# The machine is shared: every compiler run is serialised on this lock.
flock /tmp/swiftbuild.lock swiftc -sanitize=fuzzer,address -parse-as-library -O -g \
    -module-name SIPFuzz \
    Sources/SwitchyardSIP/*.swift Fuzz/sip-parser/FuzzEntry.swift -o "$bin" \
    > .build/fuzz-build.log 2>&1 || { cat .build/fuzz-build.log; exit 1; }

corpus="$(mktemp -d /tmp/sip-fuzz-corpus.XXXXXX)"
trap 'rm -rf "$corpus"' EXIT
cp Tests/SwitchyardSIPTests/Fixtures/rfc4475/*.sip "$corpus"/

# Let a Swift runtime trap (overflow, bounds) reach libFuzzer's deadly-signal handler, which prints
# the symbolised stack and writes the reproducer; Swift's own backtracer fights with ASan.
export SWIFT_BACKTRACE=enable=no

echo "fuzzing for ${secs}s; corpus $corpus; artifacts $artifacts/"
"$bin" "$corpus" \
    -dict=Fuzz/sip-parser/sip.dict \
    -max_total_time="$secs" \
    -max_len=8192 \
    -timeout=5 \
    -rss_limit_mb=2048 \
    -artifact_prefix="$artifacts/" \
    -print_final_stats=1 \
    "$@"
