"""What the CLI shows (issue 10, found by a newcomer): a load says the file's
frames at its rate and the loop's at the engine's; silence reads -inf (at or
below SILENCE_DBFS, -120 dBFS) and a meter bar and its number agree; the
status flags column and the meter bars are explained under them.
"""

from __future__ import annotations

import json
import math
import re
import time

import numpy as np
import pytest

from conftest import RATE, run_cli
from looprig._ffi import ffi
from looprig.meters import SILENCE_DBFS, Meters, dbfs, to_dbfs
from test_mixer import synthetic_area

# Levels the newcomer saw printed: a filter's residue and a muted slot's ramp.
SEEN_DB = (-308.3, -140.8, -188.1)


def _lin(db):
    return 10.0 ** (db / 20.0)


def _strict_json(text):
    """json.loads that refuses NaN/Infinity tokens (not JSON)."""
    def bad(token):
        raise ValueError("not JSON: %s" % token)

    return json.loads(text, parse_constant=bad)


# -- silence --------------------------------------------------------------------

def test_silence_is_minus_inf_below_the_one_floor():
    import looprig
    from looprig.params import OFF_DB

    assert SILENCE_DBFS == OFF_DB == -120.0 and looprig.SILENCE_DBFS == SILENCE_DBFS
    for db in SEEN_DB + (-120.0, -120.5):
        assert to_dbfs(_lin(db)) == -math.inf, db
        assert to_dbfs(_lin(db), floor=-60.0) == -60.0
    assert to_dbfs(_lin(-119.5)) == pytest.approx(-119.5, abs=1e-6)
    assert to_dbfs(0.0) == -math.inf and to_dbfs(float("nan")) == -math.inf and to_dbfs(1.0) == 0.0
    a = dbfs(np.array([_lin(-308.3), _lin(-119.5), 0.0, 1.0], dtype=np.float32))
    assert a[0] == -math.inf and a[1] == pytest.approx(-119.5, abs=1e-3) and a[2] == -math.inf and a[3] == 0.0
    assert dbfs([_lin(-140.8), 0.5])[0] == -math.inf


# -- bars and numbers -----------------------------------------------------------

_BAR = re.compile(r"([LR])\[([^\]]*)\]\s*(-inf|-?\d+\.\d)")


def check_bars_agree(lines):
    """Every ``L[...] N`` / ``R[...] N`` pair: the bar's fill (#) is what its number says
    (display.bar_cells), and a bar whose number is -inf is empty (no fill, no peak mark)."""
    from looprig.display import bar_cells

    pairs = 0
    for ln in lines:
        for side, cells, num in _BAR.findall(ln):
            pairs += 1
            db = -math.inf if num == "-inf" else float(num)
            assert db == -math.inf or db > SILENCE_DBFS, ln
            hashes = [i for i, c in enumerate(cells) if c == "#"]
            marks = [i for i, c in enumerate(cells) if c in "|!"]
            if db == -math.inf:
                assert not hashes and not marks, ln
                continue
            want = bar_cells(db, len(cells))
            fill = hashes[-1] + 1 if hashes else 0
            # The peak mark may overwrite the last cell of the fill.
            ok = {fill} | ({fill + 1} if marks and marks[0] == fill else set())
            assert want in ok, (ln, side, cells, num, want)
    return pairs


def _meters_with_levels():
    """Synthetic meters: slot 0 a kick between hits (RMS high, last period's peak a -308 dB
    residue), slot 1 muted (RMS -188 dB, peak 0), slot 2 a tail (-140.8 dB), slot 3 -30 dB."""
    n = 4
    buf, lay = synthetic_area(n)
    base = ffi.cast("char *", ffi.from_buffer(buf))
    sm = ffi.cast("lr_slot_meter *", base + lay["slot_meters"])
    levels = [(0.5, _lin(-308.3)), (_lin(-188.1), 0.0), (_lin(-140.8), _lin(-140.8)), (_lin(-30.0), _lin(-24.0))]
    for i, (rms, peak) in enumerate(levels):
        sm[i].state = 2  # playing
        sm[i].length = 1000
        for c in range(2):
            sm[i].rms[c], sm[i].peak[c] = rms, peak
    sm[1].flags = 1  # muted
    h = ffi.cast("lr_meter_header *", base)
    h.master_rms[0], h.master_rms[1] = _lin(-140.8), 0.25
    h.master_peak[0], h.master_peak[1] = _lin(-308.3), 0.5
    mix = ffi.cast("lr_mix_meter *", base + lay["mix_meter"])
    mix.returns[1].rms[0] = _lin(-188.1)
    return Meters(buf, lay["slot_meters"], lay["slot_infos"], n, mix_meter_offset=lay["mix_meter"],
                  slot_params_offset=lay["slot_params"])


def test_meter_lines_bars_and_numbers_agree():
    from looprig.display import METER_LEGEND, meter_lines

    m = _meters_with_levels()
    lines = meter_lines(m, RATE, show_all=True)
    text = "\n".join(lines)
    for db in SEEN_DB:
        assert ("%.1f" % db) not in text, (db, text)
    assert check_bars_agree(lines) >= 2 * (4 + 1 + 4)  # slots, master, sends and returns
    slot0 = lines[0]
    assert re.search(r"L\[#{18}\.\.\]\s+-6\.0", slot0), slot0  # RMS 0.5 (-6 dB): 18 of 20 cells, its number
    assert "L[....................]  -inf" in lines[1]  # the muted slot: empty bar, -inf
    assert lines[-1].strip() == METER_LEGEND and "-120" in METER_LEGEND


def test_status_json_has_null_for_silence():
    m = _meters_with_levels()
    d = m.to_dict(all_slots=True)
    text = json.dumps(d, allow_nan=False)
    _strict_json(text)
    s = d["slots"]
    assert s[0]["peak_dbfs"] == [None, None] and s[0]["rms_dbfs"] == [-6.02, -6.02]
    assert s[1]["rms_dbfs"] == [None, None] and s[2]["rms_dbfs"] == [None, None] and s[2]["peak_dbfs"] == [None, None]
    assert s[3]["rms_dbfs"] == [-30.0, -30.0]
    assert d["master"]["rms_dbfs"][0] is None and d["master"]["peak_dbfs"][0] is None


# -- against the engine -----------------------------------------------------------

def test_cli_status_and_meters_with_a_muted_slot(engine, sine_wav):
    """A playing slot and a muted one: `status` (text and --json) and `meters`
    show silence as -inf/null, bars agree with their numbers, legends are there."""
    n = ["--name", engine.name]
    for s in (12, 13):
        assert run_cli(n + ["load", str(s), str(sine_wav)]).returncode == 0
    assert run_cli(n + ["play", "12", "13"]).returncode == 0
    assert run_cli(n + ["mute", "13", "on"]).returncode == 0
    try:
        # The muted slot's RMS decays towards 0 (the newcomer saw -188.1 dB printed): silence.
        deadline = time.monotonic() + 10
        while True:
            r = run_cli(n + ["--json", "status"])
            assert r.returncode == 0, r.stderr
            st = _strict_json(r.stdout)
            if st["slots"][13]["rms_dbfs"] == [None, None] or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        for s in st["slots"]:
            for key in ("peak_dbfs", "rms_dbfs", "peak_hold_dbfs"):
                assert all(v is None or v > SILENCE_DBFS for v in s[key]), (s["slot"], key, s[key])
        by = {s["slot"]: s for s in st["slots"]}
        assert by[13]["muted"] and by[13]["rms_dbfs"] == [None, None], by[13]
        assert by[12]["rms_dbfs"][0] == pytest.approx(-9.03, abs=0.5) or by[12]["rms_dbfs"][0] > -12
        r = run_cli(n + ["status"])
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        head = next(i for i, ln in enumerate(lines) if ln.startswith("slot state"))
        assert " flg " in lines[head] and " MS " not in lines[head]
        legend = [ln for ln in lines if ln.startswith("flg: ")]
        assert legend and all(w in legend[0] for w in ("M muted", "S soloed", "> start pending", "x stop pending"))
        row13 = next(ln for ln in lines if re.match(r"\s*13 playing", ln))
        assert " M-- " in row13 and row13.split()[-7:-5] == ["-inf", "-inf"], row13  # rms L/R
        for ln in lines:
            assert not re.search(r"-(1[2-9]\d|[2-9]\d\d)\.\d", ln), ln  # nothing at or below -120 dB
        r = run_cli(n + ["meters"])
        assert r.returncode == 0, r.stderr
        assert check_bars_agree(r.stdout.splitlines()) >= 2 * 3
        assert "silence (<= -120 dBFS)" in r.stdout
        row13 = next(ln for ln in r.stdout.splitlines() if re.match(r"\s*13 ", ln))
        assert "L[....................]  -inf" in row13, row13
        r = run_cli(n + ["--json", "meters"])
        _strict_json(r.stdout)
    finally:
        run_cli(n + ["mute", "13", "off"])
        run_cli(n + ["stop", "12", "13"])


# -- load: both rates ---------------------------------------------------------------

@pytest.fixture(scope="module")
def wav_44k(tmp_path_factory):
    """4 s stereo at 44.1 kHz: 176400 frames (192000 at the engine's 48 kHz)."""
    from looprig.wavfile import write_wav_float

    p = tmp_path_factory.mktemp("rates") / "pad44k.wav"
    t = np.arange(176400) / 44100.0
    x = (0.25 * np.sin(2 * np.pi * 220.0 * t)).astype(np.float32)
    write_wav_float(p, np.stack([x, x], axis=1), 44100)
    return p


def test_load_says_the_files_frames_and_the_loops(engine, wav_44k, sine_wav):
    n = ["--name", engine.name]
    r = run_cli(n + ["load", "14", str(wav_44k)])
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("load 14: pad44k.wav, 176400 frames at 44100 Hz -> 192000 frames at 48000 Hz"), \
        r.stdout
    r = run_cli(n + ["--json", "load", "14", str(wav_44k)])
    d = _strict_json(r.stdout)
    assert (d["frames"], d["rate"], d["source_frames"], d["source_rate"]) == (192000, RATE, 176400, 44100)
    r = run_cli(n + ["load", "15", str(sine_wav)])  # at the engine's rate: one of each
    assert r.stdout.startswith("load 15: sine440.wav, 48000 frames at 48000 Hz"), r.stdout
    assert "->" not in r.stdout.splitlines()[0].split("(")[0]


def test_load_result_has_both_lengths(rig, wav_44k):
    r = rig.load(16, wav_44k)
    assert (r.frames, r.rate, r.source_frames, r.source_rate) == (192000, RATE, 176400, 44100)
    assert str(r) == r.describe() == "176400 frames at 44100 Hz -> 192000 frames at 48000 Hz"


def test_load_result_text_without_the_files_length():
    from looprig import LoadResult

    assert str(LoadResult(0, 192000, 44100, "", 0, 0, 48000)) == "a 44100 Hz file -> 192000 frames at 48000 Hz"
    assert str(LoadResult(0, 48000, 48000, "", 0, 0, 48000)) == "48000 frames at 48000 Hz"
