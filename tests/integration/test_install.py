"""`meson install` into a temporary DESTDIR, then only the installed copy is used.

- A small C program is compiled with ``pkg-config --cflags --libs looprig-shm``
  against the installed headers and library and run.
- The installed ``looprig`` command starts the installed engine
  (``looprig engine``) on a private jackd and controls it (status, load, play),
  in a clean environment: no LOOPRIG_LIB, LOOPRIGD, PYTHONPATH or
  LD_LIBRARY_PATH, cwd outside the checkout. So the installed package must
  find its own library and engine, relative to where it is (a DESTDIR tree is
  not at its prefix).

The build directory is the one the suite runs from (``$LOOPRIGD``'s, else
``build/``); ``meson install --no-rebuild`` only copies what is built.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import lrharness as H

PYTHON = H.PYTHON


def build_dir() -> Path:
    env = os.environ.get("LOOPRIGD")
    if env:
        d = Path(env).resolve().parents[1]
        if (d / "meson-private").is_dir():
            return d
    return H.REPO / "build"


def clean_env(**extra: str) -> dict:
    """The environment of a user who installed looprig: nothing points at the checkout."""
    drop = ("PYTHONPATH", "PYTHONHOME", "LD_LIBRARY_PATH", "DESTDIR", "MESON_")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LOOPRIG", "JACK_DEFAULT_SERVER") + drop)}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra)
    return env


def find_one(root: Path, pattern: str) -> Path:
    hits = sorted(root.rglob(pattern))
    assert len(hits) == 1, f"{pattern}: {hits}"
    return hits[0]


@pytest.fixture(scope="module")
def inst(tmp_path_factory):
    """The tree `meson install --destdir` makes, and where its parts are."""
    dest = tmp_path_factory.mktemp("destdir")
    bd = build_dir()
    assert (bd / "build.ninja").is_file(), f"no meson build dir at {bd}"
    r = subprocess.run(["meson", "install", "-C", str(bd), "--no-rebuild", "--destdir", str(dest)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120,
                       env=clean_env())
    assert r.returncode == 0, r.stdout
    d = {"dest": dest,
         "cli": find_one(dest, "bin/looprig"),
         "engine": find_one(dest, "bin/looprigd"),
         "pc": find_one(dest, "pkgconfig/looprig-shm.pc"),
         "header": find_one(dest, "include/looprig/shm_client.h"),
         "pkg": find_one(dest, "looprig/__init__.py").parent}
    d["libdir"] = d["pc"].parent.parent
    d["work"] = tmp_path_factory.mktemp("user")   # cwd of every command: not the checkout
    return d


def test_installed_files(inst):
    dest, libdir = inst["dest"], inst["libdir"]
    real = libdir / "liblooprig-shm.so.0"
    assert real.exists() and (libdir / "liblooprig-shm.so").exists()
    r = subprocess.run(["readelf", "-d", str(real)], capture_output=True, text=True, check=True)
    assert "[liblooprig-shm.so.0]" in r.stdout   # the soname
    for h in ("shm_layout.h", "shm_client.h"):
        p = inst["pkg"] / "include" / h
        assert p.is_file() and not p.is_symlink(), p
        assert p.read_bytes() == (H.REPO / "shm" / "include" / "looprig" / h).read_bytes()
    assert os.access(inst["cli"], os.X_OK) and os.access(inst["engine"], os.X_OK)
    assert not any(p.is_symlink() and not p.exists() for p in dest.rglob("*")), "dangling links"


C_PROGRAM = r"""
#include <stdio.h>
#include <looprig/shm_client.h>

int main(void) {
    char name[128];
    int n = lr_segment_name("installed", name, sizeof name);
    printf("%d %s %s %s\n", n, name, lr_error_name(LR_E_BAD_VALUE), lr_error_name(LR_E_FILE));
    return n > 0 ? 0 : 1;
}
"""


def test_c_program_builds_with_pkg_config(inst, tmp_path):
    pcdir = inst["pc"].parent
    env = clean_env(PKG_CONFIG_LIBDIR=str(pcdir), PKG_CONFIG_PATH=str(pcdir),
                    PKG_CONFIG_SYSROOT_DIR=str(inst["dest"]))
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "looprig-shm"], env=env,
                           capture_output=True, text=True, timeout=30)
    assert flags.returncode == 0, flags.stderr
    assert str(inst["dest"]) in flags.stdout  # the installed tree's, not the build tree's
    src = tmp_path / "probe.c"
    src.write_text(C_PROGRAM)
    exe = tmp_path / "probe"
    cc = os.environ.get("CC", "cc")
    r = subprocess.run([cc, str(src), "-o", str(exe), *flags.stdout.split(), "-Wl,-rpath," + str(inst["libdir"])],
                       env=env, capture_output=True, text=True, timeout=60, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    r = subprocess.run([str(exe)], env=clean_env(), capture_output=True, text=True, timeout=10, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    seg = f"/looprig-{os.getuid()}-installed"
    assert r.stdout.split() == [str(len(seg)), seg, "LR_E_BAD_VALUE", "LR_E_FILE"]
    ldd = subprocess.run(["ldd", str(exe)], capture_output=True, text=True, env=clean_env()).stdout
    assert str(inst["libdir"] / "liblooprig-shm.so.0") in ldd, ldd


def test_installed_package_loads_the_installed_library(inst):
    code = ("import sys; sys.path.insert(0, %r)\n"
            "import looprig, looprig._ffi as f, looprig.cli as c\n"
            "f.get_lib(); print(looprig.__file__); print(f.lib_path()); print(c.find_engine_binary()[0])"
            % str(inst["pkg"].parent))
    r = subprocess.run([PYTHON, "-c", code], env=clean_env(), capture_output=True, text=True,
                       timeout=60, cwd=str(inst["work"]))
    assert r.returncode == 0, r.stderr
    pkg, lib, engine = r.stdout.split()
    assert Path(pkg).parent == inst["pkg"]
    assert Path(lib) == inst["libdir"] / "liblooprig-shm.so.0"
    assert Path(engine) == inst["engine"]


def run_cli(inst, server, *args, timeout=30):
    return subprocess.run([str(inst["cli"]), *args], env=clean_env(JACK_DEFAULT_SERVER=server.name),
                          capture_output=True, text=True, timeout=timeout, cwd=str(inst["work"]))


def test_installed_cli_runs_the_installed_engine(inst, jack_server):
    name = H.unique_name("lrinst")
    wav = H.write_wav_pcm16(inst["work"] / "loop.wav",
                            0.25 * np.sin(2 * np.pi * 440 * np.arange(24000) / H.RATE))
    proc = subprocess.Popen([str(inst["cli"]), "engine", "--name", name, "--slots", "4"],
                            env=clean_env(JACK_DEFAULT_SERVER=jack_server.name), cwd=str(inst["work"]),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines: list[str] = []
    ready = threading.Event()

    def read():
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if "ready" in line:
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert ready.wait(15), "engine did not get ready:\n" + "\n".join(lines)
        # `looprig engine` exec'd the installed looprigd (not the build tree's, not one on PATH)
        assert Path(os.readlink(f"/proc/{proc.pid}/exe")) == inst["engine"]

        r = run_cli(inst, jack_server, "--name", name, "--json", "status")
        assert r.returncode == 0, r.stderr
        st = json.loads(r.stdout)
        assert st["engine"]["slot_count"] == 4 and st["engine"]["pid"] == proc.pid

        r = run_cli(inst, jack_server, "--name", name, "load", "0", "loop.wav")   # relative to cwd
        assert r.returncode == 0, r.stderr + r.stdout
        r = run_cli(inst, jack_server, "--name", name, "--json", "play", "0")
        assert r.returncode == 0, r.stderr + r.stdout
        assert json.loads(r.stdout)["ok"] is True

        deadline = time.monotonic() + 5
        while True:
            st = json.loads(run_cli(inst, jack_server, "--name", name, "--json", "status").stdout)
            slot = st["slots"][0]
            if slot["state"] == "playing" and slot["playhead"] > 0:
                break
            assert time.monotonic() < deadline, slot
            time.sleep(0.1)
        assert slot["length"] == 24000
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            rc = proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            rc = proc.wait(5)
        try:
            Path(f"/dev/shm/looprig-{os.getuid()}-{name}").unlink()
        except OSError:
            pass
    assert rc == 0, "\n".join(lines)
    assert wav.exists()


def test_package_goes_where_python3_looks_under_the_prefix(inst):
    """After `meson install` a script anywhere can `import looprig` when the
    interpreter reads a module directory under the prefix (Debian's python3:
    /usr/local/lib/python3.X/dist-packages for /usr/local, not meson's
    default /usr/local/lib/python3/dist-packages)."""
    pydir = "/" + str(inst["pkg"].parent.relative_to(inst["dest"]))
    prefix = pydir.split("/lib/")[0]
    r = subprocess.run([PYTHON, "-c", "import sys, json; print(json.dumps(sys.path))"], env=clean_env(),
                       capture_output=True, text=True, check=True, cwd=str(inst["work"]))
    path = json.loads(r.stdout)
    reads_prefix = [p for p in path if p.startswith(prefix + "/lib/") and p.endswith(("dist-packages", "site-packages"))]
    if not reads_prefix:
        pytest.skip(f"{PYTHON} reads no module directory under {prefix}")
    assert pydir in path, (pydir, reads_prefix)
