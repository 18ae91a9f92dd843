#!/usr/bin/env python3
# Splits the test files into N shards of about equal running time, for test/run.sh, which runs the
# shards as parallel `bun test` processes: most of the suite waits on real servers (MLflow, the
# stand-ins, Chromium), so two processes on two cores take about half the time of one.
#
#   python3 test/shards.py N OUTDIR             writes OUTDIR/shard-1.txt … shard-N.txt (one path per line)
#   python3 test/shards.py --update JUNIT.xml…  rewrites test/shard-weights.tsv from a whole run's timings
#
# Weights are seconds per file from a previous whole run (test/shard-weights.tsv); a file not in it
# yet counts as DEFAULT_SECONDS. Files are dealt longest first to the shard with the least so far.
# The files of test/infra/ stay in one shard: they share infra/'s cdk.out and node_modules.
import os
import sys
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
WEIGHTS = os.path.join(HERE, "shard-weights.tsv")
DEFAULT_SECONDS = 5.0


def test_files():
    found = []
    for root, dirs, files in os.walk(HERE):
        dirs[:] = sorted(d for d in dirs if d != "node_modules")
        for name in sorted(files):
            if name.endswith(".test.ts"):
                found.append(os.path.relpath(os.path.join(root, name), REPO))
    return found


def read_weights():
    weights = {}
    if os.path.exists(WEIGHTS):
        for line in open(WEIGHTS):
            if line.strip() and not line.startswith("#"):
                seconds, path = line.rstrip("\n").split("\t")
                weights[path] = float(seconds)
    return weights


def unit_of(path):
    return "test/infra/" if path.startswith("test/infra/") else path


def split(n, outdir):
    weights = read_weights()
    units = {}
    for path in test_files():
        units.setdefault(unit_of(path), []).append(path)
    cost = {unit: sum(weights.get(p, DEFAULT_SECONDS) for p in paths) for unit, paths in units.items()}
    shards = [[] for _ in range(n)]
    totals = [0.0] * n
    for unit in sorted(units, key=lambda u: (-cost[u], u)):
        i = totals.index(min(totals))
        shards[i].extend(units[unit])
        totals[i] += cost[unit]
    os.makedirs(outdir, exist_ok=True)
    for i, paths in enumerate(shards, 1):
        with open(os.path.join(outdir, f"shard-{i}.txt"), "w") as out:
            out.write("".join(f"./{p}\n" for p in sorted(paths)))
        print(f"shard {i}: {len(paths)} files, about {totals[i - 1]:.0f} s")


def update(junits):
    weights = {}
    for suite in (s for junit in junits for s in ET.parse(junit).getroot()):
        path = suite.get("file")
        if suite.tag == "testsuite" and path:
            weights[path] = max(weights.get(path, 0.0), float(suite.get("time") or 0))
    with open(WEIGHTS, "w") as out:
        out.write("# seconds\tfile: one whole run's time per test file (python3 test/shards.py --update test-results/junit*.xml)\n")
        for path in sorted(weights):
            out.write(f"{weights[path]:.1f}\t{path}\n")


if __name__ == "__main__":
    if sys.argv[1] == "--update":
        update(sys.argv[2:])
    else:
        split(int(sys.argv[1]), sys.argv[2])
