"""Bad input is rejected with the right code and a clear message, changes
nothing, and the loop that was playing keeps playing sample-exact across
every rejected command (including bad loads into the playing slot itself)."""
import math

import numpy as np
import pytest

import lrharness as H

ENGINE_OPTS = dict(slots=4, slot_outs=True)
CAPTURE_SLOTS = [0]
CH0 = (2, 3)
NSLOTS = 4


def expect_reject(looprig, fn, codes, *, mention=None):
    with pytest.raises(looprig.CommandRejected) as ei:
        fn()
    e = ei.value
    codes = (codes,) if isinstance(codes, str) else codes
    assert e.code_name in codes, f"got {e.code_name} ({e.message!r}), want one of {codes}"
    assert isinstance(e.message, str) and len(e.message.strip()) >= 8, f"unclear message {e.message!r}"
    if mention:
        assert mention in e.message, f"message {e.message!r} does not mention {mention!r}"
    return e


def test_bad_input_rejected_and_playing_loop_unaffected(rig, capture, looprig_mod, tmp_path, engine):
    lr = looprig_mod
    L = 2003
    x = H.noise(L, seed=300, amp=0.4, channels=2)
    assert rig.load(0, H.write_wav_float(tmp_path / "keep.wav", x)).frames == L
    y = H.noise(1500, seed=301, amp=0.4)
    assert rig.load(1, H.write_wav_float(tmp_path / "other.wav", y)).frames == 1500
    bad = H.make_bad_files(tmp_path)
    capture.arm(30)
    T = rig.ping() + 9600
    assert rig.play(0, at=T) == T
    capture.wait_until(T + 2 * L)
    load_count0 = int(H.meter_field(rig.meters(), "load_count")[0])

    seen = {}
    # files, loaded into the slot that is playing
    seen["missing"] = expect_reject(lr, lambda: rig.load(0, bad["missing"]), "LR_E_FILE",
                                    mention="does_not_exist.wav")
    seen["text"] = expect_reject(lr, lambda: rig.load(0, bad["text"]), "LR_E_FORMAT")
    seen["trunc_hdr"] = expect_reject(lr, lambda: rig.load(0, bad["truncated_header"]),
                                      ("LR_E_FORMAT", "LR_E_FILE"))
    seen["trunc_data"] = expect_reject(lr, lambda: rig.load(0, bad["truncated_data"]),
                                       ("LR_E_FORMAT", "LR_E_FILE"))
    seen["empty"] = expect_reject(lr, lambda: rig.load(0, bad["empty"]), ("LR_E_FORMAT", "LR_E_EMPTY"))
    seen["zero"] = expect_reject(lr, lambda: rig.load(0, bad["zero_frames"]), "LR_E_EMPTY")
    seen["dir"] = expect_reject(lr, lambda: rig.load(0, tmp_path), ("LR_E_FILE", "LR_E_FORMAT"))
    # slots out of range, for several commands
    for s in (NSLOTS, 99, -1, 2 ** 31 - 1):
        expect_reject(lr, lambda: rig.load(s, tmp_path / "other.wav"), "LR_E_BAD_SLOT")
        expect_reject(lr, lambda: rig.play(s), "LR_E_BAD_SLOT")
        expect_reject(lr, lambda: rig.stop(s), "LR_E_BAD_SLOT")
        expect_reject(lr, lambda: rig.gain(s, 0.0), "LR_E_BAD_SLOT")
        expect_reject(lr, lambda: rig.mute(s, True), "LR_E_BAD_SLOT")
    # values: non-finite and out of range
    for v in (math.nan, math.inf, -math.inf, 24.001, -144.001, 1e308):
        expect_reject(lr, lambda: rig.gain(0, v), "LR_E_BAD_VALUE")
    for v in (math.nan, math.inf, -math.inf, 1.0001, -1.0001, 7.0):
        expect_reject(lr, lambda: rig.pan(0, v), "LR_E_BAD_VALUE")
    # scheduled bad values are rejected at once, not applied later
    at = rig.ping() + 4800
    expect_reject(lr, lambda: rig.gain(0, math.nan, at=at), "LR_E_BAD_VALUE")
    # bad quantize arguments
    expect_reject(lr, lambda: rig.play(1, quantize="frames:0"), "LR_E_QUANTIZE")
    expect_reject(lr, lambda: rig.stop(0, quantize="frames:0"), "LR_E_QUANTIZE")
    # not loaded
    expect_reject(lr, lambda: rig.play(2), "LR_E_NOT_LOADED")
    # unknown command type through the package's raw send ...
    with pytest.raises(lr.CommandRejected) as ei:
        rig.send(77, 0, wait=True)
    assert ei.value.code_name == "LR_E_UNKNOWN_COMMAND" and ei.value.message
    # ... and through the C ABI directly
    raw = H.RawClient(engine.name)
    try:
        for t in (raw._lib.LR_CMD_TYPE_COUNT, 200, 65535):   # LR_CMD_TYPE_COUNT and beyond
            ans = raw.request(t, 0)
            assert ans["type"] == 2 and ans["code_name"] == "LR_E_UNKNOWN_COMMAND", ans
            assert ans["message"], ans
        ans = raw.request(6, 0, flags=0x4000, values=(0.0,))   # GAIN with an undefined flag
        assert ans["type"] == 2 and ans["code_name"] == "LR_E_BAD_MESSAGE", ans
        # text_len > LR_TEXT_MAX is refused by the client library already
        assert raw.send(2, 1, text=b"/x" * 10, text_len=5000, check=False) == -3  # LR_SEND_TOO_LONG
        ans = raw.request(4, 1, quantize=7, quantize_arg=1)      # PLAY with an unknown quantize mode
        assert ans["type"] == 2 and ans["code_name"] == "LR_E_QUANTIZE", ans
        ans = raw.request(1, 0)                                  # and it still answers pings
        assert ans["type"] == 1
    finally:
        raw.close()
    # boundary values are accepted (on the stopped slot 1)
    for db in (-144.0, 24.0, 0.0):
        rig.gain(1, db)
    for p in (-1.0, 1.0, 0.0):
        rig.pan(1, p)

    end = rig.ping() + 2 * L
    rec = capture.take(until=end)
    # nothing changed: slot 0 still plays the same buffer at 0 dB, centre
    m = rig.meters()
    assert int(H.meter_field(m, "load_count")[0]) == load_count0
    assert float(H.meter_field(m, "gain_db")[0]) == 0.0
    assert float(H.meter_field(m, "pan")[0]) == 0.0
    assert int(H.meter_field(m, "length")[0]) == L
    model = H.SlotModel(x).play(T)
    n = H.check_model(rec, [model], T - 2000, end, {0: CH0}, what="across rejected commands")
    assert n > 0.5 * (end - T)
    for k, e in seen.items():
        print(f"{k}: {e.code_name}: {e.message}")
    # and a good load still works afterwards
    assert rig.load(2, tmp_path / "other.wav").frames == 1500
    rig.stop(0)


def test_attach_to_missing_engine(looprig_mod, jack_server):
    with pytest.raises(looprig_mod.EngineNotRunning):
        looprig_mod.attach(name=H.unique_name("nosuch"))
