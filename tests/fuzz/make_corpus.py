#!/usr/bin/python3
"""Writes the seed corpus of fuzz_commands (tests/fuzz/corpus/seed-*).

    /usr/bin/python3 tests/fuzz/make_corpus.py [DIR]

Input format: see the comment at the top of fuzz_commands.cpp. Byte 0 even =
a command sequence, odd = a hostile-memory script. Seeds: one valid command of
each type, edge values (NaN, infinities, bounds and just beyond, bad slots,
unknown types/flags/quantize modes, text lengths), every param at its min,
max and just beyond, short realistic sequences, and memory scripts that
scribble indices, bodies and the place's state. Files found by the fuzzer
(crash-*/new inputs worth keeping) live beside them under other names and are
left alone.
"""
import math
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus")
SLOTS = 4
NAN, INF = math.nan, math.inf

(NOP, PING, LOAD, UNLOAD, PLAY, STOP, GAIN, PAN, MUTE, SOLO, DECLICK, TEMPO, METER, LOOP_TEMPO,
 PITCH, MODE, TRANSPORT, PARAM, METER_RESET, SESSION_SAVE, SESSION_OPEN) = range(21)
Q_NONE, Q_SLOT, Q_FRAMES, Q_BEAT, Q_BAR = range(5)
F_AT = 1

# id, name, target (0 slot, 1 group, 2 global), kind (0 cont, 1 switch, 2 index), min, max
# (the same as shm/src/params.cpp; only used to pick seed values, not checked here)
PARAMS = [
    (0, 1, 0, 1), (1, 0, 10, 20000), (2, 0, 0.1, 20), (3, 1, 0, 1), (4, 0, 10, 20000), (5, 0, 0.1, 20),
    (6, 1, 0, 1), (7, 0, 10, 20000), (8, 0, -24, 24), (9, 0, 10, 20000), (10, 0, -24, 24), (11, 0, 0.1, 20),
    (12, 0, 10, 20000), (13, 0, -24, 24), (14, 0, -120, 12), (15, 1, 0, 1), (16, 0, -120, 12), (17, 1, 0, 1),
    (18, 2, -1, 7), (32, 0, -120, 12), (33, 1, 0, 1),
    (64, 0, 0, 16), (65, 0, 1, 10000), (66, 0, 0, 0.95), (67, 0, 10, 20000), (68, 0, 10, 20000),
    (69, 1, 0, 1), (70, 0, -120, 12), (71, 0, 0.1, 30), (72, 0, 500, 20000), (73, 0, 0, 250),
    (74, 0, -120, 12), (75, 0, -120, 12),
]


def fields(type_, slot=0, flags=0, quantize=0, at=0, qarg=0, values=(), text_len=0, param=0, id_=1):
    v = list(values) + [0.0] * (4 - len(values))
    b = struct.pack("<IHHiIQQ4dII", id_, type_ & 0xFFFF, flags & 0xFFFF, slot, quantize & 0xFFFFFFFF,
                    at & (2 ** 64 - 1), qarg & (2 ** 64 - 1), *v, text_len & 0xFFFFFFFF, param & 0xFFFFFFFF)
    b += bytes(128 - len(b))
    assert len(b) == 128
    return b


def rec(type_, *, periods=1, wait=False, id0=False, text=b"", **kw):
    """One record of the command mode."""
    ctrl = periods & 3
    if wait:
        ctrl |= 0x20
    if id0:
        ctrl |= 0x40
    if text:
        ctrl |= 0x80
        kw.setdefault("text_len", len(text))
    out = bytes([ctrl]) + fields(type_, **kw)
    if text:
        out += bytes([len(text)]) + text
    return out


def commands(*records, start=0):
    return bytes([0, start]) + b"".join(records)


def write(name, data):
    with open(os.path.join(OUT, "seed-" + name), "wb") as f:
        f.write(data)


def main():
    os.makedirs(OUT, exist_ok=True)
    for fn in os.listdir(OUT):
        if fn.startswith("seed-"):
            os.unlink(os.path.join(OUT, fn))
    # one valid command of each type
    valid = {
        "ping": rec(PING),
        "load": rec(LOAD, slot=2, text=b"/tmp/loop.wav"),
        "unload": rec(UNLOAD, slot=1),
        "play": rec(PLAY, slot=0),
        "stop": rec(STOP, slot=0),
        "gain": rec(GAIN, slot=0, values=(-6.0,)),
        "pan": rec(PAN, slot=0, values=(-0.5,)),
        "mute": rec(MUTE, slot=0, values=(1.0,)),
        "solo": rec(SOLO, slot=1, values=(1.0,)),
        "declick": rec(DECLICK, values=(5.0,)),
        "tempo": rec(TEMPO, values=(128.0,)),
        "meter": rec(METER, values=(3.0,)),
        "loop_tempo": rec(LOOP_TEMPO, slot=0, values=(120.0, 0.0)),
        "pitch": rec(PITCH, slot=0, values=(-5.3,)),
        "mode": rec(MODE, slot=0, values=(1.0,)),
        "transport": rec(TRANSPORT, values=(2.0,)),
        "param": rec(PARAM, slot=0, param=1, values=(120.0,)),
        "meter_reset": rec(METER_RESET),
        "session_save": rec(SESSION_SAVE, text_len=8, text=b"/tmp/s01", periods=3),
        "session_open": rec(SESSION_OPEN, text_len=8, text=b"/tmp/s01", values=(1.0,), periods=3),
    }
    for name, r in valid.items():
        write(f"valid-{name}", commands(rec(PLAY, slot=0), r, rec(PING, periods=3)))

    # edge values, several commands per file
    edges = {
        "gain": [rec(GAIN, slot=0, values=(v,)) for v in (NAN, INF, -INF, -144.0, 24.0, 24.0001, -144.0001, 1e308)],
        "pan": [rec(PAN, slot=0, values=(v,)) for v in (NAN, INF, -INF, -1.0, 1.0, 1.0000001, -1.0000001)],
        "mute_solo": [rec(t, slot=0, values=(v,)) for t in (MUTE, SOLO) for v in (0.5, NAN, 2.0, -0.0, 1.0)],
        "tempo": [rec(TEMPO, values=(v,)) for v in (NAN, INF, 19.999, 400.001, 20.0, 400.0)],
        "meter": [rec(METER, values=(v,)) for v in (0.0, 1.0, 32.0, 33.0, 2.5, NAN)],
        "loop_tempo": [rec(LOOP_TEMPO, slot=0, values=v) for v in
                       ((NAN, 0.0), (0.0, NAN), (-1.0, 0.0), (0.0, 0.2), (0.0, 1024.5), (19.0, 0.0), (0.0, 0.0),
                        (0.0, 0.25), (400.0, 0.0), (INF, 4.0))],
        "pitch_mode": [rec(PITCH, slot=0, values=(v,)) for v in (NAN, -24.0, 24.0, 24.01)] +
                      [rec(MODE, slot=0, values=(v,)) for v in (0.0, 2.0, NAN, 0.5)],
        "transport_declick": [rec(TRANSPORT, values=(v,)) for v in (0.0, 1.0, 3.0, NAN, -1.0)] +
                             [rec(DECLICK, values=(v,)) for v in (0.0, 100.0, 100.5, -0.1, NAN, INF)],
        "slots": [rec(t, slot=s, values=(0.0,)) for t in (PLAY, STOP, GAIN, UNLOAD, PITCH)
                  for s in (-1, SLOTS, 2 ** 31 - 1, -(2 ** 31))],
        "types": [rec(t) for t in (NOP, 21, 200, 65535)] + [rec(PING, id0=True)],
        "session": [rec(t, text_len=n, text=x, periods=p) for t in (SESSION_SAVE, SESSION_OPEN)
                    for n, x, p in ((0, b"", 0), (2, b"/s", 0), (4, b"rel/", 1), (3, b"/a\x00", 1), (2, b"/s", 3))],
        "flags": [rec(GAIN, slot=0, flags=f, values=(0.0,)) for f in (2, 0x8000, 0xFFFF, 1)] +
                 [rec(t, flags=F_AT, at=5000) for t in (PING, DECLICK, METER, METER_RESET)],
        "text": [rec(LOAD, slot=0, text_len=n, text=t) for n, t in
                 ((0, b""), (1024, b"/x"), (1025, b"/x"), (0xFFFFFFFF, b"/x"), (3, b"/a\x00"), (4, b"rel/"))] +
                [rec(LOAD, slot=1, text=b"/" + b"a" * 200)],
        "quantize": [rec(PLAY, slot=0, quantize=q, qarg=a) for q, a in
                     ((Q_SLOT, 0), (Q_SLOT, SLOTS), (Q_SLOT, 2 ** 64 - 1), (Q_FRAMES, 0), (Q_FRAMES, 1),
                      (Q_FRAMES, 2 ** 40), (Q_FRAMES, 2 ** 40 + 1), (Q_BEAT, 0), (Q_BEAT, 1024), (Q_BEAT, 1025),
                      (Q_BAR, 3), (5, 1), (0xFFFFFFFF, 0))] +
                    [rec(GAIN, slot=0, quantize=Q_BEAT, values=(0.0,)), rec(TEMPO, quantize=Q_BAR, values=(90.0,))],
        "at_frame": [rec(PLAY, slot=0, flags=F_AT, at=a, wait=True) for a in
                     (0, 999, 1000, 1064, 5000, 2 ** 32 + 1000, 2 ** 32 + 1001, 2 ** 64 - 1)] +
                    [rec(STOP, slot=0, flags=F_AT, at=3000, quantize=Q_FRAMES, qarg=2 ** 40)],
    }
    for name, recs in edges.items():
        write(f"edge-{name}", commands(*recs))

    # every param: min, max, just beyond, NaN, infinities, bad targets
    for pid, kind, lo, hi in PARAMS:
        target = 0 if pid < 32 else (1 if pid < 64 else 2)
        good_slot = 1
        eps = max(abs(hi - lo) * 1e-6, 1e-9)
        vals = (lo, hi, lo - eps, hi + eps, NAN, INF, -INF, (lo + hi) / 2)
        recs = [rec(PARAM, slot=good_slot, param=pid, values=(v,)) for v in vals]
        if target in (0, 1):
            recs += [rec(PARAM, slot=s, param=pid, values=(lo,)) for s in (-1, SLOTS if target == 0 else 8)]
        recs.append(rec(PARAM, slot=0, param=pid, values=(hi,), flags=F_AT, at=3000, wait=True))
        write(f"param-{pid:02d}", commands(*recs))
    write("param-unknown", commands(*[rec(PARAM, slot=0, param=p, values=(0.0,)) for p in
                                      (19, 31, 34, 63, 76, 95, 96, 2 ** 32 - 1)]))

    # realistic sequences
    write("seq-load-play-swap", commands(
        rec(LOAD, slot=2, text=b"/tmp/a.wav"), rec(PLAY, slot=2, wait=True),
        rec(LOAD, slot=2, text=b"/tmp/bb.wav", wait=True), rec(PLAY, slot=3, quantize=Q_SLOT, qarg=2),
        rec(UNLOAD, slot=2), rec(PLAY, slot=2), rec(STOP, slot=3, flags=F_AT, at=4000, wait=True)))
    write("seq-tempo-follow", commands(
        rec(LOOP_TEMPO, slot=0, values=(0.0, 1.0)), rec(PLAY, slot=0, quantize=Q_BEAT),
        rec(TEMPO, values=(150.0,), flags=F_AT, at=3000), rec(PITCH, slot=0, values=(7.0,), wait=True),
        rec(MODE, slot=0, values=(0.0,)), rec(TEMPO, values=(20.0,), quantize=Q_BAR, qarg=2, wait=True),
        rec(LOOP_TEMPO, slot=1, values=(0.0, 1024.0)), rec(PLAY, slot=1, quantize=Q_SLOT, qarg=0, wait=True)))
    write("seq-mixer", commands(
        rec(PLAY, slot=0), rec(PLAY, slot=1), rec(PARAM, slot=0, param=18, values=(3.0,)),
        rec(PARAM, slot=3, param=32, values=(-6.0,)), rec(PARAM, param=65, values=(10000.0,)),
        rec(PARAM, param=66, values=(0.95,)), rec(PARAM, slot=0, param=14, values=(12.0,)),
        rec(PARAM, param=71, values=(30.0,)), rec(PARAM, slot=1, param=16, values=(12.0,)),
        rec(PARAM, slot=0, param=2, values=(20.0,)), rec(PARAM, slot=0, param=0, values=(1.0,)),
        rec(PARAM, param=64, values=(16.0,), wait=True), rec(TEMPO, values=(400.0,), wait=True)))
    write("seq-schedule-many", commands(*[rec(GAIN, slot=i % SLOTS, values=(-float(i % 40),), flags=F_AT,
                                             at=1100 + 7 * i, periods=0) for i in range(30)], rec(PING, wait=True)))

    # hostile-memory scripts: op bytes as in run_memory()
    def op_write(off, data):
        return bytes([0]) + struct.pack("<I", off) + bytes([len(data)]) + data

    def op_hdr(off, data):
        return bytes([1, off, len(data) - 1]) + data

    def op_cmd_write(v):
        return bytes([2]) + struct.pack("<I", v)

    def op_indices(which, v, evt_write=None):
        b = bytes([3, which]) + struct.pack("<I", v)
        b += bytes([1]) + struct.pack("<I", evt_write) if evt_write is not None else bytes([0])
        return b

    def op_body(index, body, publish=True):
        return bytes([4, index]) + body + bytes([1 if publish else 0])

    def op_state(what, v=0):
        return bytes([5, what]) + (struct.pack("<I", v) if what % 3 else b"")

    good = bytes([6])
    good2 = bytes([0x86])

    def run(n=1):
        return bytes([7 + 8 * ((n - 1) % 4)])

    CMD_WRITE_OFF, CMD_READ_OFF, EVT_WRITE_OFF, EVT_READ_OFF = 64, 128, 192, 256
    mem = {
        "write-index-huge": [good, op_cmd_write(1000), run(), good, run(2)],
        "write-index-just-over": [op_cmd_write(65), run(), good, op_cmd_write(64), run(), good2, run()],
        "write-index-wrap": [op_cmd_write(0xFFFFFFFF), run(), op_cmd_write(0), run(), good, run()],
        "garbage-bodies": [op_body(i, bytes(((i * 37 + k * 11) & 0xFF) for k in range(128))) for i in range(8)]
                          + [run(2), good, run()],
        "valid-bodies": [op_body(0, fields(PLAY, slot=0, id_=5)), op_body(1, fields(GAIN, slot=0, values=(NAN,), id_=6)),
                         op_body(2, fields(PARAM, slot=7, param=1, values=(100.0,), id_=7)), run(), good, run()],
        "evt-indices": [op_indices(0, 0xDEADBEEF, 12345), good, run(), op_indices(0, 7), run(), good2, run(2)],
        "cmd-read": [op_indices(1, 0x7FFFFFFF), good, run(), op_cmd_write(3), run()],
        "state-closing": [good, op_state(6), run(), op_state(3), run(), good, run()],  # 6 -> state 2, 3 -> 1
        "state-nonsense": [op_state(9), run(), op_state(1, 0xFFFFFFFF), op_state(2, 12345), run(), good, run()],
        "header-scribble": [op_hdr(0, bytes(range(16))), run(), op_hdr(CMD_WRITE_OFF, b"\xff\xff\x00\x01"), run(),
                            op_write(EVT_READ_OFF, b"\x10\x00\x00\x00"), good, run(2)],
        "region-scribble": [op_write(off, bytes((off * 7 + k) & 0xFF for k in range(200)))
                            for off in (0, 100, 300, 5000, 40000, 90000)] + [run(3), good, run()],
        "reads-published": [op_write(CMD_READ_OFF, b"\x00\x00\x00\x80"), op_write(EVT_WRITE_OFF, b"\x01\x00\x00\x00"),
                            good, run(), op_indices(0, 300, 3), run(), good, run()],
    }
    for name, ops in mem.items():
        write(f"mem-{name}", bytes([1]) + b"".join(ops))
    print(f"make_corpus: wrote {len([f for f in os.listdir(OUT) if f.startswith('seed-')])} seeds to {OUT}")


if __name__ == "__main__":
    main()
