"""The Python examples of docs/PYTHON.md run against the real engine."""

from __future__ import annotations

import os
import re
import subprocess

from conftest import PYCLIENT, PYTHON, REPO, RATE

DOC = REPO / "docs" / "PYTHON.md"


def _blocks():
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)


def _run(code, tmp_path):
    env = {"PYTHONPATH": str(PYCLIENT), "PATH": "/usr/bin:/bin"}
    if os.environ.get("LOOPRIG_LIB"):
        env["LOOPRIG_LIB"] = os.environ["LOOPRIG_LIB"]  # the library under test
    r = subprocess.run([PYTHON, "-c", code], cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=60, env=env)
    assert r.returncode == 0, "example failed:\n%s\n%s" % (code, r.stderr)
    return r.stdout


def _block(word):
    """The one example that contains ``word``."""
    found = [b for b in _blocks() if word in b]
    assert len(found) == 1, (word, len(found))
    return found[0]


def test_python_examples_run(engine, sine_wav, tmp_path):
    blocks = _blocks()
    assert len(blocks) == 7
    # musical time, the mixer and the futures run on private engines (tempo, effects and master are
    # engine-wide; the futures example plays and stops); the meters example needs a Rig: test_meters_example
    blocks = [b for b in blocks if "rig.tempo(" not in b and "rig.highpass(" not in b and "m.groups" not in b
              and "rig.nowait" not in b]
    assert len(blocks) == 3
    first = blocks[0].replace('name="looprig"', "name=%r" % engine.name).replace('"loop.wav"', repr(str(sine_wav)))
    out = _run(first, tmp_path)
    assert out.splitlines()[0] == "%d frames at %d Hz" % (RATE, RATE)
    prelude = (
        "import looprig\n"
        "rig = looprig.attach(%r)\n"
        "for s in range(4): rig.load(s, %r)\n"
        "t0 = rig.frame_time + 24000\n" % (engine.name, str(sine_wav))
    )
    _run(prelude + blocks[1] + "assert len(set(frames)) == 1 and ev.ok\n"
         "assert len({e.frame for e in evs}) == 1 and len({e.frame for e in batch}) == 1\n"
         "assert batch[0].frame % 4800 == 0\nfor s in range(4): rig.unload(s)\n",
         tmp_path)
    out = _run(prelude + blocks[2], tmp_path)
    assert out.startswith("LR_E_BAD_VALUE gain nan")


def test_musical_time_example(engine_factory, sine_wav, tmp_path):
    block = _blocks()[1]
    assert "rig.tempo(" in block
    eng = engine_factory()
    code = (
        "import looprig\n"
        "with looprig.attach(%r) as r:\n"
        "    for s in range(2): r.load(s, %r)\n" % (eng.name, str(sine_wav))
        + block.replace('name="looprig"', "name=%r" % eng.name)
    )
    out = _run(code, tmp_path).split()
    assert float(out[0]) in (96.0, 104.0) and out[1] == "4" and float(out[2]) >= 0.0


def test_mixer_and_meters_examples(engine_factory, sine_wav, tmp_path):
    import looprig

    eng = engine_factory()
    with looprig.attach(eng.name) as r:
        r.load(0, sine_wav)
    block = _block("rig.highpass(")
    code = "import looprig\n" + block.replace('name="looprig"', "name=%r" % eng.name)
    out = _run(code, tmp_path).splitlines()
    assert out[0].split() == ["150.0", "2.5"]
    meters = _block("m.group_settings(")
    code = "import looprig\nrig = looprig.attach(%r)\n" % eng.name + meters
    out = _run(code, tmp_path).splitlines()
    assert len(out) == 1 + 8


def test_futures_example(engine_factory, sine_wav, tmp_path):
    import looprig

    eng = engine_factory()
    with looprig.attach(eng.name) as r:
        r.load(0, sine_wav)
        r.load(1, sine_wav)
    block = _block("rig.nowait")
    out = _run(block.replace('name="looprig"', "name=%r" % eng.name), tmp_path).splitlines()
    assert len(out) == 2 and out[0].startswith("starts at frame "), out
    assert out[1] == "gain slot 1 at frame %s | slot 99 out of range (0..31)" % out[1].split()[5], out
