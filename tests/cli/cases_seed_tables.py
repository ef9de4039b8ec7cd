#!/usr/bin/env python3
"""Checks cases/*/seed-table.tsv against `lineage arch` (called by lineage_cases.sh).

Every row: the value lineage prints for the key must equal the table's `arch` column. Rows whose status
says the seed value was checked (seed, config, catalogue) must agree with the seed's value; seed-wrong
rows must not. Prose and stated values are never compared. Usage: cases_seed_tables.py LINEAGE REPO
"""
import os
import re
import subprocess
import sys

lineage, repo = sys.argv[1:3]
cache = {}


def arch(*configs):
    if configs not in cache:
        run = subprocess.run([lineage, "arch", *configs], capture_output=True, text=True)
        if run.returncode != 0:
            sys.exit(f"FAIL: lineage arch {' '.join(configs)}: exit {run.returncode}: {run.stderr}")
        cache[configs] = run.stdout
    return cache[configs]


def printed(case_dir, model, config, key):
    if model == "pair":
        out = arch(os.path.join(case_dir, "suspect/config.json"), os.path.join(case_dir, config))
        m = re.search(r"^  A–B: (.*?); \d+/\d+ of all comparable keys equal$", out, re.M)
        return m.group(1) if m else None
    out = arch(os.path.join(case_dir, config))
    if key.startswith("tower "):
        m = re.search(r"^  %s: model_type (\S+?),? " % re.escape(key), out, re.M)
        return m.group(1) if m else "-"
    m = re.search(r"^  %s +(.*?)\s*$" % re.escape(key), out, re.M)
    return m.group(1) if m else None


def agrees(seed, value):
    # The seeds' words for "no such value": N/A (no dense MLP), LoRA (MLA has no kv heads).
    if seed in ("N/A", "LoRA"):
        return value == "-"
    return seed == value or value.startswith(seed + " ") or seed in value


failures, rows, checked = [], 0, 0
cases = sorted(d for d in os.listdir(os.path.join(repo, "cases")) if os.path.isdir(os.path.join(repo, "cases", d)))
for case in cases:
    case_dir = os.path.join(repo, "cases", case)
    path = os.path.join(case_dir, "seed-table.tsv")
    if not os.path.exists(path):
        failures.append(f"{case}: no seed-table.tsv")
        continue
    lines = [l for l in open(path, encoding="utf-8").read().splitlines() if l and not l.startswith("#")]
    assert lines[0].split("\t") == ["model", "config", "key", "seed", "arch", "status", "source"], lines[0]
    for line in lines[1:]:
        model, config, key, seed, expected, status, source = line.split("\t")
        rows += 1
        if not source:
            failures.append(f"{case}: {model} {key}: no source")
        value = printed(case_dir, model, config, key)
        if value != expected:
            failures.append(f"{case}: {model} {key}: arch prints {value!r}, the table says {expected!r}")
        if status in ("seed", "config", "catalogue"):
            checked += 1
            if not agrees(seed, expected):
                failures.append(f"{case}: {model} {key}: status {status} but seed {seed!r} != arch {expected!r}")
        elif status == "seed-wrong":
            checked += 1
            if agrees(seed, expected):
                failures.append(f"{case}: {model} {key}: marked seed-wrong but seed {seed!r} agrees with {expected!r}")
        elif status not in ("seed-count", "approx", "note", "stated", "prose", "not-in-seed"):
            failures.append(f"{case}: {model} {key}: unknown status {status!r}")
if failures:
    sys.exit("FAIL: seed tables:\n  " + "\n  ".join(failures))
print(f"seed tables: {rows} rows in {len(cases)} cases, {checked} seed values checked")
