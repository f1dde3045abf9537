"""cffi binding (ABI mode) of ``liblooprig-shm.so``.

The cdef is not written here: it is the text between the ``LR_CDEF_BEGIN`` and
``LR_CDEF_END`` markers of the two C headers ``shm_layout.h`` and
``shm_client.h``, so the segment layout is defined exactly once (in C).  The
headers ship inside the package (``looprig/include``); in a source checkout
they are symlinks to ``shm/include/looprig``.

Nothing is compiled: the library is opened with :func:`cffi.FFI.dlopen` on
first use (:func:`get_lib`).
"""

from __future__ import annotations

import ctypes.util
import os
import re
import threading
from pathlib import Path
from typing import Any, List, Optional, Tuple

import cffi

from .errors import LibraryNotFound

__all__ = [
    "ffi",
    "get_lib",
    "library_candidates",
    "header_paths",
    "cdef_source",
    "installed_dirs",
    "LIB_NAME",
    "SONAME",
]

LIB_NAME = "liblooprig-shm.so"
#: The library's soname (meson.build: looprig_shm_soversion). Installed
#: systems may have only this name (the unversioned .so is for linking).
SONAME = "liblooprig-shm.so.0"
HEADERS = ("shm_layout.h", "shm_client.h")

_PKG_DIR = Path(__file__).resolve().parent
_MARKERS = re.compile(r"/\*\s*LR_CDEF_BEGIN\s*\*/(.*?)/\*\s*LR_CDEF_END\s*\*/", re.S)


def repo_root() -> Optional[Path]:
    """Return the looprig source checkout this package runs from, if any.

    Returns
    -------
    pathlib.Path or None
        ``<repo>`` when this file is ``<repo>/pyclient/looprig/_ffi.py`` (the
        package is imported from the source tree), else ``None``.
    """
    # Do not resolve symlinks of the package dir itself beyond __file__: the
    # installed package in site-packages must never look like a checkout.
    pkg = Path(os.path.abspath(__file__)).parent
    if pkg.name == "looprig" and pkg.parent.name == "pyclient":
        root = pkg.parent.parent
        if (root / "shm" / "include" / "looprig").is_dir():
            return root
    return None


def installed_dirs(kind: str) -> List[Path]:
    """Where ``meson install`` put the engine (``"bin"``) or the library (``"lib"``).

    Only a meson-installed package knows (its generated ``looprig/_paths.py``);
    for a checkout or a pip install this is empty.

    Parameters
    ----------
    kind : str
        ``"bin"`` or ``"lib"``.

    Returns
    -------
    list of pathlib.Path
        First the directory relative to this installed package (right for a
        tree installed under ``DESTDIR`` or moved as a whole), then the
        configured absolute one when it differs.
    """
    try:
        from . import _paths  # type: ignore[attr-defined]
    except ImportError:
        return []
    rel = getattr(_paths, "%sDIR_FROM_PYTHONDIR" % kind.upper())
    absolute = Path(getattr(_paths, "%sDIR" % kind.upper()))
    here = Path(os.path.normpath(os.path.join(os.path.abspath(__file__), os.pardir, os.pardir, rel)))
    return [here] if here == absolute else [here, absolute]


def header_paths() -> Tuple[Path, Path]:
    """Locate ``shm_layout.h`` and ``shm_client.h``.

    Looks in the package's ``include`` directory first, then in the source
    checkout's ``shm/include/looprig``.

    Returns
    -------
    tuple of pathlib.Path
        Paths of the layout header and the client header.

    Raises
    ------
    FileNotFoundError
        If the headers are found nowhere.
    """
    dirs: List[Path] = [_PKG_DIR / "include"]
    root = repo_root()
    if root is not None:
        dirs.append(root / "shm" / "include" / "looprig")
    for d in dirs:
        paths = tuple(d / h for h in HEADERS)
        if all(p.is_file() for p in paths):
            return paths  # type: ignore[return-value]
    raise FileNotFoundError(
        "looprig: C headers %s not found in %s" % (", ".join(HEADERS), ", ".join(map(str, dirs)))
    )


def cdef_source() -> str:
    """Return the cffi cdef: the marked blocks of both headers, concatenated.

    Returns
    -------
    str
        The cdef text.

    Raises
    ------
    RuntimeError
        If a header lacks the ``LR_CDEF_BEGIN``/``LR_CDEF_END`` markers.
    """
    parts = []
    for path in header_paths():
        text = path.read_text(encoding="utf-8")
        m = _MARKERS.search(text)
        if m is None:
            raise RuntimeError("looprig: no LR_CDEF_BEGIN/LR_CDEF_END block in %s" % path)
        parts.append("/* from %s */\n%s" % (path.name, m.group(1)))
    return "\n".join(parts)


ffi = cffi.FFI()
ffi.cdef(cdef_source())

_lib: Any = None
_lib_path: Optional[str] = None
_lock = threading.Lock()


def library_candidates() -> List[Tuple[str, str]]:
    """List the places the shared library is looked for, in order.

    Returns
    -------
    list of (str, str)
        ``(description, path_or_name)`` pairs: ``$LOOPRIG_LIB``, beside the
        package, the source checkout's build directory, the library dir of
        a meson install (this package's), then the system loader
        (``ldconfig`` / ``LD_LIBRARY_PATH``, soname then unversioned name).
    """
    cands: List[Tuple[str, str]] = []
    env = os.environ.get("LOOPRIG_LIB")
    if env:
        cands.append(("$LOOPRIG_LIB", env))
    cands.append(("beside the package", str(_PKG_DIR / LIB_NAME)))
    root = repo_root()
    if root is not None:
        # meson makes the soname link; the unversioned one only on some versions
        cands.append(("repository build dir", str(root / "build" / "shm" / SONAME)))
        cands.append(("repository build dir", str(root / "build" / "shm" / LIB_NAME)))
    for d in installed_dirs("lib"):
        cands.append(("installed library dir", str(d / SONAME)))
    cands.append(("system loader", SONAME))
    cands.append(("system loader", LIB_NAME))
    found = ctypes.util.find_library("looprig-shm")
    if found and found not in (LIB_NAME, SONAME):
        cands.append(("system loader (find_library)", found))
    return cands


def get_lib() -> Any:
    """Open ``liblooprig-shm.so`` (once) and return the cffi library object.

    Returns
    -------
    cffi library
        Functions and constants of the C ABI.

    Raises
    ------
    LibraryNotFound
        If the library cannot be opened anywhere; the message lists every
        place that was tried and why it failed.
    """
    global _lib, _lib_path
    if _lib is not None:
        return _lib
    with _lock:
        if _lib is not None:
            return _lib
        tried = []
        env_set = bool(os.environ.get("LOOPRIG_LIB"))
        for desc, cand in library_candidates():
            is_path = "/" in cand
            if is_path and not os.path.exists(cand):
                tried.append("  %s: %s (does not exist)" % (desc, cand))
                if desc == "$LOOPRIG_LIB":
                    # An explicit path that is wrong is an error, not a hint.
                    break
                continue
            try:
                lib = ffi.dlopen(cand)
            except OSError as e:
                tried.append("  %s: %s (%s)" % (desc, cand, e))
                if desc == "$LOOPRIG_LIB":
                    break
                continue
            _lib, _lib_path = lib, cand
            return lib
        hint = _not_found_hint(env_set)
        raise LibraryNotFound(
            "looprig: cannot load %s; looked in:\n%s\n%s" % (LIB_NAME, "\n".join(tried), hint)
        )


def _not_found_hint(env_set: bool) -> str:
    """What to do when the library was found nowhere (part of LibraryNotFound)."""
    if env_set:
        return "LOOPRIG_LIB is set but does not name a loadable library (unset it, or give the full path of %s)" % LIB_NAME
    root = repo_root()
    if root is not None:
        if (root / "build" / "shm" / LIB_NAME).exists():
            return ("build/shm/%s is there but did not load (the reason is above): rebuild it "
                    "(tools/build.sh), or set LOOPRIG_LIB to a library that loads" % LIB_NAME)
        return ("not built yet: run ./run-tests or tools/build.sh in %s (builds build/shm/%s); "
                "if it is built elsewhere, set LOOPRIG_LIB to its full path" % (root, LIB_NAME))
    return ("if the library is installed somewhere else, set LOOPRIG_LIB to its full path; otherwise "
            "install it (meson install from a checkout, see README), or build the checkout "
            "(./run-tests or tools/build.sh) before `pip install ./pyclient`, which then puts %s "
            "beside the package" % LIB_NAME)


def lib_path() -> Optional[str]:
    """Return the path or name the library was opened from (after :func:`get_lib`)."""
    return _lib_path
