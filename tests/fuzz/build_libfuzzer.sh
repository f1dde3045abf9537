#!/usr/bin/env bash
# Builds the libFuzzer binary of fuzz_commands.cpp with clang:
#   tests/fuzz/build_libfuzzer.sh OUTPUT CLANGXX --include DIR... --plain SOURCE... --covered SOURCE...
# meson passes the lists (tests/meson.build: the sources and include
# directories engine/ and shm/ export), so this script names no component's
# files; by hand: ninja -C build tests/fuzz_commands. The --covered sources
# (the fuzz target, the audio core and its units, command, rings, segment,
# params) get coverage + ASan + UBSan; the --plain ones (the per-sample DSP:
# filters, strip, delay, reverb) only ASan + UBSan: covering their inner
# loops would cost most of the time and teach the fuzzer nothing about
# commands. Used by meson (test 'libfuzzer', suite fuzz).
set -euo pipefail
out=$(realpath -m "$1")
cxx=$2
shift 2
incs=() plain=() covered=() list=
for arg in "$@"; do
  case $arg in
    --include|--plain|--covered) list=$arg ;;
    *)
      path=$(realpath "$arg")  # before the cd below: meson gives paths relative to the build directory
      case $list in
        --include) incs+=(-I"$path") ;;
        --plain) plain+=("$path") ;;
        --covered) covered+=("$path") ;;
        *) echo "build_libfuzzer.sh: $arg: say --include, --plain or --covered first" >&2; exit 2 ;;
      esac ;;
  esac
done
if [ ${#covered[@]} -eq 0 ]; then
  echo "build_libfuzzer.sh: no sources given (build it with: ninja -C build tests/fuzz_commands)" >&2
  exit 2
fi
common=(-std=c++20 -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
        "${incs[@]}" -w)
work=$(mktemp -d "${TMPDIR:-/tmp}/lrfuzz-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
pids=()
for f in "${plain[@]}"; do
  "$cxx" "${common[@]}" -c "$f" -o "$(basename "$f" .cpp).o" & pids+=($!)
done
for f in "${covered[@]}"; do
  "$cxx" "${common[@]}" -fsanitize=fuzzer-no-link -c "$f" -o "$(basename "$f" .cpp).o" & pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
"$cxx" -fsanitize=fuzzer,address,undefined ./*.o -lrt -lpthread -o "$out"
