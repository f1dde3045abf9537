"""Scripts next to the checkout's root shim (``looprig.py``) import the real package.

Issue 10: ``/usr/bin/python3 myscript.py`` run from the repository root, with
``import looprig`` in myscript.py, was reported to fail (or import the wrong
thing) while ``/usr/bin/python3 -c 'import looprig'`` worked. A script puts
its own directory first on sys.path, ``-c`` the current directory; both must
end at ``<checkout>/pyclient/looprig``, also when another ``looprig`` comes
earlier on the path (PYTHONPATH) and whatever the current directory is.

The checkout is a temporary copy of the parts involved (root shim, root
``looprig`` command, ``pyclient/looprig`` with its header symlinks, the
headers), so the test writes nothing into the repository.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import PYTHON, REPO

SCRIPT = """\
import json, sys
import looprig
import looprig.cli
from looprig import attach
print(json.dumps({"file": looprig.__file__, "cli": looprig.cli.__file__,
                  "attach": callable(attach), "main": callable(looprig.cli.main),
                  "same": sys.modules["looprig"] is looprig}))
"""


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    root = tmp_path_factory.mktemp("checkout")
    shutil.copy2(REPO / "looprig.py", root / "looprig.py")
    shutil.copy2(REPO / "looprig", root / "looprig")
    shutil.copytree(REPO / "pyclient" / "looprig", root / "pyclient" / "looprig", symlinks=True,
                    ignore=shutil.ignore_patterns("__pycache__", "*.so", "_paths.py"))
    shutil.copytree(REPO / "shm" / "include", root / "shm" / "include")
    (root / "myscript.py").write_text(SCRIPT)
    # a decoy package that must not win over the checkout's
    decoy = tmp_path_factory.mktemp("decoy")
    (decoy / "looprig").mkdir()
    (decoy / "looprig" / "__init__.py").write_text("raise ImportError('the decoy looprig was imported')\n")
    return {"root": root, "decoy": decoy}


def _env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSAFEPATH")}
    env.update(extra)
    return env


def _check(r: subprocess.CompletedProcess, root: Path) -> None:
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout.strip().splitlines()[-1])
    pkg = root / "pyclient" / "looprig"
    assert Path(d["file"]) == pkg / "__init__.py"
    assert Path(d["cli"]) == pkg / "cli.py"
    assert d["attach"] and d["main"] and d["same"]


@pytest.mark.parametrize("how", ["script, cwd root", "script by absolute path, cwd elsewhere",
                                 "-c, cwd root", "-m, cwd root"])
@pytest.mark.parametrize("pythonpath", ["", "pyclient", "decoy"])
def test_root_script_imports_the_checkout_package(checkout, tmp_path, how, pythonpath):
    root = checkout["root"]
    pp = {"": None, "pyclient": str(root / "pyclient"), "decoy": str(checkout["decoy"])}[pythonpath]
    env = _env(**({"PYTHONPATH": pp} if pp else {}))
    cwd = root
    if how == "script, cwd root":
        argv = [PYTHON, "myscript.py"]
    elif how == "script by absolute path, cwd elsewhere":
        argv, cwd = [PYTHON, str(root / "myscript.py")], tmp_path
    elif how == "-c, cwd root":
        argv = [PYTHON, "-c", SCRIPT]
    else:
        argv = [PYTHON, "-m", "myscript"]
    r = subprocess.run(argv, cwd=str(cwd), env=env, capture_output=True, text=True, timeout=60)
    _check(r, root)


def test_root_command_and_module_run_the_cli(checkout, tmp_path):
    root = checkout["root"]
    for argv, cwd in (([str(root / "looprig"), "--help"], tmp_path),
                      ([PYTHON, "-m", "looprig", "--help"], root),
                      ([PYTHON, str(root / "looprig.py"), "--help"], tmp_path)):
        r = subprocess.run(argv, cwd=str(cwd), env=_env(), capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and "usage: looprig" in r.stdout, (argv, r.stderr)
