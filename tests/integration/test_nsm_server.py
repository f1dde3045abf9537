"""Self-test of the fake NSM server (nsm_server.py; no engine, no JACK): a
liblo client written here plays an NSM client against it, as the API wants
(everything sent from the socket the announce went out of)."""
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import liblo
import pytest

from nsm_server import FakeNsmServer, OscThread

HERE = Path(__file__).resolve().parent
OPEN = ("/tmp/lr-session/looprig.nTEST", "lr-session", "looprig.nTEST")


class Client:
    """A minimal NSM client: records what the server sends it."""

    def __init__(self):
        self.cond = threading.Condition()
        self.got = []
        self.server = OscThread(self._on, name="nsm-client")

    def _on(self, path, args, types, src):
        with self.cond:
            self.got.append((path, list(args), types))
            self.cond.notify_all()

    def wait(self, path, timeout=5.0):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i, (p, a, t) in enumerate(self.got):
                    if p == path:
                        del self.got[i]
                        return a, t
                left = deadline - time.monotonic()
                assert left > 0, f"client: no {path} within {timeout} s (got {self.got})"
                self.cond.wait(left)

    def send(self, url, path, *args):
        self.server.send(liblo.Address(url), path, *args)

    def announce(self, url):
        self.send(url, "/nsm/server/announce", "looprig", ":dirty:message:", "looprigd", 1, 1, os.getpid())

    def close(self):
        self.server.close()


@pytest.fixture
def client():
    c = Client()
    yield c
    c.close()


def test_announce_is_recorded_and_answered_with_reply_then_open(client):
    with FakeNsmServer(open_args=OPEN) as nsm:
        assert nsm.url.startswith("osc.udp://")
        client.announce(nsm.url)
        assert nsm.wait_for("/nsm/server/announce") == ["looprig", ":dirty:message:", "looprigd", 1, 1, os.getpid()]
        args, types = client.wait("/reply")
        assert types == "ssss"
        assert args == ["/nsm/server/announce", "hi", "fake-nsm", ":server-control:"]
        args, types = client.wait("/nsm/client/open")
        assert types == "sss" and tuple(args) == OPEN
        assert nsm.client_url.endswith(f":{client.server.port}/")


def test_answers_to_open_and_save_are_matched_by_path(client):
    with FakeNsmServer(open_args=OPEN) as nsm:
        client.announce(nsm.url)
        client.wait("/nsm/client/open")
        client.send(nsm.url, "/reply", "/nsm/client/open", "Loaded.")
        assert nsm.wait_answer("/nsm/client/open") == ("/reply", ["Loaded."])

        nsm.send_save()
        client.wait("/nsm/client/save")
        client.send(nsm.url, "/error", "/nsm/client/save", -1, "disk full")
        nsm.send_save()
        client.wait("/nsm/client/save")
        client.send(nsm.url, "/reply", "/nsm/client/save", "Saved.")
        assert nsm.wait_answer("/nsm/client/save") == ("/error", [-1, "disk full"])
        assert nsm.wait_answer("/nsm/client/save") == ("/reply", ["Saved."])  # the next one, not the first again

        client.send(nsm.url, "/nsm/client/is_dirty")
        client.send(nsm.url, "/nsm/client/message", 2, "hello")
        assert nsm.wait_for("/nsm/client/is_dirty") == []
        assert nsm.wait_for("/nsm/client/message") == [2, "hello"]
        assert nsm.paths() == ["/nsm/server/announce", "/reply", "/error", "/reply",
                               "/nsm/client/is_dirty", "/nsm/client/message"]


def test_later_messages_and_wait_for_next(client):
    with FakeNsmServer() as nsm:  # no open_args: acknowledges only
        with pytest.raises(RuntimeError):
            nsm.send_save()  # nobody announced yet
        client.announce(nsm.url)
        client.wait("/reply")
        time.sleep(0.1)
        with client.cond:
            assert not any(p == "/nsm/client/open" for p, _, _ in client.got)
        nsm.send_open(*OPEN)
        assert tuple(client.wait("/nsm/client/open")[0]) == OPEN
        nsm.send_session_is_loaded()
        client.wait("/nsm/client/session_is_loaded")
        client.send(nsm.url, "/nsm/client/is_dirty")
        client.send(nsm.url, "/nsm/client/is_clean")
        client.send(nsm.url, "/nsm/client/is_dirty")
        assert nsm.wait_for("/nsm/client/is_dirty") == []
        assert nsm.wait_for("/nsm/client/is_dirty") == []
        with pytest.raises(AssertionError, match="no a /nsm/client/is_dirty message"):
            nsm.wait_for("/nsm/client/is_dirty", timeout=0.2)


def test_refuse_and_silence(client):
    with FakeNsmServer(open_args=OPEN, refuse=(-3, "blacklisted")) as nsm:
        client.announce(nsm.url)
        args, types = client.wait("/error")
        assert types == "sis" and args == ["/nsm/server/announce", -3, "blacklisted"]
        time.sleep(0.1)
        with client.cond:
            assert not client.got  # no open after a refusal
    with FakeNsmServer(open_args=OPEN, answer_announce=False) as nsm:
        client.announce(nsm.url)
        nsm.wait_for("/nsm/server/announce")
        time.sleep(0.2)
        with client.cond:
            assert not client.got


def test_open_delay(client):
    with FakeNsmServer(open_args=OPEN, open_delay=0.3) as nsm:
        t0 = time.monotonic()
        client.announce(nsm.url)
        client.wait("/reply")
        client.wait("/nsm/client/open")
        assert time.monotonic() - t0 >= 0.25


def test_close_while_messages_arrive_does_not_hang():
    """pyliblo's ServerThread.stop() deadlocks when a message comes in while
    it joins; the fake must close cleanly while a client keeps sending (in a
    subprocess: a deadlock there holds the GIL, so only a timeout ends it)."""
    script = """
import threading, time, liblo
from nsm_server import FakeNsmServer
nsm = FakeNsmServer(open_args=("/tmp/x/looprig.nT", "x", "looprig.nT"))
target = liblo.Address(nsm.url)
stop = threading.Event()
def flood():
    while not stop.is_set():
        liblo.send(target, "/nsm/client/is_dirty")
t = threading.Thread(target=flood); t.start()
time.sleep(0.3)
for _ in range(20):
    nsm.close()
    nsm = FakeNsmServer()
    target = liblo.Address(nsm.url)
    time.sleep(0.02)
nsm.close()
stop.set(); t.join()
print("closed")
"""
    r = subprocess.run([sys.executable, "-c", script], cwd=HERE, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "closed" in r.stdout, r.stderr
