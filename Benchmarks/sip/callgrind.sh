#!/usr/bin/env bash
# Instructions per call of the proxy (deterministic, unlike CPU time on a shared machine): runs the release proxy under
# valgrind --tool=callgrind, zeroes the counters after start-up, relays CALLS calls of Tests/SIP/uac.xml/uas.xml at
# 50 calls/s, waits 7 s (every tm WAIT timer has run), dumps and prints the instructions per call.
#
# Usage: Benchmarks/sip/callgrind.sh [--stateful] [--calls N] [--out FILE]
#   ports (127.0.0.1): proxy 43170, UAS 43190, UAC 43701 (environment CG_SY_PORT, CG_UAS_PORT, CG_UAC_PORT); they
#   must differ from a benchmark running at the same time. Annotate with: callgrind_annotate --inclusive=yes FILE.1
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SWITCHYARD="${SWITCHYARD:-$ROOT/.build/release/switchyard}"
SY=${CG_SY_PORT:-43170}; UAS=${CG_UAS_PORT:-43190}; UAC=${CG_UAC_PORT:-43701}
CFG=switchyard.cfg; CALLS=300; OUT=""
while [ $# -gt 0 ]; do
    case "$1" in
        --stateful) CFG=switchyard-tm.cfg ;;
        --calls) CALLS="$2"; shift ;;
        --out) OUT="$2"; shift ;;
        -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
WORK=$(mktemp -d /tmp/sy-callgrind.XXXXXX)
OUT=${OUT:-$WORK/callgrind.out}
sed -e "s/127\.0\.0\.1:5070/127.0.0.1:$SY/" -e "s/127\.0\.0\.1:5090/127.0.0.1:$UAS/" "$ROOT/Benchmarks/sip/$CFG" >"$WORK/sy.cfg"
# Valgrind 3.19 gives up on the DWARF 5 debug info of a Swift 6 release build ("Possibly corrupted debuginfo file"): the
# proxy and its plugins (loaded from the binary's directory) run from copies without debug info; symbols stay.
mkdir -p "$WORK/bin"
cp "$SWITCHYARD" "$WORK/bin/switchyard" || exit 1
ls "$(dirname "$SWITCHYARD")"/lib*.so >/dev/null 2>&1 || { echo "no plugins next to $SWITCHYARD" >&2; exit 1; }
cp "$(dirname "$SWITCHYARD")"/lib*.so "$WORK/bin/" || exit 1
for f in "$WORK/bin"/*; do objcopy --strip-debug "$f" || { echo "objcopy $f failed" >&2; exit 1; }; done
valgrind --tool=callgrind --callgrind-out-file="$OUT" "$WORK/bin/switchyard" -f "$WORK/sy.cfg" >"$WORK/proxy.log" 2>&1 &
VG=$!
uas=""
cleanup() { [ -n "$uas" ] && kill "$uas" 2>/dev/null; kill "$VG" 2>/dev/null; wait 2>/dev/null; }
trap cleanup EXIT
for _ in $(seq 1 120); do ss -lun | grep -q ":$SY " && break; sleep 0.5; done
ss -lun | grep -q ":$SY " || { echo "proxy did not start: $(tail -3 "$WORK/proxy.log")" >&2; exit 1; }
sleep 2
callgrind_control -z "$VG" >/dev/null 2>&1
(cd "$WORK" && exec sipp -sf "$ROOT/Tests/SIP/uas.xml" -i 127.0.0.1 -p "$UAS" -nostdin >/dev/null 2>&1) &
uas=$!
sleep 1
(cd "$WORK" && sipp -sf "$ROOT/Tests/SIP/uac.xml" -s 1000 -i 127.0.0.1 -p "$UAC" "127.0.0.1:$SY" -r 50 -m "$CALLS" \
    -nostdin -trace_stat -stf "$WORK/uac.csv" >/dev/null 2>&1)
sleep 7
callgrind_control -d "$VG" >/dev/null 2>&1
sleep 1
ok=$(tail -1 "$WORK/uac.csv" | cut -d';' -f16)
total=$(grep -h '^summary:' "$OUT".1 2>/dev/null | awk '{print $2}')
echo "$CFG: $CALLS calls ($ok successful), $total instructions, $((total / CALLS)) per call; profile $OUT.1"
