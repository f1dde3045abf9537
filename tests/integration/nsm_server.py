"""A fake NSM (New Session Manager) server for the tests, on python3-liblo.

    with FakeNsmServer(open_args=(path, "session", "looprig.nTEST")) as nsm:
        env["NSM_URL"] = nsm.url
        ... start looprigd with env ...
        name, caps, exe, major, minor, pid = nsm.wait_for("/nsm/server/announce")
        assert nsm.wait_answer("/nsm/client/open") == ("/reply", [...])
        nsm.send_save()
        kind, args = nsm.wait_answer("/nsm/client/save")

It listens on a free UDP port (``.url``, the value for NSM_URL) from a liblo
server thread and records every message it receives as (path, args, source
URL) in a thread-safe list (``.messages``). When a client announces, the
server answers as nsmd does: ``/reply "/nsm/server/announce" "hi" "fake-nsm"
":server-control:"`` and then, if it has ``open_args``, ``/nsm/client/open``
with them (``open_delay`` seconds later). ``refuse=(code, message)`` answers
the announce with ``/error`` instead; ``answer_announce=False`` leaves it
unanswered. Everything it sends goes from its one socket to the client that
announced (the last one, if several did).

``OscThread`` is the receiving end both use (the fake and the test's own
clients): a liblo.Server read by a Python thread. Not liblo.ServerThread:
pyliblo's ServerThread.stop() joins liblo's thread holding the GIL, and
deadlocks when a message arrives meanwhile (its callback waits for the GIL),
as it would whenever the engine under test sends while a test ends.
"""
from __future__ import annotations

import threading
import time

import liblo

ANNOUNCE = "/nsm/server/announce"


class OscThread:
    """A liblo UDP server on a free port whose messages `handler(path, args,
    types, src)` gets on a Python thread of its own (started here)."""

    def __init__(self, handler, name="osc"):
        self._server = liblo.Server()  # free UDP port
        self._server.add_method(None, None, handler)
        self.url = self._server.url
        self.port = self._server.port
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            self._server.recv(50)  # releases the GIL while it waits

    def send(self, to, path, *args):
        """Sends from this server's socket (so replies come back here)."""
        self._server.send(to, path, *args)

    def close(self):
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        self._thread = None
        self._server.free()


class FakeNsmServer:
    def __init__(self, open_args=None, *, refuse=None, answer_announce=True, open_delay=0.0,
                 server_name="fake-nsm", server_capabilities=":server-control:"):
        self.open_args = tuple(open_args) if open_args is not None else None
        self.refuse = refuse
        self.answer_announce = answer_announce
        self.open_delay = open_delay
        self.server_name = server_name
        self.server_capabilities = server_capabilities
        self._cond = threading.Condition()
        self._messages = []     # (path, args, source url), in arrival order
        self._taken = set()     # indices wait_for/wait_answer returned
        self._client = None     # liblo.Address of the announcing client
        self._server = OscThread(self._on_message, name="fake-nsm")

    # ---- life ----
    @property
    def url(self) -> str:
        """The server's URL (osc.udp://host:port/), the value for NSM_URL."""
        return self._server.url

    @property
    def port(self) -> int:
        return self._server.port

    def close(self):
        with self._cond:
            server, self._server = self._server, None
        if server is not None:
            server.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- what came ----
    @property
    def messages(self):
        """Every message received so far: a list of (path, args, source_url)."""
        with self._cond:
            return list(self._messages)

    def paths(self):
        return [m[0] for m in self.messages]

    @property
    def client_url(self):
        """The URL the announcing client sent from ("" before an announce)."""
        with self._cond:
            return self._client.url if self._client is not None else ""

    def wait_for(self, path, timeout=5.0):
        """The args (a list) of the next message with `path` not returned yet
        (by wait_for or wait_answer); AssertionError after `timeout` seconds,
        listing what did come."""
        return self._wait(lambda p, a: p == path, timeout, f"a {path} message")[1]

    def wait_answer(self, path, timeout=5.0):
        """The client's next answer to `path` ("/nsm/client/open" or
        "/nsm/client/save"): ("/reply", [message]) or ("/error", [code,
        message]), the path argument left out."""
        found = self._wait(lambda p, a: p in ("/reply", "/error") and a[:1] == [path], timeout,
                           f"a /reply or /error to {path}")
        return found[0], found[1][1:]

    def _wait(self, match, timeout, what):
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for i, (p, a, _src) in enumerate(self._messages):
                    if i not in self._taken and match(p, a):
                        self._taken.add(i)
                        return p, list(a)
                left = deadline - time.monotonic()
                if left <= 0:
                    got = "\n  ".join(f"{p} {a}" for p, a, _ in self._messages) or "(nothing)"
                    raise AssertionError(f"fake NSM server at {self.url}: no {what} within {timeout} s; "
                                         f"received:\n  {got}")
                self._cond.wait(left)

    # ---- sending to the client ----
    def send(self, path, *args):
        """Sends `path` with `args` (liblo's typing: int -> i, float -> f,
        str -> s; or (type, value) tuples) to the client that announced."""
        with self._cond:
            client, server = self._client, self._server
        if server is None:
            raise RuntimeError("fake NSM server: closed")
        if client is None:
            raise RuntimeError("fake NSM server: no client has announced yet")
        server.send(client, path, *args)

    def send_open(self, path, display_name, client_id):
        self.send("/nsm/client/open", path, display_name, client_id)

    def send_save(self):
        self.send("/nsm/client/save")

    def send_session_is_loaded(self):
        self.send("/nsm/client/session_is_loaded")

    # ---- liblo's thread ----
    def _on_message(self, path, args, types, src):
        with self._cond:
            self._messages.append((path, list(args), src.url))
            if path == ANNOUNCE:
                self._client = liblo.Address(src.url)
            self._cond.notify_all()
        if path == ANNOUNCE:
            self._reply_to_announce()

    def _reply_to_announce(self):
        if not self.answer_announce:
            return
        if self.refuse is not None:
            code, message = self.refuse
            self.send("/error", ANNOUNCE, ("i", int(code)), message)
            return
        self.send("/reply", ANNOUNCE, "hi", self.server_name, self.server_capabilities)
        if self.open_args is not None:
            if self.open_delay > 0:
                # Not on liblo's thread: it keeps recording meanwhile.
                t = threading.Timer(self.open_delay, self._late_open)
                t.daemon = True
                t.start()
            else:
                self.send_open(*self.open_args)

    def _late_open(self):
        try:
            self.send_open(*self.open_args)
        except RuntimeError:  # closed meanwhile
            pass
