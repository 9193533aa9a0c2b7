#!/usr/bin/env bash
# Stateless SIP forwarding benchmark: sipp UAC -> proxy -> sipp UAS (INVITE/200/ACK/BYE/200, no 180),
# for (a) no proxy (UAC -> UAS directly: the ceiling of sipp on this machine), (b) Kamailio (Debian) with
# kamailio.cfg, with `-x fm -X fm` and with its default allocator, (c) Switchyard (.build/release/switchyard
# with switchyard.cfg). For each: the highest call rate with zero failed calls over DURATION seconds (rates
# stepped up, then bisected between the last pass and the first failure), and the proxy's CPU time per call
# (utime+stime of the proxy's whole process tree from /proc/<pid>/stat, delta over the step / successful calls).
#
# Usage: Benchmarks/sip/bench.sh [--quick] [--only ceiling,kamailio-fm,kamailio,switchyard] [--duration S]
#                                [--rates "1000 2000 ..."] [--max-rate N] [--keep] [--stateful]
#   --stateful  the proxies relay with tm's t_relay() (kamailio-tm.cfg, switchyard-tm.cfg) instead of forward();
#               also prints Switchyard's memory per in-flight transaction (RSS growth / tm:inuse_transactions)
#   --rates     the rates stepped through (default 1000 2000 4000 6000 8000 10000); when all pass, the search
#               goes on x1.5 up to --max-rate (default 40000), then bisects twice between last pass and first failure
#   --quick     5 s steps at 1000 4000 8000 (12000) cps and one refinement (a few minutes instead of 15-25)
#   --keep      keep the work directory (sipp stats/error logs, proxy logs) and print its path
# Needs sipp (Debian sip-tester); kamailio and the Switchyard release build are optional (skipped with a message).
# Build Switchyard first: flock /tmp/swiftbuild.lock swift build -c release
#
# A step passes when every call was created and succeeded (sipp stat file: OutgoingCall == SuccessfulCall ==
# calls, FailedCall == 0) and sipp kept up with the rate (wall time <= DURATION * 1.15 + 3 s).
# Ports (127.0.0.1): UAC 5601, UAS 5090, Switchyard 5070, Kamailio 5080 (environment UAC_PORT, UAS_PORT, SY_PORT,
# KAM_PORT override them, for a machine where those are taken).
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$ROOT/Benchmarks/sip"
SCEN="$ROOT/Tests/SIP"
SWITCHYARD="${SWITCHYARD:-$ROOT/.build/release/switchyard}"
KAMAILIO="${KAMAILIO:-$(command -v kamailio || echo /usr/sbin/kamailio)}"
SIPP="${SIPP:-$(command -v sipp || echo /usr/bin/sipp)}"
# The proxies' configs (Benchmarks/sip/dispatcher.sh points them at its dispatcher variants).
KAM_CFG_SRC="${KAM_CFG_SRC:-}"
SY_CFG_SRC="${SY_CFG_SRC:-}"

UAC_PORT=${UAC_PORT:-5601}
UAS_PORT=${UAS_PORT:-5090}
SY_PORT=${SY_PORT:-5070}
KAM_PORT=${KAM_PORT:-5080}

DURATION=20
RATES="1000 2000 4000 6000 8000 10000"
REFINE=2
MAX_RATE=40000
ONLY="ceiling,kamailio-fm,kamailio,switchyard"
KEEP=0
STATEFUL=0
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) DURATION=5; RATES="1000 4000 8000"; REFINE=1; MAX_RATE=12000 ;;
        --max-rate) MAX_RATE="$2"; shift ;;
        --only) ONLY="$2"; shift ;;
        --duration) DURATION="$2"; shift ;;
        --rates) RATES="$2"; shift ;;
        --keep) KEEP=1 ;;
        --stateful) STATEFUL=1 ;;
        -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

KAM_CFG=kamailio.cfg
SY_CFG=switchyard.cfg
MODE="Stateless forwarding"
if [ $STATEFUL = 1 ]; then KAM_CFG=kamailio-tm.cfg; SY_CFG=switchyard-tm.cfg; MODE="Stateful relay (tm t_relay)"; fi
# KAM_CFG_SRC / SY_CFG_SRC (environment) replace the configs, e.g. for the dispatcher comparison.
KAM_CFG_SRC="${KAM_CFG_SRC:-$HERE/$KAM_CFG}"
SY_CFG_SRC="${SY_CFG_SRC:-$HERE/$SY_CFG}"
[ -x "$SIPP" ] || { echo "sipp not found (apt-get install sip-tester)" >&2; exit 1; }
WORK=$(mktemp -d /tmp/sy-sipbench.XXXXXX)
CLK_TCK=$(getconf CLK_TCK)

# ---- process bookkeeping: everything started here is killed on exit ----
# Every process started here is recorded in $WORK/pids (also from subshells) and killed on exit.
track() { echo "$1" >>"$WORK/pids"; }
kill_tree() {  # pid: SIGTERM the process and its descendants, SIGKILL what is left after 3 s
    local root=$1 all p
    all="$(tree_pids "$root")"
    [ -n "$all" ] || return 0
    kill $all 2>/dev/null
    for _ in $(seq 30); do
        local alive=0
        for p in $all; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ $alive = 0 ] && break
        sleep 0.1
    done
    kill -9 $all 2>/dev/null
    wait "$root" 2>/dev/null
    return 0
}
cleanup() {
    local p
    if [ -f "$WORK/pids" ]; then for p in $(cat "$WORK/pids"); do kill -0 "$p" 2>/dev/null && kill_tree "$p"; done; fi
    if [ $KEEP = 1 ]; then echo "work directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

tree_pids() {  # root pid and all its descendants
    ps -e -o pid=,ppid= | awk -v r="$1" '
        { parent[$1] = $2; pids[NR] = $1 }
        END { keep[r] = 1; n = 1
              while (n) { n = 0; for (i in pids) { p = pids[i]; if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; n = 1 } } }
              for (p in keep) print p }'
}
cpu_ticks() {  # utime+stime (clock ticks) summed over the process tree of $1
    local sum=0 p t
    for p in $(tree_pids "$1"); do
        t=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13}')
        sum=$((sum + ${t:-0}))
    done
    echo $sum
}
udp_bound() {  # is something bound to 127.0.0.1:$1 / 0.0.0.0:$1 (UDP)?
    ss -Hnul "sport = :$1" 2>/dev/null | grep -q .
}
wait_udp() {  # port pid timeout_s
    local i
    for i in $(seq $(( $3 * 10 ))); do
        udp_bound "$1" && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
wait_udp_free() {
    local i
    for i in $(seq 50); do udp_bound "$1" || return 0; sleep 0.1; done
    return 1
}

# ---- one step: UAS fresh, UAC at RATE for DURATION s against 127.0.0.1:PORT; proxy CPU measured on PROXY_PID ----
# Prints: pass(0/1) successful failed created retrans wall_s cpu_ticks
run_step() {
    local port=$1 rate=$2 proxy=$3 tag=$4
    local calls=$((rate * DURATION))
    local dir="$WORK/$tag-$rate"
    mkdir -p "$dir"
    wait_udp_free $UAS_PORT || { echo "UAS port $UAS_PORT busy" >&2; echo "0 0 0 0 0 0 -"; return; }
    (cd "$dir" && exec "$SIPP" -sf "$SCEN/uas.xml" -i 127.0.0.1 -p $UAS_PORT -nostdin -buff_size 4194304 \
        -trace_err -error_file "$dir/uas_err.log" >"$dir/uas.out" 2>&1) &
    local uas=$!
    track $uas
    if ! wait_udp $UAS_PORT $uas 10; then
        echo "sipp UAS did not start: $(tail -3 "$dir/uas.out")" >&2
        kill_tree $uas; echo "0 0 0 0 0 0 -"; return
    fi
    local c0=0 c1=0 ticks="-"
    [ "$proxy" != 0 ] && c0=$(cpu_ticks "$proxy")
    local t0 t1
    t0=$(date +%s.%N)
    (cd "$dir" && exec "$SIPP" -sf "$SCEN/uac.xml" -s 1000 -i 127.0.0.1 -p $UAC_PORT "127.0.0.1:$port" \
        -r "$rate" -rp 1000 -m "$calls" -l $((rate * 5 + 100)) -nostdin -buff_size 4194304 \
        -recv_timeout 5000 -timeout $((DURATION * 2 + 30))s \
        -trace_stat -stf "$dir/uac.csv" -fd 1 -trace_err -error_file "$dir/uac_err.log" >"$dir/uac.out" 2>&1)
    t1=$(date +%s.%N)
    [ "$proxy" != 0 ] && { c1=$(cpu_ticks "$proxy"); ticks=$((c1 - c0)); }
    # Stateful Switchyard: RSS now, while the last wt_timer (5 s) of calls still sit in WAIT (2 cells per call).
    if [ $STATEFUL = 1 ] && [ "$tag" = switchyard ] && [ "$proxy" != 0 ]; then
        local rss
        rss=$(awk '/VmRSS/ {print $2}' "/proc/$proxy/status" 2>/dev/null)
        [ -n "$rss" ] && [ -n "${SY_RSS0:-}" ] &&
            echo "  memory: RSS $rss kB (idle $SY_RSS0 kB), ~$((rate * 5 * 2)) transactions in flight:" \
                 "$(( (rss - SY_RSS0) * 1024 / (rate * 10) )) bytes per transaction" >&2
    fi
    kill_tree $uas
    local stats
    stats=$(awk -F';' 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
        { last = $0 }
        END { n = split(last, f, ";")
              print f[col["SuccessfulCall(C)"]] + 0, f[col["FailedCall(C)"]] + 0, f[col["OutgoingCall(C)"]] + 0,
                    f[col["Retransmissions(C)"]] + 0 }' "$dir/uac.csv" 2>/dev/null)
    [ -n "$stats" ] || stats="0 0 0 0"
    local ok failed created retrans wall pass
    read -r ok failed created retrans <<<"$stats"
    wall=$(echo "$t1 - $t0" | bc -l)
    pass=0
    if [ "$ok" = "$calls" ] && [ "$created" = "$calls" ] && [ "$failed" = 0 ] &&
       [ "$(echo "$wall <= $DURATION * 1.15 + 3" | bc -l)" = 1 ]; then pass=1; fi
    printf '%s %s %s %s %s %.1f %s\n' $pass "$ok" "$failed" "$created" "$retrans" "$wall" "$ticks"
}

us_per_call() {  # ticks calls
    case "$1" in ''|*[!0-9]*) echo "-"; return ;; esac
    [ "${2:-0}" -gt 0 ] 2>/dev/null || { echo "-"; return; }
    echo "scale=1; $1 * 1000000 / $CLK_TCK / $2" | bc -l
}

# ---- the search for one target; fills RESULT_* ----
search() {
    local label=$1 port=$2 proxy=$3
    local best=0 fail=0 best_cpu="-" first_cpu="-" first_rate="" r line
    for r in $RATES; do
        line=$(run_step "$port" "$r" "$proxy" "$label")
        report_step "$label" "$r" "$line"
        set -- $line
        [ -z "$first_rate" ] && { first_rate=$r; [ "$1" = 1 ] && first_cpu=$(us_per_call "$7" "$2"); }
        if [ "$1" = 1 ]; then best=$r; best_cpu=$(us_per_call "$7" "$2"); else fail=$r; break; fi
        if [ "$proxy" != 0 ] && ! kill -0 "$proxy" 2>/dev/null; then echo "  proxy died" >&2; fail=$r; break; fi
        sleep 1
    done
    # Every listed rate passed: keep going (x1.5) until a failure or MAX_RATE.
    r=$best
    while [ "$fail" = 0 ] && [ "$best" -gt 0 ]; do
        r=$(( r * 3 / 2 / 1000 * 1000 ))
        [ "$r" -le "$MAX_RATE" ] || break
        if [ "$proxy" != 0 ] && ! kill -0 "$proxy" 2>/dev/null; then echo "  proxy died" >&2; break; fi
        sleep 1
        line=$(run_step "$port" "$r" "$proxy" "$label")
        report_step "$label" "$r" "$line"
        set -- $line
        if [ "$1" = 1 ]; then best=$r; best_cpu=$(us_per_call "$7" "$2"); else fail=$r; fi
    done
    local i mid
    for i in $(seq "$REFINE"); do
        [ "$fail" -gt 0 ] || break
        mid=$(( (best + fail) / 2 / 250 * 250 ))
        [ "$mid" -le "$best" ] && break
        if [ "$proxy" != 0 ] && ! kill -0 "$proxy" 2>/dev/null; then break; fi
        sleep 2
        line=$(run_step "$port" "$mid" "$proxy" "$label")
        report_step "$label" "$mid" "$line"
        set -- $line
        if [ "$1" = 1 ]; then best=$mid; best_cpu=$(us_per_call "$7" "$2"); else fail=$mid; fi
    done
    local limit="$best"
    [ "$fail" = 0 ] && limit=">=$best"
    [ "$best" = 0 ] && limit="<$first_rate"
    ROWS+=("$(printf '%-22s %14s %18s %22s' "$label" "$limit" "$best_cpu" "$first_cpu")")
}
report_step() {  # label rate "pass ok failed created retrans wall ticks"
    local label=$1 rate=$2; set -- $3
    local verdict=FAIL; [ "$1" = 1 ] && verdict=ok
    printf '  %-14s %6s cps: %-4s successful %8s failed %6s created %8s retrans %6s wall %5ss cpu %s us/call\n' \
        "$label" "$rate" "$verdict" "$2" "$3" "$4" "$5" "$6" "$(us_per_call "$7" "$2")" >&2
}

start_proxy() {  # label port cmd...: starts, waits for the port; echoes the pid (0 on failure)
    local label=$1 port=$2; shift 2
    if ! wait_udp_free "$port"; then echo "$label: port $port busy" >&2; echo 0; return; fi
    "$@" >"$WORK/$label.log" 2>&1 </dev/null &
    local pid=$!
    track $pid
    if ! wait_udp "$port" $pid 20; then
        echo "$label did not start; log:" >&2; tail -20 "$WORK/$label.log" >&2
        kill_tree $pid; echo 0; return
    fi
    sleep 1  # let every worker come up
    echo $pid
}

# ---- main ----
ROWS=()
echo "SIP benchmark ($MODE): $(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC'), ${DURATION}s steps, rates: $RATES (+$REFINE refinements)" >&2
echo "sipp: $("$SIPP" -v 2>&1 | grep -o 'SIPp v[^ -]*' | head -1)  work dir: $WORK" >&2
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
has() { case ",$ONLY," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

if has ceiling; then
    echo "(a) ceiling: sipp UAC -> sipp UAS directly" >&2
    search "sipp direct (ceiling)" $UAS_PORT 0
fi

kam_cfg() {
    sed -e "s/127\.0\.0\.1:5080/127.0.0.1:$KAM_PORT/" -e "s/127\.0\.0\.1:5090/127.0.0.1:$UAS_PORT/" \
        "$KAM_CFG_SRC" >"$WORK/kamailio.cfg"
    mkdir -p "$WORK/kamrun"
}
run_kamailio() {  # label extra-args...
    local label=$1; shift
    kam_cfg
    local pid
    pid=$(start_proxy "$label" $KAM_PORT "$KAMAILIO" -f "$WORK/kamailio.cfg" -DD -E -m 256 -M 16 \
        -Y "$WORK/kamrun" -w "$WORK" "$@")
    if [ "$pid" = 0 ]; then ROWS+=("$(printf '%-22s %14s' "$label" "did not start")"); return; fi
    echo "  kamailio pid $pid, $(tree_pids $pid | wc -l) processes" >&2
    search "$label" $KAM_PORT "$pid"
    kill_tree "$pid"
}
if has kamailio-fm; then
    if [ -x "$KAMAILIO" ]; then
        echo "(b) Kamailio $("$KAMAILIO" -v | awk '/^version/ {print $3}') -x fm -X fm" >&2
        run_kamailio "kamailio fm" -x fm -X fm
    else echo "(b) kamailio not installed: skipped" >&2; fi
fi
if has kamailio; then
    if [ -x "$KAMAILIO" ]; then
        echo "(b') Kamailio, default allocator" >&2
        run_kamailio "kamailio default-alloc"
    else echo "(b') kamailio not installed: skipped" >&2; fi
fi

if has switchyard; then
    if [ ! -x "$SWITCHYARD" ]; then
        echo "(c) Switchyard: $SWITCHYARD not built (flock /tmp/swiftbuild.lock swift build -c release): skipped" >&2
    elif ! ls "$(dirname "$SWITCHYARD")" 2>/dev/null | grep -q 'proto_udp'; then
        echo "(c) Switchyard: no proto_udp module next to $SWITCHYARD yet: skipped" >&2
    else
        echo "(c) Switchyard ($SWITCHYARD)" >&2
        sed -e "s/127\.0\.0\.1:5070/127.0.0.1:$SY_PORT/" -e "s/127\.0\.0\.1:5090/127.0.0.1:$UAS_PORT/" \
            "$SY_CFG_SRC" >"$WORK/switchyard.cfg"
        pid=$(start_proxy switchyard $SY_PORT "$SWITCHYARD" -f "$WORK/switchyard.cfg")
        if [ "$pid" = 0 ]; then ROWS+=("$(printf '%-22s %14s' switchyard "did not start")")
        else
            SY_RSS0=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null)
            search "switchyard" $SY_PORT "$pid"
            kill -0 "$pid" 2>/dev/null || { echo "  switchyard exited; log tail:" >&2; tail -20 "$WORK/switchyard.log" >&2; }
            kill_tree "$pid"
        fi
    fi
fi

echo
echo "$MODE, sipp uac.xml/uas.xml (INVITE/200/ACK/BYE/200), ${DURATION}s per step, $(nproc) cores"
printf '%-22s %14s %18s %22s\n' "target" "max cps (0 fail)" "proxy CPU us/call" "us/call @$(set -- $RATES; echo $1) cps"
printf '%-22s %14s %18s %22s\n' "------" "----------------" "-----------------" "--------------------"
for row in "${ROWS[@]}"; do echo "$row"; done
