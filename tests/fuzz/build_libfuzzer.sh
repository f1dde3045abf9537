#!/usr/bin/env bash
# Builds the libFuzzer binary of fuzz_commands.cpp with clang:
#   tests/fuzz/build_libfuzzer.sh OUTPUT [CLANGXX]
# The command path (fuzz target, the audio core's units, command, rings, segment, params)
# gets coverage + ASan + UBSan; the per-sample DSP (filters, strip, delay,
# reverb) only ASan + UBSan: covering its inner loops would cost most of the
# time and teach the fuzzer nothing about commands. Used by meson (test
# 'libfuzzer', suite fuzz) and by hand (tests/fuzz/README.md).
set -euo pipefail
out=$(realpath -m "$1")
cxx=${2:-clang++}
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/lrfuzz-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
common=(-std=c++20 -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
        -I"$root/engine/src" -I"$root/engine/src/rt" -I"$root/shm/include" -I"$root/shm/src" -w)
cd "$work"
pids=()
for f in filters channel_strip stereo_delay reverb; do
  "$cxx" "${common[@]}" -c "$root/engine/src/rt/$f.cpp" -o "$f.o" & pids+=($!)
done
# The audio core's units: every engine/src/rt/*.cpp but the DSP above and the RT trap.
core=()
for f in "$root"/engine/src/rt/*.cpp; do
  case $(basename "$f" .cpp) in filters|channel_strip|stereo_delay|reverb|rt_trap|rt_guard_off) ;; *) core+=("engine/src/rt/$(basename "$f" .cpp)") ;; esac
done
for f in "${core[@]}" engine/src/worker_queues shm/src/segment shm/src/params tests/fuzz/fuzz_commands; do
  "$cxx" "${common[@]}" -fsanitize=fuzzer-no-link -c "$root/$f.cpp" -o "$(basename "$f").o" & pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
"$cxx" -fsanitize=fuzzer,address,undefined ./*.o -lrt -lpthread -o "$out"
