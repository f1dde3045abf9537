"""``pip install ./pyclient`` in a venv, offline, then use it from outside the repo.

The package's headers are symlinks into ``shm/include/looprig`` in the source
tree; the installed package must contain real copies of them. A checkout that
has built the library (``build/shm``) bundles it into the package (setup.py),
so that package needs no ``LOOPRIG_LIB``.
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
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "LOOPRIG_LIB", "LOOPRIG_BUILD_DIR", "PYTHONHOME", "LD_LIBRARY_PATH")}
    env.update(extra)
    return env


def _pip_install(root: Path, with_built_library: bool) -> dict:
    """A venv with looprig pip-installed from a copy of the source tree (symlinks
    kept); with_built_library: the copy has a built build/shm/liblooprig-shm.so*
    as a checkout has after ./run-tests (the real one, linked like meson does)."""
    src = root / "src"
    # Same relative layout as the repository, so the header symlinks resolve.
    shutil.copytree(REPO / "pyclient", src / "pyclient", symlinks=True, ignore=_IGNORE)
    shutil.copytree(REPO / "shm" / "include", src / "shm" / "include")
    inc = src / "pyclient" / "looprig" / "include"
    assert (inc / "shm_layout.h").is_symlink() and (inc / "shm_client.h").is_symlink()
    if with_built_library:
        lib = require_library().resolve()
        shm = src / "build" / "shm"
        shm.mkdir(parents=True)
        shutil.copy2(lib, shm / lib.name)
        if lib.name != "liblooprig-shm.so":
            os.symlink(lib.name, shm / "liblooprig-shm.so")
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


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """pip install from a checkout that has not built the library."""
    return _pip_install(tmp_path_factory.mktemp("install"), with_built_library=False)


@pytest.fixture(scope="module")
def venv_built(tmp_path_factory):
    """pip install from a checkout that has built the library."""
    return _pip_install(tmp_path_factory.mktemp("install-built"), with_built_library=True)


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
    assert "system loader: liblooprig-shm.so.0" in r.stderr  # a meson-installed library (soname) is looked for
    assert "set LOOPRIG_LIB" in r.stderr and "before `pip install ./pyclient`" in r.stderr
    assert "meson setup build && ninja -C build" not in r.stderr  # not "build it" when that is not the cause


def test_built_library_is_bundled_and_found_without_LOOPRIG_LIB(venv_built, engine):
    bundled = venv_built["site"] / "looprig" / "liblooprig-shm.so"
    assert bundled.is_file() and not bundled.is_symlink()
    assert bundled.read_bytes() == require_library().resolve().read_bytes()
    r = _run(venv_built, _PROBE % engine.name)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["lib"] == str(bundled) and d["frame"] > 0
    r = subprocess.run([str(venv_built["bin"] / "looprig"), "--name", engine.name, "--json", "ping"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(venv_built["root"]),
                       env=_clean_env())
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["ok"] is True


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
