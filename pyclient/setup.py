"""Build hook for ``pip install ./pyclient`` (the metadata is in pyproject.toml).

When the checkout around this directory has built ``liblooprig-shm`` (``../build``
from ``./run-tests``, ``tools/build.sh`` or ``meson setup build``; or the build
directory named by ``$LOOPRIG_BUILD_DIR``), the library is copied into the
package, beside ``__init__.py``, where the package looks first after
``$LOOPRIG_LIB``: the installed package then works without ``LOOPRIG_LIB``.
Without a built library the package is installed alone and looks for a
system-installed one (``meson install``) or ``$LOOPRIG_LIB``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = Path(__file__).resolve().parent
LIB_NAME = "liblooprig-shm.so"


def built_library():
    """The built library to bundle, or None: ``$LOOPRIG_BUILD_DIR/shm`` then ``../build/shm``."""
    dirs = []
    env = os.environ.get("LOOPRIG_BUILD_DIR")
    if env:
        dirs.append(Path(env) / "shm")
    dirs.append(HERE.parent / "build" / "shm")
    for d in dirs:
        for name in (LIB_NAME, LIB_NAME + ".0"):  # meson may make only the soname link
            p = d / name
            if p.exists():
                return p.resolve()  # the real file behind liblooprig-shm.so -> .so.0 -> .so.0.1.0
    return None


class BuildPyWithLibrary(build_py):
    def run(self):
        super().run()
        lib = built_library()
        if lib is None:
            print("looprig: no built %s found (../build/shm, $LOOPRIG_BUILD_DIR/shm): "
                  "installing the package without it" % LIB_NAME)
            return
        dest = Path(self.build_lib) / "looprig" / LIB_NAME
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(lib, dest)
        os.chmod(dest, 0o755)
        print("looprig: bundling %s as %s" % (lib, dest))


class LooprigDistribution(Distribution):
    def has_ext_modules(self):
        # A bundled shared library makes the wheel platform-specific.
        return built_library() is not None


setup(cmdclass={"build_py": BuildPyWithLibrary}, distclass=LooprigDistribution)
