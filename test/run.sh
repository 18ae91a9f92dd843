#!/usr/bin/env bash
# The project's one test command (`npm test`): makes sure the pinned MLflow virtual environments
# exist (scripts/setup-python.sh, idempotent) and so do shellcheck and systemd-analyze
# (scripts/setup-tools.sh, for the install tests) and infra/'s CDK dependencies (scripts/setup-infra.sh,
# for test/infra) and the OpenTelemetry Collector the tracing tests export to (scripts/setup-otelcol.sh),
# runs every test with bun, and ends with the plain
# summary line `N passed, N failed` (also written to test-results/summary.txt).
# Extra arguments go to `bun test`, e.g. `npm test -- test/rules`.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

bash scripts/setup-python.sh || { echo "0 passed, 1 failed"; exit 1; }
bash scripts/setup-tools.sh || { echo "0 passed, 1 failed"; exit 1; }
bash scripts/setup-infra.sh || { echo "0 passed, 1 failed"; exit 1; }
bash scripts/setup-otelcol.sh >/dev/null || { echo "0 passed, 1 failed"; exit 1; }

mkdir -p test-results
rm -f test-results/junit.xml
./node_modules/.bin/bun test --timeout 60000 --reporter=junit --reporter-outfile=test-results/junit.xml "$@"
status=$?

summary=$(python3 - test-results/junit.xml <<'PY'
import sys
import xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except Exception:
    print("0 passed, 1 failed")
    sys.exit()
cases = root.iter("testcase")
passed = failed = skipped = 0
for case in cases:
    if case.find("failure") is not None or case.find("error") is not None:
        failed += 1
    elif case.find("skipped") is not None:
        skipped += 1
    else:
        passed += 1
print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
PY
)
# A run that crashed before reporting counts as a failure even if no test case says so.
if [ "$status" -ne 0 ] && [[ "$summary" == *" 0 failed"* ]]; then summary="${summary/ 0 failed/ 1 failed}"; fi
echo "$summary" > test-results/summary.txt
echo "$summary"
exit "$status"
