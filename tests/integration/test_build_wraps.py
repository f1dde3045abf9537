"""subprojects/*.wrap: meson's fallbacks for dependencies a distribution may lack.

- Every wrap is a well-formed WrapDB-style file (INI; [wrap-file] with
  directory, source_url, source_filename, a sha256 source_hash; patch files
  present; a [provide] section).
- Every ``dependency('X', fallback : ['X', 'X_dep'])`` of meson.build has
  ``subprojects/X.wrap`` whose [provide] maps X to that variable, at least fmt
  and doctest.
- ``meson setup`` with the system packages (Debian) uses no fallback, and with
  the fallback forced meson goes to the wrap (and, downloads being off as in
  CI, stops there instead of fetching).
No network is used.
"""
from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import lrharness as H

SUB = H.REPO / "subprojects"
SHA256 = re.compile(r"^[0-9a-f]{64}$")
FALLBACK = re.compile(r"dependency\(\s*'([^']+)'[^)]*?fallback\s*:\s*\[\s*'([^']+)'\s*,\s*'([^']+)'\s*\]", re.S)


def wraps() -> list[Path]:
    return sorted(SUB.glob("*.wrap"))


def parse(path: Path) -> configparser.ConfigParser:
    cp = configparser.ConfigParser(interpolation=None, strict=True)
    cp.read_string(path.read_text(), source=str(path))   # raises on duplicate keys/sections
    return cp


def fallbacks() -> dict[str, tuple[str, str]]:
    """dependency name -> (subproject, variable) from meson.build's fallback: lists."""
    text = (H.REPO / "meson.build").read_text()
    return {m.group(1): (m.group(2), m.group(3)) for m in FALLBACK.finditer(text)}


def test_meson_build_has_fallbacks_for_fmt_and_doctest():
    fb = fallbacks()
    assert {"fmt", "doctest"} <= set(fb), fb


@pytest.mark.parametrize("path", wraps(), ids=lambda p: p.name)
def test_wrap_is_well_formed(path):
    cp = parse(path)
    kinds = [s for s in cp.sections() if s.startswith("wrap-")]
    assert kinds == ["wrap-file"], f"{path.name}: one [wrap-file] section expected, got {cp.sections()}"
    w = cp["wrap-file"]
    for key in ("directory", "source_url", "source_filename", "source_hash"):
        assert w.get(key, "").strip(), f"{path.name}: {key} missing"
    assert SHA256.match(w["source_hash"]), f"{path.name}: source_hash is not a sha256"
    assert w["source_url"].startswith("https://"), w["source_url"]
    assert "/" not in w["source_filename"]
    # the archive's top directory is named after the version it downloads
    version = re.search(r"(\d+\.\d+\.\d+)", w["directory"]).group(1)
    assert version in w["source_url"] and version in w["source_filename"]
    if "source_fallback_url" in w:
        assert w["source_fallback_url"].startswith("https://")
    if "patch_directory" in w:   # meson build files laid over the sources, as the WrapDB does
        pf = SUB / "packagefiles" / w["patch_directory"] / "meson.build"
        assert pf.is_file(), pf
        m = re.search(r"project\(\s*'([^']+)'.*?version\s*:\s*'([^']+)'", pf.read_text(), re.S)
        assert m and m.group(2) == version, f"{pf}: project version differs from the wrap's {version}"
    if "patch_url" in w:
        assert w.get("patch_filename") and SHA256.match(w.get("patch_hash", "")), path.name
    assert cp.has_section("provide") and len(cp["provide"]) > 0, f"{path.name}: no [provide]"


@pytest.mark.parametrize("dep", sorted(fallbacks()))
def test_each_fallback_has_a_wrap_providing_it(dep):
    sub, var = fallbacks()[dep]
    path = SUB / f"{sub}.wrap"
    assert path.is_file(), f"meson.build falls back to subproject {sub!r} but {path} is missing"
    provide = parse(path)["provide"]
    assert provide.get(dep) == var, f"{path.name}: [provide] should say {dep} = {var}, has {dict(provide)}"
    if "patch_directory" in parse(path)["wrap-file"]:
        pf = SUB / "packagefiles" / parse(path)["wrap-file"]["patch_directory"] / "meson.build"
        assert re.search(r"\b%s\s*=\s*declare_dependency" % re.escape(var), pf.read_text()), \
            f"{pf} does not define {var}"


def _setup(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    bd = tmp_path / "b"
    r = subprocess.run(["meson", "setup", str(bd), "--wrap-mode=nodownload", *extra], cwd=str(H.REPO),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=180)
    shutil.rmtree(bd, ignore_errors=True)
    return r


def test_setup_with_system_packages_uses_no_fallback(tmp_path):
    before = sorted(p.name for p in SUB.iterdir())
    r = _setup(tmp_path)
    assert r.returncode == 0, r.stdout
    for dep in ("fmt", "doctest"):
        assert re.search(r"Run-time dependency %s found: YES" % dep, r.stdout), r.stdout
    assert "Executing subproject" not in r.stdout and "Subprojects" not in r.stdout, r.stdout
    # nothing was fetched or extracted into subprojects/
    after = sorted(p.name for p in SUB.iterdir() if p.name != "packagecache")
    assert after == [n for n in before if n != "packagecache"]


def test_forced_fallback_goes_to_the_wrap_and_downloads_stay_off(tmp_path):
    r = _setup(tmp_path, "--force-fallback-for=fmt,doctest")
    assert r.returncode != 0
    assert "Looking for a fallback subproject for the dependency fmt" in r.stdout, r.stdout
    assert "downloading is disabled" in r.stdout, r.stdout
