#!/usr/bin/env bash
# bench-jack.sh: lr-bench --jack against the late-cycle floor of this machine.
#
# For each period size it starts a private `jackd -R -d dummy -r 48000 -p P`
# (falling back to --no-realtime if real-time scheduling is refused), then
#   1. runs the reference client `jack_simple_client` alone for S seconds,
#   2. runs `lr-bench --jack` (the engine's AudioCore in a JACK client) for
#      each loop count, S seconds each,
#   3. runs the reference again (the floor drifts on a noisy VM),
# and prints, side by side, the late cycles jackd logged in each timed window
# and lr-bench's callback-time table.
#
# How late cycles are counted: jackd (1.9.21) logs one line per client that
# had not finished when the next cycle began ("JackEngine::XRun: client = X
# was not finished", or "... finished after current callback") -- the
# "late" column; with one client in the graph that is one line per late
# cycle -- and one line per dummy-driver cycle that overran its period
# ("JackTimedDriver::Process XRun = N usec") -- the "drv" column; a late
# timer wake-up usually produces one of each. Every such line also fires
# each client's xrun callback. jackd's stderr goes to a file; the script
# takes its line count when a window opens and closes (lr-bench brackets
# each row's window with "lr-bench: window start/end" on stderr; for the
# reference the script times the window itself) and counts the matching
# lines in between. lr-bench's own xrun-callback count for its window is
# printed as "xruns" (= late + drv), a cross-check of the log counting.
#
# Every process this script starts is recorded by pid and stopped on exit
# (SIGTERM first: a SIGKILLed jackd leaks its entry in JACK's 8-entry server
# registry, /dev/shm/jack-shm-registry).
set -u

usage() {
    cat <<'EOF'
usage: tools/bench-jack.sh [options]
  --seconds S        timed seconds per window (default 15)
  --loops LIST       lr-bench loop counts, comma-separated (default 1,8,32)
  --periods LIST     JACK period sizes, comma-separated (default 64,256)
  --rate R           sample rate (default 48000)
  --pin [CPU]        pin jackd, the reference client and lr-bench to one CPU
                     with taskset (default CPU 1)
  --no-rt            start jackd --no-realtime instead of -R
  --no-ref-after     skip the second reference window after the engine rows
  --bench PATH       lr-bench binary (default: build/tools/lr-bench beside this
                     script's repository, or $LR_BENCH)
  --keep-logs DIR    copy jackd's logs and the raw outputs to DIR
  --bench-args ARGS  extra arguments for lr-bench (e.g. "--slot-outs"; with
                     "--stretch" each loop count gives the rows pending, steady
                     (--seconds) and tempo, e.g. --loops 32 --bench-args --stretch)
  -h, --help         this text
Environment: JACKD (default jackd), REF_CLIENT (default jack_simple_client; it is
given the client name lrbench_ref as its first argument).
Exit status: 0 ok, 1 a run failed, 2 usage.
EOF
}

seconds=15
loops=1,8,32
periods=64,256
rate=48000
pin=""
rt=1
ref_after=1
keep_logs=""
bench_args=""
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bench="${LR_BENCH:-$here/../build/tools/lr-bench}"

while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) seconds="${2:?--seconds needs a value}"; shift 2 ;;
        --loops) loops="${2:?--loops needs a value}"; shift 2 ;;
        --periods) periods="${2:?--periods needs a value}"; shift 2 ;;
        --rate) rate="${2:?--rate needs a value}"; shift 2 ;;
        --pin)
            if [ $# -ge 2 ] && [[ "$2" =~ ^[0-9]+$ ]]; then pin="$2"; shift 2; else pin=1; shift; fi ;;
        --no-rt) rt=0; shift ;;
        --no-ref-after) ref_after=0; shift ;;
        --bench) bench="${2:?--bench needs a value}"; shift 2 ;;
        --keep-logs) keep_logs="${2:?--keep-logs needs a value}"; shift 2 ;;
        --bench-args) bench_args="${2-}"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "bench-jack.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
done

[[ "$seconds" =~ ^[0-9]+([.][0-9]+)?$ ]] || { echo "bench-jack.sh: --seconds must be a number" >&2; exit 2; }
[[ "$loops" =~ ^[0-9]+(,[0-9]+)*$ ]] || { echo "bench-jack.sh: --loops must be like 1,8,32" >&2; exit 2; }
[[ "$periods" =~ ^[0-9]+(,[0-9]+)*$ ]] || { echo "bench-jack.sh: --periods must be like 64,256" >&2; exit 2; }
JACKD="${JACKD:-jackd}"
REF_CLIENT="${REF_CLIENT:-jack_simple_client}"
for tool in "$JACKD" "$REF_CLIENT" jack_wait jack_lsp; do
    command -v "$tool" >/dev/null || { echo "bench-jack.sh: $tool not found (apt-get install jackd2)" >&2; exit 1; }
done
[ -x "$bench" ] || { echo "bench-jack.sh: $bench is not built (ninja -C build)" >&2; exit 1; }
if [ -n "$pin" ]; then
    command -v taskset >/dev/null || { echo "bench-jack.sh: --pin needs taskset (util-linux)" >&2; exit 1; }
    pin_cmd=(taskset -c "$pin")
else
    pin_cmd=()
fi

tmp="$(mktemp -d /tmp/bench-jack.XXXXXX)"
pids=()          # every process we started, stopped in reverse order on exit
late_re='was not finished|finished after current callback'  # a client missed the cycle
drv_re='Process XRun'                                         # the driver's cycle overran

# stop_pid PID: SIGTERM, wait up to 5 s, then SIGKILL. A jackd gets 30 s and is
# never SIGKILLed (it would keep its entry in JACK's 8-entry server registry):
# if it is still there, say so and leave it.
stop_pid() {
    local pid="$1" i limit=50 is_jackd=0
    kill -0 "$pid" 2>/dev/null || return 0
    if [ "$(ps -o comm= -p "$pid" 2>/dev/null)" = "$(basename "$JACKD")" ]; then
        is_jackd=1
        limit=300
    fi
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq "$limit"); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        if [ "$is_jackd" = 1 ]; then
            echo "bench-jack.sh: jackd (pid $pid) still running 30 s after SIGTERM; left running, not killed" \
                 "(a SIGKILLed jackd keeps its registry entry): stop it with kill -TERM $pid" >&2
            return 0
        fi
        echo "bench-jack.sh: pid $pid ignored SIGTERM; killing it" >&2
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null || true
}
# shellcheck disable=SC2317  # called from the EXIT trap
forget_pid() {  # forget_pid PID: drop it from pids (it has been stopped)
    local kept=() p
    for p in "${pids[@]}"; do [ "$p" = "$1" ] || kept+=("$p"); done
    pids=("${kept[@]}")
}
# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
    local i
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop_pid "${pids[$i]}"; done
    pids=()
    if [ -n "$keep_logs" ]; then mkdir -p "$keep_logs" && cp -r "$tmp"/. "$keep_logs"/; fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
trap 'exit 141' PIPE

lines() { wc -l < "$1" | tr -d ' '; }
count_lines() {  # count_lines LOG FROM TO REGEX: matching lines in (FROM, TO]
    if [ "$3" -le "$2" ]; then echo 0; return; fi
    sed -n "$(($2 + 1)),$3p" "$1" | grep -cE "$4"
}

# JACK keeps at most 8 servers in /dev/shm/jack-shm-registry, and only frees
# the entry of a server that was killed with SIGKILL when a server of the same
# name starts again. Say which entries are stale when we cannot start.
explain_registry() {
    [ -r /dev/shm/jack-shm-registry ] || return 0
    /usr/bin/python3 - <<'EOF' >&2 || true
import os, struct
d = open('/dev/shm/jack-shm-registry', 'rb').read(24 + 8 * 264)
print("bench-jack.sh: JACK server registry (8 entries):")
for i in range(8):
    o = 24 + i * 264
    pid = struct.unpack_from('<i', d, o)[0]
    name = d[o + 4:o + 4 + 257].split(b'\0')[0].decode(errors='replace')
    state = 'free' if pid == 0 else ('alive' if os.path.exists('/proc/%d' % pid) else 'STALE (dead pid)')
    print("   %d  pid %-7d %-40s %s" % (i, pid, name, state))
EOF
}

# start_jackd NAME PERIOD: sets jack_pid, jack_log, jack_mode. Retries for up
# to 60 s while the server registry is full.
start_jackd() {
    local name="$1" period="$2" mode attempt
    jack_log="$tmp/jackd-$period.log"
    for mode in rt nort; do
        if [ "$mode" = rt ] && [ "$rt" = 0 ]; then continue; fi
        for attempt in $(seq 30); do
            local flags=(-R)
            [ "$mode" = nort ] && flags=(--no-realtime)
            : > "$jack_log"
            "${pin_cmd[@]}" "$JACKD" "${flags[@]}" -n "$name" -d dummy -r "$rate" -p "$period" >"$jack_log" 2>&1 &
            jack_pid=$!
            pids+=("$jack_pid")
            if JACK_NO_START_SERVER=1 jack_wait -s "$name" -w -t 10 >/dev/null 2>&1 && kill -0 "$jack_pid" 2>/dev/null; then
                sleep 0.3
                if [ "$mode" = rt ] && grep -qiE 'cannot use real-time|cannot set.*(fifo|real-?time)' "$jack_log"; then
                    echo "bench-jack.sh: jackd -R could not get real-time scheduling; using --no-realtime" >&2
                    stop_pid "$jack_pid"; forget_pid "$jack_pid"
                    break
                fi
                jack_mode="$([ "$mode" = rt ] && echo "-R" || echo "--no-realtime")"
                return 0
            fi
            stop_pid "$jack_pid"; forget_pid "$jack_pid"
            if grep -q 'Too many servers already active' "$jack_log"; then
                [ "$attempt" = 1 ] && { echo "bench-jack.sh: JACK's server registry is full; waiting up to 60 s" >&2; explain_registry; }
                sleep 2
                continue
            fi
            break  # some other failure: try the next mode
        done
    done
    echo "bench-jack.sh: cannot start $JACKD -d dummy -p $period; its output:" >&2
    sed 's/^/    /' "$jack_log" >&2
    grep -q 'Too many servers already active' "$jack_log" && explain_registry
    return 1
}

# reference_window NAME: runs the reference client for one window and sets
# ref_late and ref_drv (not in a subshell, so that the EXIT trap knows its pid).
reference_window() {
    local name="$1" period="$2" ref_pid a b i
    JACK_NO_START_SERVER=1 JACK_DEFAULT_SERVER="$name" "${pin_cmd[@]}" "$REF_CLIENT" lrbench_ref >"$tmp/ref.out" 2>&1 &
    ref_pid=$!
    pids+=("$ref_pid")
    for i in $(seq 100); do  # until its ports exist
        JACK_NO_START_SERVER=1 jack_lsp -s "$name" 2>/dev/null | grep -q '^lrbench_ref:' && break
        kill -0 "$ref_pid" 2>/dev/null || { echo "bench-jack.sh: $REF_CLIENT died:" >&2; cat "$tmp/ref.out" >&2; return 1; }
        sleep 0.05
    done
    if [ "$i" = 100 ]; then
        echo "bench-jack.sh: $REF_CLIENT registered no ports within 5 s" >&2
        stop_pid "$ref_pid"; forget_pid "$ref_pid"
        return 1
    fi
    sleep 1  # warm-up, like lr-bench's setup + 0.5 s
    a=$(lines "$jack_log")
    sleep "$seconds"
    b=$(lines "$jack_log")
    stop_pid "$ref_pid"; forget_pid "$ref_pid"
    ref_late=$(count_lines "$jack_log" "$a" "$b" "$late_re")
    ref_drv=$(count_lines "$jack_log" "$a" "$b" "$drv_re")
}

fmt_row() { printf '%6s  %-26s %5s %8s %7s %7s %7s %7s %6s %5s %5s %11s\n' "$@"; }

status=0
summary="$tmp/summary.txt"
{
    echo "# bench-jack.sh $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -n), $(nproc) CPUs, $(uname -r)"
    echo "# ${seconds} s per window; pinned: ${pin:-no}; times are fractions of the period"
    echo "# late = jackd's \"client ... was not finished\" lines in the window (one per late cycle with one client);"
    echo "# drv = jackd's \"JackTimedDriver::Process XRun\" lines (the dummy driver's own cycle overran);"
    echo "# xruns = lr-bench's xrun callbacks in its window (each late or drv line fires one);"
    echo "# dsp% = JACK's DSP load sampled by lr-bench each second (mean/max)"
} > "$summary"

IFS=, read -r -a period_list <<< "$periods"
for period in "${period_list[@]}"; do
    server="lrbench-$$-$period"
    start_jackd "$server" "$period" || { status=1; continue; }
    echo "# jackd $jack_mode -d dummy -r $rate -p $period (server '$server', pid $jack_pid)" >> "$summary"
    fmt_row period client loops periods median p99 max mean xruns late drv "dsp%" >> "$summary"
    est=$(awk -v s="$seconds" -v r="$rate" -v p="$period" 'BEGIN { printf "~%d", s * r / p }')

    echo "bench-jack.sh: period $period: reference $REF_CLIENT, ${seconds} s" >&2
    reference_window "$server" "$period" || { status=1; ref_late="failed"; ref_drv="-"; }
    fmt_row "$period" "$REF_CLIENT" - "$est" - - - - - "$ref_late" "$ref_drv" - >> "$summary"

    echo "bench-jack.sh: period $period: lr-bench --jack --loops $loops, ${seconds} s per row" >&2
    marks="$tmp/marks-$period"
    : > "$marks"
    fifo="$tmp/bench-stderr-$period"
    mkfifo "$fifo"
    (
        while IFS= read -r line; do
            case "$line" in
                "lr-bench: window start"*) echo "start $(lines "$jack_log")" >> "$marks" ;;
                "lr-bench: window end"*) echo "end $(lines "$jack_log")" >> "$marks" ;;
            esac
            printf '%s\n' "$line" >> "$tmp/bench-$period.err"
        done < "$fifo"
    ) &
    reader_pid=$!
    pids+=("$reader_pid")
    # shellcheck disable=SC2086  # bench_args is a word list on purpose
    JACK_NO_START_SERVER=1 JACK_DEFAULT_SERVER="$server" "${pin_cmd[@]}" "$bench" --jack --name lr-bench \
        --loops "$loops" --seconds "$seconds" $bench_args > "$tmp/bench-$period.out" 2> "$fifo" &
    bench_pid=$!
    pids+=("$bench_pid")
    wait "$bench_pid"; bench_rc=$?
    forget_pid "$bench_pid"
    wait "$reader_pid" 2>/dev/null
    forget_pid "$reader_pid"
    if [ "$bench_rc" -ne 0 ]; then
        echo "bench-jack.sh: lr-bench failed (exit $bench_rc):" >&2
        cat "$tmp/bench-$period.err" "$tmp/bench-$period.out" >&2
        status=1
    fi
    # Pair the k-th start/end marks with the k-th table row.
    mapfile -t starts < <(awk '$1 == "start" { print $2 }' "$marks")
    mapfile -t ends < <(awk '$1 == "end" { print $2 }' "$marks")
    k=0
    # --bench-args "--stretch" rows end in: phase first_s settle_s.
    while read -r f n per med p99 mx mean xr dsp phase _first settle _; do
        client="lr-bench"
        [ -n "${phase:-}" ] && client="lr-bench $phase"
        [ -n "${settle:-}" ] && [ "$settle" != "-" ] && client="$client ${settle}s"
        late="?" drv="?"
        if [ -n "${starts[$k]-}" ] && [ -n "${ends[$k]-}" ]; then
            late=$(count_lines "$jack_log" "${starts[$k]}" "${ends[$k]}" "$late_re")
            drv=$(count_lines "$jack_log" "${starts[$k]}" "${ends[$k]}" "$drv_re")
        fi
        fmt_row "$f" "$client" "$n" "$per" "$med" "$p99" "$mx" "$mean" "$xr" "$late" "$drv" "$dsp" >> "$summary"
        k=$((k + 1))
    done < <(grep -v '^#' "$tmp/bench-$period.out" | awk 'NR > 1')
    grep -E '^# (WARNING|frames=)' "$tmp/bench-$period.out" >> "$summary"

    if [ "$ref_after" = 1 ]; then
        echo "bench-jack.sh: period $period: reference again, ${seconds} s" >&2
        reference_window "$server" "$period" || { status=1; ref_late="failed"; ref_drv="-"; }
        fmt_row "$period" "$REF_CLIENT (after)" - "$est" - - - - - "$ref_late" "$ref_drv" - >> "$summary"
    fi
    echo "# whole server log, setup and teardown included: late $(grep -cE "$late_re" "$jack_log"), drv $(grep -cE "$drv_re" "$jack_log")" >> "$summary"
    stop_pid "$jack_pid"; forget_pid "$jack_pid"
    echo >> "$summary"
    echo "bench-jack.sh: lr-bench table for period $period:" >&2
    cat "$tmp/bench-$period.out" >&2
done

cat "$summary"
exit "$status"
