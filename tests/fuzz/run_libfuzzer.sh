#!/usr/bin/env bash
# Runs the libFuzzer build of fuzz_commands for a while from the corpus:
#   tests/fuzz/run_libfuzzer.sh FUZZER CORPUS_DIR SECONDS [libFuzzer options...]
# New inputs go to a scratch directory (the committed corpus is only read);
# a crash leaves its reproducer in ./fuzz-artifacts/ (copy it into CORPUS_DIR
# as crash-<what> once fixed). Prints executions, coverage and the outcome.
set -uo pipefail
fuzzer=$1 corpus=$2 seconds=$3
shift 3
scratch=$(mktemp -d "${TMPDIR:-/tmp}/lrfuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
mkdir -p fuzz-artifacts
echo "libfuzzer: $fuzzer for ${seconds}s from $(ls "$corpus" | wc -l) corpus files (mode 0: command sequences, 1: hostile memory)"
ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1} \
"$fuzzer" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix=fuzz-artifacts/ \
  -timeout=10 -rss_limit_mb=4096 -error_exitcode=1 -timeout_exitcode=1 "$@" "$scratch" "$corpus" >"$scratch.log" 2>&1
rc=$?
[ $rc -eq 77 ] && rc=1  # meson reads 77 as "skipped"
grep -E "^#[0-9]+[[:space:]]+(INITED|DONE)|stat::number_of_executed_units|stat::peak_rss|ERROR|check failed|SUMMARY|Test unit written" "$scratch.log" | tail -20
if [ $rc -ne 0 ]; then
  echo "libfuzzer: FAILED (exit $rc); log tail:"
  tail -60 "$scratch.log"
else
  echo "libfuzzer: no crash, no failed check, no sanitizer report in ${seconds}s; $(ls "$scratch" | wc -l) new inputs (not kept)"
fi
rm -f "$scratch.log"
exit $rc
