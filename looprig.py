"""Lets `python3 -m looprig` (and `import looprig`) work from the repository
root: the real package lives in pyclient/looprig. This shim puts pyclient/ on
sys.path and replaces itself with that package. Installed copies
(`pip install ./pyclient`) do not need it."""
import os
import sys

_pyclient = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pyclient")
# First on the path, even if it is there already behind the repository root
# (PYTHONPATH=pyclient): otherwise this shim would import itself again.
if _pyclient in sys.path:
    sys.path.remove(_pyclient)
sys.path.insert(0, _pyclient)
_shim = sys.modules.pop("looprig", None)
import looprig as _real  # noqa: E402  (the package, now first on the path)

if __name__ == "__main__":
    from looprig.cli import main

    sys.exit(main())
if _shim is not None:
    sys.modules["looprig"] = _real
