#!/usr/bin/env bash
# Configures (once) and builds looprig into ./build.
# Downloads are off (--wrap-mode=nodownload): the Debian build uses the system
# packages, and CI has no network for the wraps in subprojects/.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f build/build.ninja ]; then
  meson setup build --buildtype=debugoptimized --wrap-mode=nodownload >/dev/null
elif ! /usr/bin/python3 -c '
import json, sys
opts = json.load(open("build/meson-info/intro-buildoptions.json"))
sys.exit(0 if any(o["name"] == "wrap_mode" and o["value"] == "nodownload" for o in opts) else 1)' 2>/dev/null; then
  # build/ configured before this rule (or by hand): same setting, kept from now on
  meson configure build -Dwrap_mode=nodownload >/dev/null
fi
# LOOPRIG_BUILD_VERBOSE=1 (./quickstart): show ninja's progress ([n/N] lines) instead of nothing.
if [ "${LOOPRIG_BUILD_VERBOSE:-0}" = 1 ]; then
  ninja -C build
else
  ninja -C build >/dev/null
fi
