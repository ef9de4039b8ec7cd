#!/usr/bin/env python3
"""Writes a stand-in config.json for a case's parent or control from its catalogue entry.

    scripts/case_config.py catalog/<org>__<model>.yaml cases/<case>/<parents|controls>/<org>__<model>

A case folder names models whose config.json is not in this repository. Planning a case needs a
config per folder, so the folder gets the catalogue entry's `config` with a `_comment` saying where
the values come from (the entry's `source`, its per-key `sources` and its unconfirmed keys). It is a
stand-in: `lineage fetch` of the published model replaces it with the real file.
"""
import json
import os
import sys

import yaml


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    entry_path, folder = sys.argv[1:]
    with open(entry_path, encoding="utf-8") as f:
        entry = yaml.safe_load(f)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    comment = (f"Stand-in written by scripts/case_config.py from {os.path.relpath(os.path.abspath(entry_path), root)} "
               f"(not the published config.json; `lineage fetch` of {entry['model']} replaces it). Source: {entry['source']}.")
    if entry.get("sources"):
        comment += " Per-key sources: " + "; ".join(f"{k}: {v}" for k, v in entry["sources"].items()) + "."
    if entry.get("unconfirmed"):
        comment += " Unconfirmed: " + ", ".join(entry["unconfirmed"]) + "."
    if entry.get("notes"):
        comment += " Notes: " + entry["notes"]
    config = {"_comment": comment}
    config.update(entry["config"])
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
