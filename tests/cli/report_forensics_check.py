#!/usr/bin/env python3
"""Checks the forensics sections of a lineage report page against the store (helper of
report.sh; not a test itself).

usage: report_forensics_check.py PAGE.html STORE.h5 VERDICT.json [--expect SECTION=present|absent]...

For every pair drawn on the page, each forensics section (sketches, neurons, bytes, outliers,
stdcurves, tokens) must appear exactly when the pair's verdict JSON (`lineage verdict --json`)
or its token_mapped units in the store have that evidence, and show
its numbers: per-layer rows and p-values, counts, one figure per layer or role. --expect adds
what the scenario must show for the first pair. Prints one line per problem; exit 1 if any.
"""
import json
import sys
import xml.etree.ElementTree as ET

import h5py

X = "{http://www.w3.org/1999/xhtml}"
SVG = "{http://www.w3.org/2000/svg}svg"
problems = []


def check(ok, what):
    if not ok:
        problems.append(what)


def g(x):
    """C's %.2g (the report's p-value format); '–' for null."""
    return "–" if x is None else "%.2g" % x


def f3(x):
    return "–" if x is None else "%.3f" % x


def fitted(x):
    """The rotation's held-out cosine as the page shows it (NaN: no fit)."""
    return "not fitted" if x != x else "%.3f" % x


def text(e):
    return "".join(e.itertext()).strip()


def section(doc, sid):
    """The elements from the h3 with id sid to the next heading, in document order; None when absent."""
    out, inside = [], False
    for e in doc.iter():
        if e.tag in (X + "h2", X + "h3"):
            if inside:
                break
            inside = e.get("id") == sid
            continue
        if inside:
            out.append(e)
    return out if inside or out else None


def rows(elems, n=0):
    """Cell texts of the n-th table's body rows."""
    tables = [e for e in elems if e.tag == X + "table"]
    if len(tables) <= n:
        return []
    return [[text(td) for td in tr.findall(X + "td")] for tr in tables[n].iter(X + "tr") if tr.findall(X + "td")]


def plots(elems, family):
    return [e for e in elems if e.tag == SVG and e.get("data-family") == family]


def paragraphs(elems):
    return " ".join(text(e) for e in elems if e.tag == X + "p")


page, store = sys.argv[1], sys.argv[2]
verdict = json.load(open(sys.argv[3], encoding="utf-8"))
expect = dict(a.split("=") for flag, a in zip(sys.argv[4::2], sys.argv[5::2]) if flag == "--expect")
doc = ET.fromstring(open(page, encoding="utf-8").read().split("\n", 1)[1])
h5 = h5py.File(store, "r")
kinds = [k.decode() for k in h5["units/kind"][()]] if "units/kind" in h5 else []
seen = {}
for p in verdict.get("pairs", []):
    pid = "%d-%d" % (p["model_a"], p["model_b"])
    if doc.find(".//*[@id='pair-%s']" % pid) is None:
        continue

    # 1. Expert matching from sketches: one row and one matrix per layer, moved and p per layer.
    ms = p.get("expert_sketch_matching", [])
    s = section(doc, "sketches-" + pid)
    seen.setdefault("sketches", []).append(s is not None)
    check((s is not None) == bool(ms), f"{pid} sketches: section {s is not None}, {len(ms)} layers")
    if s is not None and ms:
        r = rows(s)
        check(len(r) == len(ms), f"{pid} sketches: {len(r)} rows for {len(ms)} layers")
        for row, m in zip(r, ms):
            moved = sum(1 for i, t in enumerate(m["suspect_to_other"]) if t >= 0 and t != i)
            want = [str(m["layer"]), str(m["in_place"]), str(moved), json.dumps(m["unmatched_other"]).replace(" ", "")]
            got = [row[0], row[2], row[3], row[5]]
            check(got == want, f"{pid} sketches layer {m['layer']}: {got} != {want}")
            check(row[9] == g(m["p_value"]), f"{pid} sketches layer {m['layer']}: p {row[9]} != {g(m['p_value'])}")
            if "router" in m:
                check(row[10].startswith(str(m["router"]["agreement"]) + " of "), f"{pid} router agreement {row[10]}")
        check(len(plots(s, "expert-sketch")) == len(ms), f"{pid} sketches: {len(plots(s, 'expert-sketch'))} matrices")

    # 2. Neuron matching: the counts, one row per MLP, one map per MLP role; against the same MLP
    #    ("neurons") and each expert against the other's dense MLP ("upcycling").
    for sid, field in (("neurons", "neuron_matching"), ("upcycling", "upcycling_neuron_matching")):
        nm = p.get(field, [])
        s = section(doc, sid + "-" + pid)
        seen.setdefault(sid, []).append(s is not None)
        check((s is not None) == bool(nm), f"{pid} {sid}: section {s is not None}, {len(nm)} MLPs")
        if s is not None and nm:
            matched = sum(m["matched"] for m in nm)
            permuted = sum(m["permuted"] for m in nm)
            want = f"{matched} of {len(nm)} MLPs matched, {permuted} of them permuted."
            check(want in paragraphs(s), f"{pid} {sid}: no '{want}' in '{paragraphs(s)}'")
            r = rows(s)
            check(len(r) == len(nm), f"{pid} {sid}: {len(r)} rows for {len(nm)} MLPs")
            for row, m in zip(r, nm):
                state = ("permuted" if m["permuted"] else "in place") if m["matched"] else "not matched"
                check(row[3] == state and row[8] == g(m["p_value"]), f"{pid} {sid} row {row} vs {state} {g(m['p_value'])}")
            check(len(plots(s, sid)) == len({m["role"] for m in nm}), f"{pid} {sid}: maps")

    # 3. Byte identity: only with identical tensors; the counts, the pairs by name, the moves.
    b = p.get("byte_identity", {})
    s = section(doc, "bytes-" + pid)
    seen.setdefault("bytes", []).append(s is not None)
    check((s is not None) == (b.get("identical_tensors", 0) > 0), f"{pid} bytes: section {s is not None}, {b.get('identical_tensors')}")
    if s is not None and b.get("identical_tensors", 0) > 0:
        want = (f"{b['identical_tensors']} tensors byte-identical, {b['renamed']} of them under another name; "
                f"{len(b['layer_moves'])} layer moves, {b['experts_moved']} experts moved; p (hash collision) "
                f"{g(b['p_value'])}.")
        check(want in paragraphs(s), f"{pid} bytes: no '{want}' in '{paragraphs(s)}'")
        r = rows(s)
        got = [(x[0], x[1], x[3]) for x in r]
        want = [(t["suspect_tensor"], t["other_tensor"], "same" if t["same_name"] else "renamed") for t in b["pairs"]]
        check(got == want, f"{pid} bytes pairs: {got[:3]} != {want[:3]}")
        moves = plots(s, "byte-moves")
        check(len(moves) == (1 if b["layer_moves"] else 0), f"{pid} bytes: {len(moves)} move maps")

    # 4. Outlier fingerprint: the overall numbers, a -log10 p chart, one row per layer.
    o = p.get("outlier_fingerprint")
    s = section(doc, "outliers-" + pid)
    seen.setdefault("outliers", []).append(s is not None)
    check((s is not None) == bool(o and o["layers"]), f"{pid} outliers: section {s is not None}")
    if s is not None and o:
        want = f"{o['matches']} of {o['trials']} outlier coordinates match"
        check(want in paragraphs(s) and ("p " + g(o["p_value"])) in paragraphs(s), f"{pid} outliers: {paragraphs(s)}")
        r = rows(s)
        check([(x[0], x[4]) for x in r] == [(str(l["layer"]), g(l["p_value"])) for l in o["layers"]],
              f"{pid} outliers per layer: {r}")
        check(len(plots(s, "outliers")) == 1, f"{pid} outliers: chart")

    # 5. Std curves: the statistics and one chart of two curves per role.
    c = p.get("std_curves")
    s = section(doc, "stdcurves-" + pid)
    seen.setdefault("stdcurves", []).append(s is not None)
    check((s is not None) == bool(c), f"{pid} std curves: section {s is not None}")
    if s is not None and c:
        for want in (f"r {f3(c['r'])}", f"r_detrended {f3(c['r_detrended'])}",
                     f"p_layer_shuffle {g(c['p_layer_shuffle'])}", f"p_controls {g(c.get('p_controls'))}"):
            check(want in paragraphs(s), f"{pid} std curves: no '{want}' in '{paragraphs(s)}'")
        charts = plots(s, "std-curves")
        check(sorted(e.get("data-role") for e in charts) == sorted(c["roles"]), f"{pid} std curves: charts")
        for e in charts:
            check(len([x for x in e.iter("{http://www.w3.org/2000/svg}path") if x.get("data-series")]) == 2,
                  f"{pid} std curves {e.get('data-role')}: two curves")

    # 6. Embeddings through tokens: one row per token_mapped unit, its numbers from the store.
    ids = [i for i, k in enumerate(kinds)
           if k == "token_mapped" and h5["units/model_a"][i] == p["model_a"] and h5["units/model_b"][i] == p["model_b"]]
    s = section(doc, "tokens-" + pid)
    seen.setdefault("tokens", []).append(s is not None)
    check((s is not None) == bool(ids), f"{pid} tokens: section {s is not None}, {len(ids)} units")
    if s is not None and ids:
        names = [n.decode() for n in h5["results/stat_names"][()]]
        stats = dict(zip(h5["results/unit_id"][()].tolist(), h5["results/stats"][()]))
        r = rows(s)
        check(len(r) == len(ids), f"{pid} tokens: {len(r)} rows for {len(ids)} units")
        want = sorted((f3(stats[i][names.index("mapped_same_id")]), f3(stats[i][names.index("cosine")]),
                       fitted(stats[i][names.index("rotation_cosine")])) for i in ids)
        got = sorted((x[2], x[3], x[6]) for x in r)
        check(got == want, f"{pid} tokens: {got} != {want}")
        check(len(plots(s, "token-rotation")) == len(ids), f"{pid} tokens: strips")

for name, state in expect.items():
    first = seen.get(name, [False])[0]
    check(first == (state == "present"), f"expected {name} {state} in the first pair")
check(seen, "no pair drawn")
print("\n".join(problems) if problems else "ok")
sys.exit(1 if problems else 0)
