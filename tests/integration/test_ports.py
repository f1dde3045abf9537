"""JACK client and port names (--name, out_L/out_R, slotNN_L/slotNN_R, the bus
outs groupG_L/R, delay/reverb _send_L/R and _return_L/R) and a clean exit on
SIGTERM whatever the number of ports."""
import re
import subprocess
import time

import pytest

import lrharness as H

# The bus outs looprigd registers with --bus-outs (docs/MIXER.md).
BUS_OUTS = sorted([f"group{g}_{c}" for g in range(8) for c in "LR"] +
                  [f"{fx}_{kind}_{c}" for fx in ("delay", "reverb") for kind in ("send", "return") for c in "LR"])


@pytest.mark.parametrize("slots", [4, 32, 100, 120])
def test_slot_out_port_names(jack_server, slots):
    e = H.Engine(jack_server, slots=slots, slot_outs=True, extra=["--bus-outs"]).start()
    try:
        ports = [p for p in jack_server.ports() if p.startswith(e.name + ":")]
    finally:
        e.stop(check=False)   # shutdown is judged by test_sigterm_exits_promptly
    short = sorted(p.split(":", 1)[1] for p in ports)
    assert "out_L" in short and "out_R" in short
    slot_ports = [p for p in short if p.startswith("slot")]
    assert len(slot_ports) == 2 * slots
    assert len(short) == 2 * slots + 2 + len(BUS_OUTS) + len(H.MIDI_PORTS), sorted(set(short) - set(slot_ports))
    assert sorted(set(short) - set(slot_ports) - {"out_L", "out_R"} - set(H.MIDI_PORTS)) == BUS_OUTS
    width = max(2, len(str(slots - 1)))
    want = {f"slot{i:0{width}d}_{s}" for i in range(slots) for s in "LR"}
    assert set(slot_ports) == want, sorted(set(slot_ports) ^ want)[:10]
    for p in slot_ports:
        assert re.fullmatch(r"slot\d{2,}_[LR]", p)


@pytest.mark.parametrize("bus_outs", [True, False], ids=["bus-outs", "no-bus-outs"])
def test_client_name_is_name_option_on_private_server(jack_server, bus_outs):
    e = H.Engine(jack_server, slots=2, extra=["--bus-outs"] if bus_outs else []).start()
    try:
        import jack
        c = jack.Client(H.unique_name("lrq"), servername=jack_server.name, no_start_server=True)
        try:
            names = [p.name for p in c.get_ports(e.name + ":")]
            outs = [p.name for p in c.get_ports(e.name + ":", is_audio=True, is_output=True)]
        finally:
            c.close()
        want = ["out_L", "out_R"] + (BUS_OUTS if bus_outs else [])
        assert sorted(outs) == sorted(e.port(p) for p in want)
        assert sorted(names) == sorted(outs + [e.port(p) for p in H.MIDI_PORTS])
    finally:
        e.stop(check=True)


@pytest.mark.parametrize("slots,slot_outs", [(32, False), (4, True), (15, True), (16, True), (64, True)])
def test_sigterm_exits_promptly(jack_server, slots, slot_outs):
    """SIGTERM: the engine leaves JACK and exits 0 within 5 s, and the JACK
    server stays responsive (a client stuck in jack_client_close also blocks
    jackd's request thread for everyone)."""
    e = H.Engine(jack_server, slots=slots, slot_outs=slot_outs).start()
    time.sleep(0.3)
    t = time.monotonic()
    rc = e.stop(check=False)
    took = time.monotonic() - t
    r = subprocess.run(["jack_lsp"], env=jack_server.env, capture_output=True, text=True, timeout=10)
    assert r.returncode == 0 and e.name not in r.stdout
    assert rc == 0 and took < 5.0, (
        f"--slots {slots}{' --slot-outs' if slot_outs else ''}: exit status {rc} after {took:.1f} s "
        f"(killed if it hung)\n{e.diagnostics()}")
