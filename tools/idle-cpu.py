#!/usr/bin/python3
"""idle-cpu.py: CPU per thread of idle JACK clients (nothing loaded, nothing playing).

Starts a private JACK server (dummy backend, `-r RATE -p PERIOD`, realtime if
allowed, else --no-realtime), then, one after the other, the reference client
`jack_simple_client` and each engine given with --engine, each alone in the
graph. For each: wait --settle seconds after it is ready, read every thread's
/proc/PID/task/TID/stat (utime + stime, clock ticks), schedstat (run time in
ns, when the kernel provides it) and status (voluntary_ctxt_switches: how often
the thread went to sleep, i.e. its wake-ups), wait --seconds, read again, and
print the deltas as % of one core and wake-ups per second, per thread and in
total; then stop it with SIGTERM. A last column set gives the reference again
when --ref-after (the floor drifts on a noisy machine).

    tools/idle-cpu.py --engine before=/tmp/idle-before/b/engine/looprigd \\
                      --engine after=build/engine/looprigd

Exit status: 0 ok, 1 a run failed, 2 usage.
"""
import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def threads(pid):
    """{tid: (name, ticks, sched_ns or None, voluntary, involuntary)} of a live process."""
    out = {}
    base = f"/proc/{pid}/task"
    for tid in os.listdir(base):
        try:
            with open(f"{base}/{tid}/stat") as f:
                stat = f.read()
            name = stat[stat.index("(") + 1:stat.rindex(")")]
            fields = stat[stat.rindex(")") + 2:].split()
            ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
            sched = None
            try:
                with open(f"{base}/{tid}/schedstat") as f:
                    sched = int(f.read().split()[0])
            except OSError:
                pass
            vol = invol = 0
            with open(f"{base}/{tid}/status") as f:
                for line in f:
                    if line.startswith("voluntary_ctxt_switches:"):
                        vol = int(line.split()[1])
                    elif line.startswith("nonvoluntary_ctxt_switches:"):
                        invol = int(line.split()[1])
            out[int(tid)] = (name, ticks, sched, vol, invol)
        except (OSError, ValueError):
            continue  # the thread ended meanwhile
    return out


def measure(pid, seconds):
    """[(name, cpu % from ticks, cpu % from schedstat or None, wake-ups/s)], threads in tid order."""
    a = threads(pid)
    t0 = time.monotonic()
    time.sleep(seconds)
    b = threads(pid)
    dt = time.monotonic() - t0
    rows = []
    for tid in sorted(b):
        if tid not in a:
            continue
        name, ticks1, s1, v1, _ = b[tid]
        _, ticks0, s0, v0, _ = a[tid]
        pct = 100.0 * (ticks1 - ticks0) / CLK_TCK / dt
        spct = 100.0 * (s1 - s0) / 1e9 / dt if s0 is not None and s1 is not None else None
        rows.append((name, pct, spct, (v1 - v0) / dt))
    return rows


def stop(proc, timeout=30.0):
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        if os.path.basename(proc.args[0]) != "jackd":  # a SIGKILLed jackd leaks its registry entry
            proc.kill()
            proc.wait()


def start_jackd(args, server, log):
    for flags in (["-R"], ["--no-realtime"]):
        if flags == ["-R"] and args.no_rt:
            continue
        log.seek(0)
        log.truncate()
        jackd = subprocess.Popen([args.jackd, *flags, "-n", server, "-d", "dummy", "-r", str(args.rate),
                                  "-p", str(args.period)], stdout=log, stderr=subprocess.STDOUT)
        ok = subprocess.run(["jack_wait", "-s", server, "-w", "-t", "10"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=dict(os.environ, JACK_NO_START_SERVER="1")).returncode == 0
        time.sleep(0.3)
        log.flush()
        with open(log.name) as f:
            text = f.read().lower()
        if ok and jackd.poll() is None and not (flags == ["-R"] and "cannot use real-time" in text):
            return jackd, flags[0]
        stop(jackd)
    raise SystemExit("idle-cpu.py: cannot start jackd (see its log)")


def run_client(label, cmd, env, args, ready):
    """Start a client, wait until ready(), settle, measure, stop. Returns the rows."""
    out = tempfile.TemporaryFile("w+")
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, text=True)
    try:
        deadline = time.monotonic() + 15
        while not ready(out):
            if proc.poll() is not None or time.monotonic() > deadline:
                out.seek(0)
                raise SystemExit(f"idle-cpu.py: {label} did not start:\n{out.read()}")
            time.sleep(0.1)
        time.sleep(args.settle)
        return measure(proc.pid, args.seconds)
    finally:
        stop(proc)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--engine", action="append", default=[], metavar="LABEL=PATH",
                    help="a looprigd binary to measure (repeatable; default after=build/engine/looprigd)")
    ap.add_argument("--seconds", type=float, default=10.0, help="measured seconds per client (default 10)")
    ap.add_argument("--settle", type=float, default=8.0,
                    help="seconds between a client's start and its measurement (default 8: past the 6 s after which a silent master stops feeding the loudness thread)")
    ap.add_argument("--period", type=int, default=256, help="JACK period (default 256)")
    ap.add_argument("--rate", type=int, default=48000, help="sample rate (default 48000)")
    ap.add_argument("--no-rt", action="store_true", help="start jackd --no-realtime")
    ap.add_argument("--ref-after", action="store_true", help="measure the reference client again at the end")
    ap.add_argument("--jackd", default=os.environ.get("JACKD", "jackd"))
    ap.add_argument("--ref", default=os.environ.get("REF_CLIENT", "jack_simple_client"))
    args = ap.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    engines = []
    for e in args.engine or [f"after={here}/../build/engine/looprigd"]:
        label, sep, path = e.partition("=")
        if not sep:
            label, path = os.path.basename(e), e
        if not os.access(path, os.X_OK):
            print(f"idle-cpu.py: {path} is not an executable", file=sys.stderr)
            return 2
        engines.append((label, path))

    server = f"lridle{os.getpid()}"
    env = dict(os.environ, JACK_DEFAULT_SERVER=server, JACK_NO_START_SERVER="1")
    jlog = tempfile.NamedTemporaryFile("w+", prefix="idle-cpu-jackd-", suffix=".log")
    jackd, mode = start_jackd(args, server, jlog)
    columns = []
    try:
        def ref_ready(out):
            return True

        def engine_ready(out):
            out.seek(0)
            return "ready:" in out.read()

        runs = [("jack_simple_client", [args.ref, "lridle_ref"], ref_ready)]
        for i, (label, path) in enumerate(engines):
            runs.append((label, [path, "--name", f"lridle_e{i}"], engine_ready))
        if args.ref_after:
            runs.append(("jack_simple_client (again)", [args.ref, "lridle_ref2"], ref_ready))
        for label, cmd, ready in runs:
            if ready is ref_ready:
                time.sleep(0.5)  # jack_simple_client prints nothing: give it time to activate
            columns.append((label, run_client(label, cmd, env, args, ready)))
    finally:
        stop(jackd)

    print(f"# idle CPU per thread: jackd {mode} -d dummy -r {args.rate} -p {args.period}; "
          f"{args.seconds:g} s measured after {args.settle:g} s; nothing loaded")
    print("# %cpu: (utime+stime) ticks / elapsed, % of one core; sched: run time from schedstat;"
          " wake/s: voluntary context switches per second")
    print()
    print("| client | thread | %cpu | %cpu (sched) | wake-ups/s |")
    print("|---|---|---:|---:|---:|")
    for label, rows in columns:
        seen = {}
        for name, pct, spct, wake in rows:
            seen[name] = seen.get(name, 0) + 1
            shown = name if seen[name] == 1 else f"{name} #{seen[name]}"
            sched = f"{spct:.2f}" if spct is not None else "-"
            print(f"| {label} | {shown} | {pct:.2f} | {sched} | {wake:.1f} |")
        tp = sum(r[1] for r in rows)
        ts = sum(r[2] for r in rows if r[2] is not None)
        tw = sum(r[3] for r in rows)
        print(f"| {label} | **total** | **{tp:.2f}** | **{ts:.2f}** | **{tw:.1f}** |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
