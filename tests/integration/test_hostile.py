"""Hostile or broken shared memory (issue 5): a client that writes random
bytes over its command ring — the command bodies, the ring's write index, the
indices the engine publishes (command read, event write) and its whole client
place including state, owner and generation — cannot crash the engine, make
it read out of bounds (it runs as ``looprigd-asan``: AddressSanitizer +
UBSan), stop the loop that plays, or disturb another client.

Checked: corrupt commands and rings are answered with error events; the
engine process lives and its stderr has no "ERROR: AddressSanitizer" or
"runtime error:"; the master output captured through JACK is the expected
loop, sample-exact, not silence; a well-behaved client's commands keep being
acknowledged; a fresh attach after each scribbled place is reclaimed works.

ASan and JACK: the engine is built with -fsanitize=address,undefined (so the
ASan runtime comes first in its link order; nothing is preloaded) and started
with ASAN_OPTIONS=detect_leaks=0 (libjack keeps allocations until exit; a
leak report would fail the exit status) and UBSAN_OPTIONS=print_stacktrace=1.
jackd itself is the plain Debian one. LOOPRIGD_ASAN names the binary (set by
tests/meson.build), default build/engine/looprigd-asan; the test is skipped
if there is none.
"""
import os
import time

import numpy as np
import pytest

import lrharness as H

ENGINE_OPTS = dict(slots=8)
ROUNDS = int(os.environ.get("LOOPRIG_HOSTILE_ROUNDS", "40"))   # per kind of damage
ASAN_ENV = {
    "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=0:halt_on_error=1:verify_asan_link_order=0",
    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=0",
}
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer", "SUMMARY: UndefinedBehavior")


def asan_binary():
    p = os.environ.get("LOOPRIGD_ASAN")
    return p if p else str(H.REPO / "build" / "engine" / "looprigd-asan")


@pytest.fixture(scope="module")
def engine(jack_server):
    """Overrides conftest's engine: the same harness, the sanitizer build."""
    binary = asan_binary()
    if not os.path.exists(binary):
        pytest.skip(f"no sanitizer build of the engine at {binary}")
    e = H.Engine(jack_server, **ENGINE_OPTS)
    e.args[0] = binary
    saved = {k: os.environ.get(k) for k in ASAN_ENV}
    os.environ.update(ASAN_ENV)   # Popen copies the environment at start
    try:
        e.start(timeout=30)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    try:
        yield e
    finally:
        e.stop(check=True)


def sanitizer_reports(engine):
    err = engine.stderr()
    return [line for line in err.splitlines() if any(m in line for m in SANITIZER_MARKS)]


class Hostile:
    """A raw client (the C ABI via cffi) that writes over its own place in
    the segment. It produces into its command ring by hand (its own write
    index), reads its events with lr_client_poll."""

    def __init__(self, engine_name):
        self.raw = H.RawClient(engine_name)
        ffi, lib = self.raw.ffi, self.raw.lib
        self.ffi, self.lib = ffi, lib
        base = ffi.cast("char *", lib.lr_client_base(self.raw.c))
        hdr = ffi.cast("lr_header *", base)
        self.index = lib.lr_client_index(self.raw.c)
        self.size = int(hdr.client_slot_size)
        self.addr = base + int(hdr.clients_offset) + self.index * self.size
        self.slot = ffi.cast("lr_client_slot *", self.addr)
        self.cmd_size = ffi.sizeof("lr_command")
        self.ring = int(hdr.cmd_ring_size)
        self.off = {name: ffi.offsetof("lr_client_slot", name) for name in ("cmd", "evt", "commands", "state")}

    def write_bytes(self, offset, data):
        self.ffi.memmove(self.addr + offset, data, len(data))

    def put_commands(self, bodies):
        """Write raw command bodies at the ring's next places and publish them."""
        w = int(self.slot.cmd.write)
        for b in bodies:
            pos = (w % self.ring) * self.cmd_size
            self.write_bytes(self.off["commands"] + pos, b)
            w = (w + 1) & 0xFFFFFFFF
        self.slot.cmd.write = w

    def events(self, wait=0.03, until=None, timeout=5.0):
        """Events for `wait` seconds, or (with `until`, a predicate on the list)
        until it holds or `timeout` passes: a loaded machine may be slow."""
        ev = self.ffi.new("lr_event *")
        out = []
        start = time.monotonic()
        while True:
            while self.lib.lr_client_poll(self.raw.c, ev):
                out.append((int(ev.type), int(ev.code), self.ffi.string(ev.message).decode(errors="replace")))
            now = time.monotonic()
            if until is None and now - start >= wait:
                return out
            if until is not None and (until(out) or now - start >= timeout):
                return out
            time.sleep(0.003)

    def close(self):
        self.raw.close()


def random_body(rng, cmd_size, plausible):
    """A random command. Plausible ones have a real type and id but can never
    touch slot 0 (which plays) or the global state: their values or slots are
    poisoned where they could."""
    b = bytearray(rng.integers(0, 256, cmd_size, dtype=np.uint8).tobytes())
    if plausible:
        t = int(rng.integers(0, 21))
        b[0:4] = int(rng.integers(1, 2 ** 32)).to_bytes(4, "little")   # id
        b[4:6] = t.to_bytes(2, "little")
        b[6:8] = (0).to_bytes(2, "little")
        b[8:12] = int(rng.integers(2, 12)).to_bytes(4, "little", signed=True)   # slot 2..11 (8 slots)
        if t in (10, 11, 12, 16, 17, 18):   # declick, tempo, meter, transport, param, meter-reset
            b[32:40] = np.float64(np.nan).tobytes()
            if t == 18:
                b[4:6] = (1).to_bytes(2, "little")   # meter-reset has no value: make it a ping
    return bytes(b)


def engine_late_cycles(jack_server, engine):
    return jack_server.log().count(f"client = {engine.name} was not finished")


def test_hostile_memory(jack_server, engine, rig, capture, tmp_path):
    rng = np.random.default_rng(int(os.environ.get("LOOPRIG_HOSTILE_SEED", "5")))
    L = 1999
    x = H.noise(L, seed=500, amp=0.4, channels=2)
    assert rig.load(0, H.write_wav_float(tmp_path / "loop.wav", x)).frames == L
    seconds = 60
    capture.arm(seconds)
    T = rig.ping() + 4800
    assert rig.play(0, at=T) == T
    capture.wait_until(T + 2 * L)

    stats = dict(bodies=0, bodies_random=0, index_writes=0, region_writes=0, region_bytes=0,
                 errors=0, acks=0, corrupt_ring_errors=0, good_acks=0, fresh_attaches=0, places_reclaimed=0)
    t_start = time.monotonic()
    hostile = Hostile(engine.name)

    def good_client_round(k):
        # the well-behaved client: a ping and a gain on a slot nobody plays
        rig.ping(timeout=5)
        rig.gain(3, -float(k % 30), timeout=5)
        stats["good_acks"] += 2

    def tally(evs):
        for typ, code, msg in evs:
            if typ == 2:
                stats["errors"] += 1
                if "corrupt" in msg:
                    stats["corrupt_ring_errors"] += 1
            elif typ == 1:
                stats["acks"] += 1
        return evs

    # (a) command bodies: random bytes, and random commands with real types
    for k in range(ROUNDS):
        n = int(rng.integers(1, 9))
        plausible = bool(k % 2)
        hostile.put_commands([random_body(rng, hostile.cmd_size, plausible) for _ in range(n)])
        stats["bodies"] += n
        if not plausible:
            stats["bodies_random"] += n
        if plausible:
            evs = tally(hostile.events())
        else:
            evs = tally(hostile.events(until=lambda e: sum(1 for x in e if x[0] == 2) >= n))
        if not plausible:
            errs = [e for e in evs if e[0] == 2]
            assert len(errs) >= n, f"round {k}: {n} random commands, {len(errs)} error events: {evs}"
            assert all(len(m) >= 8 for _, _, m in errs), errs
        good_client_round(k)
        assert engine.alive(), engine.diagnostics()

    # (b) indices: the write index the engine reads, and the ones it publishes
    for k in range(ROUNDS):
        evt_read = int(hostile.slot.evt.read)
        kind = k % 4
        if kind == 0:        # write index far ahead: a corrupt ring
            hostile.slot.cmd.write = (int(hostile.slot.cmd.write) + int(rng.integers(65, 2 ** 32 - 65))) & 0xFFFFFFFF
        elif kind == 1:      # any value at all
            hostile.slot.cmd.write = int(rng.integers(0, 2 ** 32))
        elif kind == 2:      # the engine's published command read index and event write index
            hostile.slot.cmd.read = int(rng.integers(0, 2 ** 32))
            hostile.slot.evt.write = int(rng.integers(0, 2 ** 32))
        else:                # our own event read index (then put back: it only stalls ourselves)
            hostile.slot.evt.read = int(rng.integers(0, 2 ** 32))
        stats["index_writes"] += 1
        time.sleep(0.015)
        if kind == 3:
            hostile.slot.evt.read = evt_read
        evs = tally(hostile.events())
        # then well-formed pings through the hand-made producer: answered once the ring is resynced
        ping = bytearray(hostile.cmd_size)
        ping[0:4] = (0xABC00 + k).to_bytes(4, "little")
        ping[4:6] = (1).to_bytes(2, "little")
        hostile.put_commands([bytes(ping)])
        if kind == 0:
            evs += tally(hostile.events(until=lambda e: any(x[0] == 2 and "corrupt" in x[2] for x in evs + e)))
        else:
            evs += tally(hostile.events(wait=0.05))
        if kind == 0:
            assert any(e[0] == 2 and "corrupt" in e[2] for e in evs), f"round {k}: no corrupt-ring error: {evs}"
        good_client_round(k)
        assert engine.alive(), engine.diagnostics()
    hostile.close()

    # (c) the whole place: random bytes over header (state, owner, generation),
    # indices and bodies; then the place is given up and must be reclaimed
    for k in range(ROUNDS):
        hostile = Hostile(engine.name)
        for _ in range(int(rng.integers(1, 6))):
            off = int(rng.integers(0, hostile.size))
            n = int(min(hostile.size - off, rng.choice([4, 16, 64, 300, 4096, 65536])))
            if rng.random() < 0.3:
                off, n = 0, int(rng.integers(4, hostile.off["commands"]))   # header and indices
            hostile.write_bytes(off, rng.integers(0, 256, n, dtype=np.uint8).tobytes())
            stats["region_writes"] += 1
            stats["region_bytes"] += n
        time.sleep(0.012)
        tally(hostile.events(wait=0.0))
        # give the place up, as a detach (or the reaper) would
        hostile.slot.state = 2
        deadline = time.monotonic() + 2.0
        while (int(hostile.slot.state) != 0 or int(hostile.slot.owner_pid) != 0) and time.monotonic() < deadline:
            time.sleep(0.005)
        assert int(hostile.slot.state) == 0 and int(hostile.slot.owner_pid) == 0, \
            f"round {k}: place {hostile.index} not reclaimed (state {int(hostile.slot.state)})"
        stats["places_reclaimed"] += 1
        hostile.close()
        # a fresh client attaches (often to the same place) and is answered
        fresh = H.RawClient(engine.name)
        try:
            ans = fresh.request(1, 0, values=())
            assert ans["type"] == 1, ans
            ans = fresh.request(6, 0, values=(float("nan"),))
            assert ans["type"] == 2 and ans["code_name"] == "LR_E_BAD_VALUE", ans
            stats["fresh_attaches"] += 1
        finally:
            fresh.close()
        good_client_round(k)
        assert engine.alive(), engine.diagnostics()

    # the loop played on, sample-exact, through all of it
    end = rig.ping()
    rec = capture.take(until=end)
    model = H.SlotModel(x).play(T)
    frames, got_l, valid = rec.window(0, T, end)
    _, got_r, _ = rec.window(1, T, end)
    master, _ = H.render([model], frames)
    ok = valid.copy()
    match = ok & (np.abs(got_l - master[0]) <= 1e-6) & (np.abs(got_r - master[1]) <= 1e-6)
    n_valid, n_match = int(ok.sum()), int(match.sum())
    rms_got = float(np.sqrt(np.mean(got_l[ok] ** 2))) if n_valid else 0.0
    # Periods the engine did not finish in time (a loaded machine, ASan's
    # cost) come out wrong through no fault of the commands: count them.
    bad_blocks = len({int(f) // H.PERIOD for f in frames[ok & ~match]})
    late = engine_late_cycles(jack_server, engine)
    reports = sanitizer_reports(engine)
    elapsed = time.monotonic() - t_start
    print(f"\nhostile memory, {elapsed:.1f} s against looprigd-asan ({ROUNDS} rounds of each kind):")
    print(f"  tried: {stats['bodies']} command bodies ({stats['bodies_random']} all-random, the rest random "
          f"commands of real types), {stats['index_writes']} index scribbles (command write; published "
          f"command read/event write; own event read), {stats['region_writes']} writes of "
          f"{stats['region_bytes']} random bytes over whole client places incl. state/owner/generation")
    print(f"  engine answered: {stats['errors']} error events ({stats['corrupt_ring_errors']} corrupt-ring "
          f"discards), {stats['acks']} acks of random-but-valid commands")
    print(f"  survived: engine alive, {len(reports)} sanitizer reports, good client {stats['good_acks']} acks, "
          f"{stats['places_reclaimed']} scribbled places reclaimed, {stats['fresh_attaches']} fresh attaches answered")
    print(f"  loop: {n_match}/{n_valid} captured frames sample-exact over [{T}, {end}) "
          f"({n_valid / max(1, end - T):.0%} captured), rms {rms_got:.3f}; {bad_blocks} periods differ, "
          f"jackd reported {late} engine periods not finished in time")
    assert not reports, "sanitizer reports:\n" + "\n".join(reports[:20]) + "\n" + engine.stderr()[-4000:]
    assert n_valid > 0.5 * (end - T), f"captured only {n_valid} of {end - T} frames"
    assert rms_got > 0.1, "the loop went silent"
    assert n_match >= 0.9 * n_valid, f"only {n_match}/{n_valid} frames match the loop"
    assert bad_blocks <= 3 * late + 2, f"{bad_blocks} periods differ from the loop, only {late} late engine cycles"
    assert stats["errors"] >= stats["bodies_random"]
    assert stats["corrupt_ring_errors"] >= ROUNDS // 4
    # and the engine still does real work
    assert rig.load(1, H.write_wav_float(tmp_path / "after.wav", x[:500])).frames == 500
    rig.stop(0)


def test_every_param_and_command_rejected_through_the_engine(engine, rig):
    """The integration counterpart of tests/unit/test_reject.cpp, on the
    sanitizer build: for every row of lr_param_table() NaN, +inf, -inf, just
    below min, just above max and (slot/group params) target -1 and one past
    the last; for every valued command the same five values; for every
    slot-addressed command slot -1 and slot_count. Each is answered with its
    code, and the published params (lr_slot_params, lr_mix_meter group and
    global params) and slot settings are byte for byte what they were."""
    import math

    raw = H.RawClient(engine.name)
    ffi, lib = raw.ffi, raw.lib
    try:
        base = ffi.cast("char *", lib.lr_client_base(raw.c))
        hdr = ffi.cast("lr_header *", base)
        nslots = int(hdr.slot_count)
        sp_off, sp_size = int(hdr.slot_params_offset), nslots * ffi.sizeof("lr_slot_params")
        mm = ffi.cast("lr_mix_meter *", base + int(hdr.mix_meter_offset))
        params_off = ffi.offsetof("lr_mix_meter", "group_params")
        params_size = ffi.offsetof("lr_mix_meter", "delay_frames") + 4 - params_off
        sm = ffi.cast("lr_slot_meter *", base + int(hdr.slot_meters_offset))

        def published():
            slot_settings = [(sm[i].gain_db, sm[i].pan, sm[i].flags & 3, sm[i].loop_bpm, sm[i].pitch, sm[i].mode,
                              sm[i].group) for i in range(nslots)]
            return (bytes(ffi.buffer(base + sp_off, sp_size)),
                    bytes(ffi.buffer(ffi.cast("char *", mm) + params_off, params_size)), slot_settings)

        rig.ping()
        before = published()
        count = ffi.new("uint32_t *")
        table = lib.lr_param_table(count)
        rows = 0
        for i in range(count[0]):
            p = table[i]
            target = 0 if p.target == 2 else 1
            for v in (math.nan, math.inf, -math.inf, math.nextafter(p.min, -math.inf),
                      math.nextafter(p.max, math.inf)):
                ans = _param_request(raw, p.id, target, v)
                assert ans["type"] == 2 and ans["code_name"] == "LR_E_BAD_VALUE", (ffi.string(p.name), v, ans)
                rows += 1
            if p.target in (0, 1):
                for t in (-1, nslots if p.target == 0 else 8):
                    ans = _param_request(raw, p.id, t, p.min)
                    assert ans["type"] == 2 and ans["code_name"] == "LR_E_BAD_SLOT", (ffi.string(p.name), t, ans)
                    rows += 1
        ranges = {6: (-144.0, 24.0), 7: (-1.0, 1.0), 8: (0.0, 1.0), 9: (0.0, 1.0), 10: (0.0, 100.0),
                  11: (20.0, 400.0), 12: (1.0, 32.0), 14: (-24.0, 24.0), 15: (0.0, 1.0), 16: (0.0, 2.0)}
        for t, (lo, hi) in ranges.items():
            for v in (math.nan, math.inf, -math.inf, math.nextafter(lo, -math.inf), math.nextafter(hi, math.inf)):
                ans = raw.request(t, 2, values=(v,))
                assert ans["type"] == 2 and ans["code_name"] == "LR_E_BAD_VALUE", (t, v, ans)
                rows += 1
        for t in (2, 3, 4, 5, 6, 7, 8, 9, 13, 14, 15):
            for s in (-1, nslots):
                ans = raw.request(t, s, values=(120.0 if t == 13 else 0.0,), text=b"/tmp/x.wav" if t == 2 else b"")
                assert ans["type"] == 2 and ans["code_name"] == "LR_E_BAD_SLOT", (t, s, ans)
                rows += 1
        rig.ping()
        after = published()
        assert after[0] == before[0], "lr_slot_params changed"
        assert after[1] == before[1], "lr_mix_meter params changed"
        assert after[2] == before[2], "slot settings changed"
        print(f"\nthrough looprigd-asan: {rows} bad params/values/slots rejected with their codes, "
              f"published params and slot settings unchanged ({count[0]} params)")
    finally:
        raw.close()
    assert not sanitizer_reports(engine)


def _param_request(raw, pid, target, value):
    cmd = raw.ffi.new("lr_command *")
    cmd.type = 17
    cmd.slot = target
    cmd.param = pid
    cmd.value[0] = value
    r = raw.lib.lr_client_send(raw.c, cmd)
    assert r > 0, r
    return raw.wait(int(r))


def test_free_place_scribbled_by_a_third_process_serves_its_next_client(engine, rig):
    """A third process writes a wild command write index into every FREE
    client place (as any process of the user could). The next client, whichever
    place it takes, starts its ring where the engine's reading stands, so its
    very first command is answered normally (not refused as a full ring or
    discarded as a "corrupt ring")."""
    spy = Hostile(engine.name)         # holds a place; gives us the segment's layout
    try:
        ffi = spy.ffi
        base = ffi.cast("char *", spy.lib.lr_client_base(spy.raw.c))
        hdr = ffi.cast("lr_header *", base)
        places = [ffi.cast("lr_client_slot *", base + int(hdr.clients_offset) + i * int(hdr.client_slot_size))
                  for i in range(int(hdr.max_clients))]
        tried = []
        for wild_from_read in (0x7FFFFFF0, 1000, 0xFFFFFFFF, 3):
            scribbled = []
            for i, slot in enumerate(places):
                if int(slot.state) == 0 and int(slot.owner_pid) == 0:
                    slot.cmd.write = (int(slot.cmd.read) + wild_from_read) & 0xFFFFFFFF
                    scribbled.append(i)
            assert scribbled, "there must be free places to scribble"
            nxt = H.RawClient(engine.name)
            try:
                got = nxt.lib.lr_client_index(nxt.c)
                ans = nxt.request(1, 0)  # PING
                tried.append((hex(wild_from_read), got, ans["code_name"], ans["message"]))
                assert got in scribbled, (got, scribbled)
                assert ans["type"] == 1 and ans["code_name"] == "LR_OK", ans
            finally:
                nxt.close()
            time.sleep(0.2)  # the engine frees the place
        print("free places scribbled (write index = read + wild), then attached: %s" % tried)
    finally:
        spy.close()
    assert rig.ping() > 0
