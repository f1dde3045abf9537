#!/usr/bin/env bash
# Installs the Debian 12 packages looprig needs to build, run and test, if any
# are missing. Uses sudo when not root. Safe to run again.
set -euo pipefail
packages=(
  # build
  meson ninja-build pkg-config g++ libjack-jackd2-dev libboost-dev librubberband-dev
  libsndfile1-dev libsamplerate0-dev libebur128-dev libfmt-dev doctest-dev liblo-dev nlohmann-json3-dev
  # run
  jackd2 python3 python3-cffi python3-numpy
  # GUI (looprig gui)
  python3-pyqt6 python3-pyqtgraph fonts-dejavu-core
  # test
  python3-pytest python3-jack-client python3-venv python3-setuptools python3-pip sox clang libclang-rt-14-dev python3-liblo
  python3-pytestqt xvfb xauth
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "looprig: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
