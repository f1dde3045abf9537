#!/usr/bin/python3
"""Sum the test cases of every suite meson ran (doctest and pytest report
their own counts in their output) and print one closing line:
"tests: N passed, M failed" (", K skipped" when any were).

Before it, the reports of the JACK suites' passing tests (pytest -rP: what
each hardening test tried and what survived), one line per printed line."""
import json
import re
import sys


def passes_report(out):
    """(test name, printed line) pairs from pytest's -rP "PASSES" section."""
    if "= PASSES =" not in out:
        return []
    section = out.split("= PASSES =", 1)[1]
    rows, name = [], None
    for raw in section.splitlines():
        line = raw.strip()
        if line.startswith("=") and "short test summary" in line:
            break
        head = re.fullmatch(r"_{3,} (.+?) _{3,}", line)
        if head:
            name = head.group(1)
        elif name and line and not re.match(r"(=|-){5,}|\d+ (passed|failed)", line):
            rows.append((name, raw.rstrip()))
    return rows


passed = failed = skipped = 0
suites_failed = []
reports = []
with open(sys.argv[1], encoding="utf-8") as log:
    for line in log:
        result = json.loads(line)
        out = result.get("stdout", "") or ""
        doctest = re.search(r"test cases:\s*(\d+) \|\s*(\d+) passed \|\s*(\d+) failed \|\s*(\d+) skipped", out)
        pytest_counts = {k: int(v) for v, k in re.findall(r"(\d+) (passed|failed|skipped|error|errors)\b", out.splitlines()[-1] if out.strip() else "")}
        rows = passes_report(out)
        if rows:
            reports.append((result.get("name"), rows))
        if doctest:
            passed += int(doctest.group(2))
            failed += int(doctest.group(3))
        elif pytest_counts:
            passed += pytest_counts.get("passed", 0)
            failed += pytest_counts.get("failed", 0) + pytest_counts.get("error", 0) + pytest_counts.get("errors", 0)
            skipped += pytest_counts.get("skipped", 0)
        elif result.get("result") in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif result.get("result") == "SKIP":
            skipped += 1
        else:
            failed += 1
        if result.get("result") not in ("OK", "SKIP", "EXPECTEDFAIL"):
            suites_failed.append(result.get("name"))
for suite, rows in reports:
    print(f"report of {suite} (what each test tried and what survived):")
    last = None
    for name, line in rows:
        if name != last:
            print(f"  {name}")
            last = name
        print(f"    {line}")
if suites_failed:
    print("failed suites: " + ", ".join(suites_failed))
print(f"tests: {passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
