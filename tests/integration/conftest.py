"""Fixtures for looprig's end-to-end tests.

Run with:  /usr/bin/python3 -m pytest tests/integration -q

Per test module: one private jackd (dummy backend, 48 kHz, 256 frames), one
engine (options from the module's ENGINE_OPTS dict), one control connection
(``rig``) and one capture client recording master out (plus the per-slot outs
listed in the module's CAPTURE_SLOTS).

Environment: LOOPRIGD overrides the engine binary, LOOPRIG_SHM_LIB the
liblooprig-shm library, LOOPRIG_CLI the CLI command.
"""
from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import lrharness as H  # noqa: E402


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for e in list(H.Engine.live):
            rep.sections.append((f"engine {e.name}", e.diagnostics()))
        srv = getattr(item.module, "_lr_server", None)
        if srv is not None:
            rep.sections.append((f"jackd {srv.name} (log tail)", srv.log()[-3000:]))


@pytest.fixture(scope="module")
def jack_server(request):
    srv = H.JackServer(realtime=os.environ.get("LOOPRIG_IT_JACK_RT") == "1")
    srv.start()
    request.module._lr_server = srv
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def engine(jack_server, request):
    opts = dict(getattr(request.module, "ENGINE_OPTS", {}))
    e = H.Engine(jack_server, **opts)
    e.start()
    try:
        yield e
    finally:
        e.stop(check=True)


@pytest.fixture(scope="module")
def looprig_mod():
    return H.import_looprig()


@pytest.fixture(scope="module")
def rig(engine, looprig_mod):
    r = looprig_mod.attach(name=engine.name)
    try:
        yield r
    finally:
        close = getattr(r, "close", None) or getattr(r, "detach", None)
        if close:
            close()


@pytest.fixture(scope="module")
def capture(jack_server, engine, request):
    slots = list(getattr(request.module, "CAPTURE_SLOTS", []))
    width = H.slot_port_width(engine.slots)
    sources = [engine.port("out_L"), engine.port("out_R")]
    for s in slots:
        sources += [engine.port(f"slot{s:0{width}d}_L"), engine.port(f"slot{s:0{width}d}_R")]
    cap = H.Capture(jack_server, sources)
    try:
        yield cap
    finally:
        cap.close()


@pytest.fixture(autouse=True)
def _engine_still_running(request):
    """After every test that used the engine: it must still be running."""
    yield
    if "engine" in request.fixturenames:
        e = request.getfixturevalue("engine")
        assert e.alive(), "engine died during the test\n" + e.diagnostics()
