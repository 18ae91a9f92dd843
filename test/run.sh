#!/usr/bin/env bash
# The project's one test command (`npm test`): makes sure the pinned MLflow virtual environments
# exist (scripts/setup-python.sh, idempotent) and so do shellcheck and systemd-analyze
# (scripts/setup-tools.sh, for the install tests) and infra/'s CDK dependencies (scripts/setup-infra.sh,
# for test/infra) and the OpenTelemetry Collector the tracing tests export to (scripts/setup-otelcol.sh),
# runs every test with bun (the whole suite in parallel shards: test/shards.py), and ends with the plain
# summary line `N passed, N failed` (also written to test-results/summary.txt).
# Extra arguments go to `bun test`, e.g. `npm test -- test/rules`.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

bash scripts/setup-python.sh || { echo "0 passed, 1 failed"; exit 1; }
bash scripts/setup-tools.sh || { echo "0 passed, 1 failed"; exit 1; }
bash scripts/setup-infra.sh || { echo "0 passed, 1 failed"; exit 1; }
bash scripts/setup-otelcol.sh >/dev/null || { echo "0 passed, 1 failed"; exit 1; }

mkdir -p test-results
rm -f test-results/junit*.xml test-results/shard-*

if [ "$#" -gt 0 ]; then
  # Arguments: one bun process, as given.
  ./node_modules/.bin/bun test --timeout 60000 --reporter=junit --reporter-outfile=test-results/junit.xml "$@"
  status=$?
else
  # The whole suite: the single-file builds once (support/build.ts uses them, instead of each
  # process building over the other's), then the test files in SHARDS parallel bun processes
  # (test/shards.py splits them by last known time). Each process's output goes to its log, printed
  # whole when it ends, so the two do not interleave.
  bash scripts/build.sh >/dev/null || { echo "0 passed, 1 failed"; exit 1; }
  export PROXY_TEST_PREBUILT=1
  shards=${TEST_SHARDS:-2}
  python3 test/shards.py "$shards" test-results || { echo "0 passed, 1 failed"; exit 1; }
  pids=()
  for i in $(seq 1 "$shards"); do
    mapfile -t files < "test-results/shard-$i.txt"
    ./node_modules/.bin/bun test --timeout 60000 --reporter=junit --reporter-outfile="test-results/junit-$i.xml" "${files[@]}" \
      > "test-results/shard-$i.log" 2>&1 &
    pids+=($!)
  done
  status=0
  for i in $(seq 1 "$shards"); do
    wait "${pids[$((i - 1))]}" || status=1
    echo "── shard $i ($(wc -l < "test-results/shard-$i.txt") files)"
    cat "test-results/shard-$i.log"
  done
fi

summary=$(python3 - test-results/junit*.xml <<'PY'
import sys
import xml.etree.ElementTree as ET
passed = failed = skipped = 0
for path in sys.argv[1:]:
    try:
        root = ET.parse(path).getroot()
    except Exception:
        failed += 1
        continue
    for case in root.iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        elif case.find("skipped") is not None:
            skipped += 1
        else:
            passed += 1
if len(sys.argv) < 2:
    failed += 1
print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
PY
)
# A run that crashed before reporting counts as a failure even if no test case says so.
if [ "$status" -ne 0 ] && [[ "$summary" == *" 0 failed"* ]]; then summary="${summary/ 0 failed/ 1 failed}"; fi
echo "$summary" > test-results/summary.txt
echo "$summary"
exit "$status"
