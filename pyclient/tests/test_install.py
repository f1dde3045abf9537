"""``pip install ./pyclient`` in a venv, offline, then use it from outside the repo.

The package's headers are symlinks into ``shm/include/looprig`` in the source
tree; the installed package must contain real copies of them.
"""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import PYTHON, REPO, require_library

_IGNORE = shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "*.so", ".pytest_cache")


# meson test sets LD_LIBRARY_PATH to the build tree: drop it too, or "no library" finds one.
def _clean_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LOOPRIG_LIB", "PYTHONHOME", "LD_LIBRARY_PATH")}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """A venv with looprig pip-installed from a copy of the source tree (symlinks kept)."""
    root = tmp_path_factory.mktemp("install")
    src = root / "src"
    # Same relative layout as the repository, so the header symlinks resolve.
    shutil.copytree(REPO / "pyclient", src / "pyclient", symlinks=True, ignore=_IGNORE)
    shutil.copytree(REPO / "shm" / "include", src / "shm" / "include")
    inc = src / "pyclient" / "looprig" / "include"
    assert (inc / "shm_layout.h").is_symlink() and (inc / "shm_client.h").is_symlink()
    venv = root / "venv"
    subprocess.run([PYTHON, "-m", "venv", "--system-site-packages", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    r = subprocess.run(
        [str(py), "-m", "pip", "install", "--no-build-isolation", "--no-index", "--no-cache-dir", "-q",
         str(src / "pyclient")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300, cwd=str(root),
        env=_clean_env(PIP_DISABLE_PIP_VERSION_CHECK="1"),
    )
    assert r.returncode == 0, r.stdout
    site = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        stdout=subprocess.PIPE, text=True, check=True, cwd=str(root), env=_clean_env(),
    ).stdout.strip()
    return {"root": root, "python": py, "site": Path(site), "bin": venv / "bin"}


def test_installed_headers_are_real_copies(venv):
    inc = venv["site"] / "looprig" / "include"
    for h in ("shm_layout.h", "shm_client.h"):
        p = inc / h
        assert p.is_file() and not p.is_symlink(), p
        assert filecmp.cmp(p, REPO / "shm" / "include" / "looprig" / h, shallow=False)
    assert (venv["site"] / "looprig" / "py.typed").is_file()


def _run(venv, code, **env):
    return subprocess.run([str(venv["python"]), "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, cwd=str(venv["root"]), env=_clean_env(**env), timeout=60)


_PROBE = """
import json, looprig, looprig._ffi as f
with looprig.attach(%r) as rig:
    print(json.dumps({"file": looprig.__file__, "lib": f.lib_path(), "frame": rig.ping(),
                      "headers": [str(p) for p in f.header_paths()]}))
"""


def test_import_outside_repo_with_LOOPRIG_LIB(venv, engine):
    lib = require_library()
    r = _run(venv, _PROBE % engine.name, LOOPRIG_LIB=str(lib))
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["file"].startswith(str(venv["site"]))
    assert d["lib"] == str(lib)
    assert d["frame"] > 0
    assert all(h.startswith(str(venv["site"])) for h in d["headers"])


def test_import_with_library_beside_the_package(venv, engine):
    lib = require_library()
    beside = venv["site"] / "looprig" / "liblooprig-shm.so"
    shutil.copy2(lib, beside)
    try:
        r = _run(venv, _PROBE % engine.name)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["lib"] == str(beside)
    finally:
        beside.unlink()


def test_no_library_is_a_clear_error(venv):
    r = _run(venv, "import looprig; looprig.attach('x')")
    assert r.returncode != 0
    assert "cannot load liblooprig-shm.so" in r.stderr and "beside the package" in r.stderr
    assert "repository build dir" not in r.stderr  # an installed package is not a checkout


def test_console_script_and_module(venv, engine):
    lib = require_library()
    exe = venv["bin"] / "looprig"
    r = subprocess.run([str(exe), "--help"], stdout=subprocess.PIPE, text=True, cwd=str(venv["root"]),
                       env=_clean_env())
    assert r.returncode == 0 and "status" in r.stdout
    r = subprocess.run([str(venv["python"]), "-m", "looprig", "--name", engine.name, "--json", "ping"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(venv["root"]),
                       env=_clean_env(LOOPRIG_LIB=str(lib)))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["ok"] is True
