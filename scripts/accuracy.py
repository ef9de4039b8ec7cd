#!/usr/bin/env python3
"""Helper of scripts/accuracy.sh: reads a labelled folder's labels.yaml and turns the verdicts of
`lineage verdict --json` into the accuracy scoreboard (terminal text and Markdown).

  accuracy.py pairs DIR                 validate DIR/labels.yaml; print "model<TAB>reference" per pair
  accuracy.py one WORK MODEL REFERENCE  one pair's result as a short line (progress output)
  accuracy.py report DIR WORK --out MD  the scoreboard (environment: ACC_* facts about the run)

labels.yaml is read with PyYAML when it is installed, otherwise with the small block-YAML reader
below (mappings, block lists, flow lists, quoted and plain scalars, comments), which is all the
labels format uses. Exit codes: 0 ok, 2 usage, 3 malformed folder.
"""
import json
import os
import re
import sys

RELATIONS = ("identical", "derived", "partial_reuse", "independent")
GOT = ("identical", "derived", "partial_reuse", "independent", "inconclusive", "error")
ACCUSING = ("identical", "derived", "partial_reuse")
# The names a plain p-value goes by (shown as "p"); P_KEY finds every p-value, these among them.
PLAIN_P_KEYS = ("p", "p_value", "pvalue")
P_KEY = re.compile(r"^(p|pvalue|p_value|p_.+|.+_p_value|.+_pvalue|.+_p)$", re.IGNORECASE)


class Malformed(Exception):
    pass


# ----------------------------------------------------------------------------------------------
# A small reader for the block YAML of labels.yaml (used when PyYAML is not installed).

def _strip_comment(line):
    quote = None
    for i, c in enumerate(line):
        if quote:
            if c == "\\" and quote == '"':
                continue
            if c == quote:
                quote = None
        elif c in "\"'":
            quote = c
        elif c == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i]
    return line


def _split_top(text, sep):
    """Splits at sep outside quotes and brackets."""
    parts, depth, quote, cur = [], 0, None, ""
    for c in text:
        if quote:
            cur += c
            if c == quote:
                quote = None
            continue
        if c in "\"'":
            quote = c
        elif c in "[{":
            depth += 1
        elif c in "]}":
            depth -= 1
        if c == sep and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += c
    parts.append(cur)
    return parts


def _scalar(text, where):
    t = text.strip()
    if t.startswith('"'):
        if not t.endswith('"') or len(t) < 2:
            raise Malformed(f"{where}: unterminated string")
        try:
            return json.loads(t)
        except ValueError:
            return t[1:-1]
    if t.startswith("'"):
        if not t.endswith("'") or len(t) < 2:
            raise Malformed(f"{where}: unterminated string")
        return t[1:-1].replace("''", "'")
    if t.startswith("["):
        if not t.endswith("]"):
            raise Malformed(f"{where}: unterminated flow list")
        inner = t[1:-1].strip()
        return [] if not inner else [_scalar(p, where) for p in _split_top(inner, ",")]
    if t.startswith("{"):
        if not t.endswith("}"):
            raise Malformed(f"{where}: unterminated flow mapping")
        out = {}
        for p in _split_top(t[1:-1], ","):
            if p.strip():
                k, _, v = p.partition(":")
                out[_scalar(k, where)] = _scalar(v, where)
        return out
    if t in ("", "~", "null", "Null", "NULL"):
        return None
    if t in ("true", "True", "TRUE"):
        return True
    if t in ("false", "False", "FALSE"):
        return False
    try:
        return int(t)
    except ValueError:
        pass
    try:
        return float(t)
    except ValueError:
        return t


def _key_value(text):
    """'key: value' -> (key, value text) or None when the line is not a mapping entry."""
    parts = _split_top(text, ":")
    if len(parts) < 2:
        return None
    # the first ':' outside quotes followed by a space or the end of the line
    acc = parts[0]
    for i in range(1, len(parts)):
        rest = ":".join(parts[i:])
        if rest == "" or rest[0] in " \t":
            return acc.strip(), rest.strip()
        acc += ":" + parts[i]
    return None


def load_block_yaml(text, name):
    lines = []
    for n, raw in enumerate(text.splitlines(), 1):
        if raw.strip() in ("---", "...") or raw.lstrip().startswith("%"):
            continue
        s = _strip_comment(raw).rstrip()
        if not s.strip():
            continue
        if "\t" in s[: len(s) - len(s.lstrip())]:
            raise Malformed(f"{name}:{n}: tab in indentation")
        lines.append([len(s) - len(s.lstrip()), s.strip(), n])

    def is_item(t):
        return t == "-" or t.startswith("- ")

    def block(i, indent):
        if is_item(lines[i][1]):
            return seq(i, indent)
        return mapping(i, indent)

    def value_after(i, indent, rest, where):
        """Value of a key whose text after ':' is rest; the key's line is i-1."""
        if rest:
            return _scalar(rest, where), i
        if i < len(lines) and (lines[i][0] > indent or (lines[i][0] == indent and is_item(lines[i][1]))):
            return block(i, lines[i][0])
        return None, i

    def mapping(i, indent):
        out = {}
        while i < len(lines) and lines[i][0] == indent and not is_item(lines[i][1]):
            _, t, n = lines[i]
            kv = _key_value(t)
            if kv is None:
                raise Malformed(f"{name}:{n}: expected 'key: value', got '{t}'")
            key = _scalar(kv[0], f"{name}:{n}")
            if key in out:
                raise Malformed(f"{name}:{n}: duplicate key '{key}'")
            out[key], i = value_after(i + 1, indent, kv[1], f"{name}:{n}")
        if i < len(lines) and lines[i][0] > indent:
            raise Malformed(f"{name}:{lines[i][2]}: unexpected indentation")
        return out, i

    def seq(i, indent):
        out = []
        while i < len(lines) and lines[i][0] == indent and is_item(lines[i][1]):
            _, t, n = lines[i]
            body = t[1:].strip()
            if not body:
                if i + 1 < len(lines) and lines[i + 1][0] > indent:
                    v, i = block(i + 1, lines[i + 1][0])
                else:
                    v, i = None, i + 1
                out.append(v)
            elif _key_value(body) is not None and not body.startswith(("[", "{", '"', "'")):
                # "- key: value" opens a mapping whose keys sit where 'key' starts
                lines[i] = [indent + (len(t) - len(t[1:].lstrip())), body, n]
                v, i = mapping(i, lines[i][0])
                out.append(v)
            else:
                out.append(_scalar(body, f"{name}:{n}"))
                i += 1
        return out, i

    if not lines:
        return None
    value, i = block(0, lines[0][0])
    if i != len(lines):
        raise Malformed(f"{name}:{lines[i][2]}: unexpected indentation")
    return value


def load_labels(folder, force_builtin=False):
    path = os.path.join(folder, "labels.yaml")
    if not os.path.isfile(path):
        raise Malformed(f"{path}: no such file (a labelled folder has labels.yaml beside the model folders)")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    doc = None
    if not force_builtin:
        try:
            import yaml  # PyYAML, when installed
        except ImportError:
            yaml = None
        if yaml is not None:
            try:
                doc = yaml.safe_load(text)
            except yaml.YAMLError as e:
                raise Malformed(f"{path}: not valid YAML: {str(e).splitlines()[0]}")
    if doc is None:
        doc = load_block_yaml(text, path)
    return path, doc


def labelled_pairs(folder, force_builtin=False):
    """Every labelled pair in file order (key pairs first), validated; raises Malformed."""
    path, doc = load_labels(folder, force_builtin)
    if not isinstance(doc, dict):
        raise Malformed(f"{path}: expected a mapping with key_pairs and all_other_pairs")
    problems, pairs, seen = [], [], set()
    for section in ("key_pairs", "all_other_pairs"):
        entries = doc.get(section)
        if entries is None:
            continue
        if not isinstance(entries, list):
            problems.append(f"{section}: expected a list of pairs")
            continue
        for i, e in enumerate(entries):
            where = f"{section}[{i}]"
            if not isinstance(e, dict):
                problems.append(f"{where}: expected a mapping with model, reference, relation")
                continue
            missing = [k for k in ("model", "reference", "relation") if not isinstance(e.get(k), str) or not e.get(k)]
            if missing:
                problems.append(f"{where}: missing or not a string: {', '.join(missing)}")
                continue
            rel, kind = e["relation"], e.get("kind")
            if rel not in RELATIONS:
                problems.append(f"{where}: relation '{rel}' is not one of {' | '.join(RELATIONS)}")
            if kind is not None and not (isinstance(kind, str) or
                                         (isinstance(kind, list) and kind and all(isinstance(k, str) for k in kind))):
                problems.append(f"{where}: kind must be a string or a list of strings")
            if e["model"] == e["reference"]:
                problems.append(f"{where}: model and reference are both '{e['model']}'")
            if (e["model"], e["reference"]) in seen:
                problems.append(f"{where}: pair {e['model']} / {e['reference']} is labelled twice")
            seen.add((e["model"], e["reference"]))
            for m in (e["model"], e["reference"]):
                if "/" in m or m in (".", "..") or "\t" in m:
                    problems.append(f"{where}: '{m}' must be a folder name inside {folder}")
                elif not os.path.isdir(os.path.join(folder, m)):
                    problems.append(f"{where}: model folder {os.path.join(folder, m)} does not exist")
            sibling = rel == "derived" and kind == "common_ancestor"
            pairs.append({"section": section, "model": e["model"], "reference": e["reference"], "relation": rel,
                          "kind": kind, "sibling": sibling,
                          "expected_row": "derived (siblings)" if sibling else rel})
    if "key_pairs" not in doc and "all_other_pairs" not in doc:
        problems.append("neither key_pairs nor all_other_pairs is present")
    elif not pairs and not problems:
        problems.append("no labelled pairs")
    if problems:
        raise Malformed(f"{path}: " + "; ".join(dict.fromkeys(problems)))
    return pairs


# ----------------------------------------------------------------------------------------------
# One pair's result from the work folder (written by accuracy.sh).

def _read(path, default=""):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return default


def _one_line(text, rc, what):
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    errors = [l for l in lines if l.startswith("lineage: error") or l.startswith("lineage:")]
    msg = errors[0] if errors else (lines[-1] if lines else "")
    if rc in (124, 137) and not errors:
        msg = "timed out (--timeout)"
    return f"{what} exit {rc}: {msg}" if msg else f"{what} exit {rc}"


def find_p_values(obj, prefix=""):
    """Every number (or null) stored under a key named like a p-value, as (path, value)."""
    found = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(k, str) and P_KEY.match(k) and (v is None or isinstance(v, (int, float))) \
                    and not isinstance(v, bool):
                found.append((prefix + k, v))
            elif isinstance(v, (dict, list)):
                found += find_p_values(v, prefix + k + ".")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            name = v.get("component") if isinstance(v, dict) and isinstance(v.get("component"), str) else str(i)
            found += find_p_values(v, prefix + name + ".")
    return found


def pair_result(work, model, reference):
    base = os.path.join(work, "logs", f"{model}__{reference}")
    r = {"got": "error", "got_kind": "", "message": "", "reason": "", "p_overall": [], "p_components": [],
         "seconds": None}
    try:
        r["seconds"] = float(_read(base + ".seconds", "").strip())
    except ValueError:
        pass
    rc_text = _read(base + ".compare.rc", "").strip()
    if not rc_text:
        r["message"] = "not run"
        return r
    rc = int(rc_text)
    if rc != 0:
        r["message"] = _one_line(_read(base + ".compare.err") + "\n" + _read(base + ".compare.out"), rc, "compare")
        return r
    vrc = int(_read(base + ".verdict.rc", "1").strip() or 1)
    if vrc != 0:
        r["message"] = _one_line(_read(base + ".verdict.err"), vrc, "verdict")
        return r
    try:
        doc = json.loads(_read(base + ".verdict.json"))
    except ValueError as e:
        r["message"] = f"verdict --json: unreadable JSON ({e})"
        return r
    pairs = doc.get("pairs") or []
    chosen = [p for p in pairs if p.get("model_a") == 0 and p.get("other_label") == "parent"] or pairs
    if not chosen:
        r["message"] = "verdict --json: no pair in the store"
        return r
    p = chosen[0]
    overall = p.get("overall")
    if overall not in GOT or overall == "error":
        r["message"] = f"verdict --json: unknown overall class {overall!r}"
        return r
    r["got"], r["got_kind"], r["reason"] = overall, p.get("kind") or "", p.get("reason") or ""
    top = {k: v for k, v in p.items() if k != "components"}
    r["p_overall"] = find_p_values(top)
    r["p_components"] = find_p_values({"components": p.get("components") or []})
    r["p_components"] = [(k[len("components."):], v) for k, v in r["p_components"]]
    return r


# ----------------------------------------------------------------------------------------------
# The scoreboard.

def fmt_kind(kind):
    if kind is None or kind == "":
        return ""
    if isinstance(kind, list):
        return " → ".join(kind)
    return str(kind)


def fmt_p(v):
    return "-" if v is None else f"{v:.2g}"


def fmt_ps(ps):
    """[(key, value)] -> "3.9e-173" for a lone p_value, else "p=… fisher=…"."""
    if len(ps) == 1 and ps[0][0] in PLAIN_P_KEYS:
        return fmt_p(ps[0][1])
    short = lambda k: "p" if k in PLAIN_P_KEYS else re.sub(r"^p_|_p(_?value)?$", "", k)
    return " ".join(f"{short(k)}={fmt_p(v)}" for k, v in ps)


def fmt_overall(ps, shown=3):
    """A pair's own p-values (keys without a dot) in full, then only the `shown` smallest of the
    evidence nested under it, with how many there are (and how many have no value): a scoreboard
    row stays readable, and the smallest are what came nearest an accusation (the verdict JSON has
    every one)."""
    own_key = lambda k: "p" if k in PLAIN_P_KEYS else k
    own = [(k, v) for k, v in ps if "." not in k]
    nested = [(k, v) for k, v in ps if "." in k]
    valued = sorted(((k, v) for k, v in nested if v is not None), key=lambda kv: kv[1])
    parts = [" ".join(f"{own_key(k)}={fmt_p(v)}" for k, v in own)] if own else []
    if nested:
        none = len(nested) - len(valued)
        count = f"{len(nested)}" + (f", {none} without a value" if none else "")
        smallest = ", ".join(f"{k}={fmt_p(v)}" for k, v in valued[:shown]) or "-"
        parts.append(f"smallest of {count}: {smallest}")
    return "; ".join(parts) or "-"


def by_component(ps):
    """[("attention.p_value", v), ...] -> {"attention": [("p_value", v), ...]} in first-seen order."""
    out = {}
    for k, v in ps:
        comp, _, key = k.rpartition(".")
        out.setdefault(comp or "-", []).append((key, v))
    for c in out:  # the plain p-value first
        out[c].sort(key=lambda kv: kv[0] not in PLAIN_P_KEYS)
    return out


def expected_text(p):
    k = fmt_kind(p["kind"])
    if p["sibling"]:
        return "derived (siblings)"
    return f"{p['relation']} ({k})" if k else p["relation"]


def got_text(r):
    return f"{r['got']} ({r['got_kind']})" if r["got_kind"] else r["got"]


def is_correct(p, r):
    return r["got"] == p["relation"]


def expected_kinds(p):
    """The kinds a derived pair must show (a chain lists several); none for siblings."""
    k = p["kind"]
    if p["sibling"] or p["relation"] != "derived" or not k:
        return []
    return list(k) if isinstance(k, list) else [k]


def kind_correct(p, r):
    """Every expected kind is among the got ones (lineage joins a chain with ' + ')."""
    got = {k.strip() for k in (r["got_kind"] or "").split("+")}
    return r["got"] == "derived" and all(k in got for k in expected_kinds(p))


def score(pairs, results):
    rows = ["identical", "derived", "derived (siblings)", "partial_reuse", "independent"]
    matrix = {row: {c: 0 for c in GOT} for row in rows}
    for p, r in zip(pairs, results):
        matrix[p["expected_row"]][r["got"]] += 1
    indep = [(p, r) for p, r in zip(pairs, results) if p["relation"] == "independent"]
    related = [(p, r) for p, r in zip(pairs, results) if p["relation"] != "independent"]
    ran = [(p, r) for p, r in zip(pairs, results) if r["got"] != "error"]
    s = {
        "rows": [row for row in rows if sum(matrix[row].values())],
        "matrix": matrix,
        "n": len(pairs),
        "false_accusations": [(p, r) for p, r in indep if r["got"] in ACCUSING],
        "n_independent": len(indep),
        "n_independent_ran": sum(1 for _, r in indep if r["got"] != "error"),
        "missed": [(p, r) for p, r in related if r["got"] == "independent"],
        "n_related": len(related),
        "n_related_ran": sum(1 for _, r in related if r["got"] != "error"),
        "correct": sum(1 for p, r in zip(pairs, results) if is_correct(p, r)),
        "ran": len(ran),
        "correct_ran": sum(1 for p, r in ran if is_correct(p, r)),
        "inconclusive": sum(1 for r in results if r["got"] == "inconclusive"),
        "errors": sum(1 for r in results if r["got"] == "error"),
        "siblings": [(p, r) for p, r in zip(pairs, results) if p["sibling"]],
        "with_kind": [(p, r) for p, r in zip(pairs, results) if expected_kinds(p)],
        "results": results,
    }
    return s


def pct(a, b):
    return f"{a}/{b} = {100.0 * a / b:.1f}%" if b else f"{a}/{b}"


def summary_lines(s):
    fa, missed = s["false_accusations"], s["missed"]
    sib_missed = sum(1 for p, _ in missed if p["sibling"])
    lines = [
        f"FALSE ACCUSATIONS: {len(fa)} of {s['n_independent']} independent pairs "
        f"({s['n_independent_ran']} with a verdict) — expected independent, got identical / derived / partial_reuse",
        f"missed derivations: {len(missed)} of {s['n_related']} related pairs ({s['n_related_ran']} with a verdict"
        + (f"; {sib_missed} of the missed are siblings" if s["siblings"] else "")
        + ") — expected identical / derived / partial_reuse, got independent",
        f"no answer: {s['inconclusive']} inconclusive, {s['errors']} errors",
        f"accuracy: {pct(s['correct'], s['n'])} of all pairs (errors count as wrong); "
        f"{pct(s['correct_ran'], s['ran'])} of the pairs with a verdict",
        f"kinds: {pct(sum(1 for p, r in s['with_kind'] if kind_correct(p, r)), len(s['with_kind']))} of the derived "
        f"pairs with a labelled kind show every expected kind",
    ]
    for p, r in s["with_kind"]:
        if not kind_correct(p, r):
            lines.append(f"  wrong kind: {p['model']} vs {p['reference']}: expected {fmt_kind(p['kind'])}, got {got_text(r)}")
    for p, r in fa:
        lines.append(f"  false accusation: {p['model']} vs {p['reference']}: {got_text(r)} — {r['reason']}")
    for msg, n in error_groups(s):
        lines.append(f"  {n} error{'s' if n > 1 else ''}: {msg}")
    return lines


def error_groups(s):
    """The errors' messages, most frequent first."""
    counts = {}
    for r in s["results"]:
        if r["got"] == "error":
            counts[r["message"]] = counts.get(r["message"], 0) + 1
    return sorted(counts.items(), key=lambda kv: -kv[1])


def sections(pairs, results):
    items = list(zip(pairs, results))
    return [
        ("key pairs", [(p, r) for p, r in items if p["section"] == "key_pairs" and not p["sibling"]]),
        ("other pairs", [(p, r) for p, r in items if p["section"] != "key_pairs" and not p["sibling"]]),
        ("siblings (derived from a common ancestor: expected derived)", [(p, r) for p, r in items if p["sibling"]]),
    ]


def mark(p, r):
    if r["got"] == "error":
        return "ERROR"
    if p["relation"] == "independent" and r["got"] in ACCUSING:
        return "FALSE ACCUSATION"
    if p["relation"] != "independent" and r["got"] == "independent":
        return "missed"
    return "ok" if is_correct(p, r) else "wrong"


def note(p, r):
    if r["got"] == "error":
        return r["message"]
    return "" if is_correct(p, r) else r["reason"]


def seconds_text(r):
    return "" if r["seconds"] is None else f"{r['seconds']:.1f}"


def text_table(header, rows):
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)] if rows else [len(h) for h in header]
    widths[-1] = 0  # last column unpadded
    out = ["  " + "  ".join(str(h).ljust(w) for h, w in zip(header, widths)).rstrip()]
    for row in rows:
        out.append("  " + "  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip())
    return out


def any_p(results):
    return any(r["p_overall"] for r in results), any(r["p_components"] for r in results)


def render_text(pairs, results, s, facts):
    has_p, has_cp = any_p(results)
    out = [f"lineage accuracy: {facts['dir']} — {s['n']} labelled pairs, {facts['ranks']} ranks per compare", ""]
    for title, items in sections(pairs, results):
        if not items:
            continue
        out.append(title)
        header = ["model", "reference", "expected", "got", "result"] + (["p"] if has_p else []) + ["s", "note"]
        rows = [[p["model"], p["reference"], expected_text(p), got_text(r), mark(p, r)]
                + ([fmt_overall(r["p_overall"])] if has_p else []) + [seconds_text(r), note(p, r)] for p, r in items]
        out += text_table(header, rows) + [""]
    out.append("confusion matrix (rows: expected, columns: got)")
    rows = [[row] + [str(s["matrix"][row][c]) for c in GOT] for row in s["rows"]]
    out += text_table(["expected \\ got"] + list(GOT) + [""], [r + [""] for r in rows]) + [""]
    if has_cp:
        out.append("p-values by component")
        for p, r in zip(pairs, results):
            if r["p_components"]:
                comps = by_component(r["p_components"])
                out.append(f"  {p['model']} vs {p['reference']}: "
                           + "; ".join(f"{c} {fmt_ps(v)}" for c, v in comps.items()))
        out.append("")
    out += summary_lines(s)
    out.append(f"wall time {facts['wall']}, lineage commit {facts['commit']}")
    return "\n".join(out) + "\n"


def md_escape(x):
    return str(x).replace("|", "\\|").replace("\n", " ")


def md_table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in rows:
        out.append("| " + " | ".join(md_escape(x) for x in row) + " |")
    return out


def render_md(pairs, results, s, facts):
    has_p, has_cp = any_p(results)
    fa = s["false_accusations"]
    out = [
        "# Accuracy scoreboard",
        "",
        "Verdicts of `lineage compare` + `lineage verdict` against the ground truth of a labelled folder "
        "(`labels.yaml`: `key_pairs`, `all_other_pairs`). Written by `scripts/accuracy.sh` — a long "
        "evaluation, never part of the test suite. Each pair is compared with the model as suspect and the "
        "reference as parent; siblings (`kind: common_ancestor`) are expected `derived` and listed apart.",
        "",
        "| | |",
        "|---|---|",
        f"| date | {facts['date']} |",
        f"| machine | {md_escape(facts['machine'])} |",
        f"| command | `{md_escape(facts['command'])}` |",
        f"| lineage | commit `{facts['commit']}`, binary `{md_escape(facts['binary'])}` |",
        f"| data | `{md_escape(facts['dir'])}`: {s['n']} labelled pairs |",
        f"| ranks | `mpirun --oversubscribe -np {facts['ranks']}` per compare, {facts['jobs']} pair(s) at a time |",
        f"| wall time | {facts['wall']} |",
        "",
        "## Summary",
        "",
        f"**False accusations: {len(fa)}** of {s['n_independent']} independent pairs "
        f"({s['n_independent_ran']} with a verdict) — expected independent, got identical / derived / partial_reuse.",
        "",
    ]
    for line in summary_lines(s)[1:4]:
        out.append(f"- {line}")
    for p, r in fa:
        out.append(f"- false accusation: {p['model']} vs {p['reference']}: {got_text(r)} — {md_escape(r['reason'])}")
    for msg, n in error_groups(s):
        out.append(f"- {n} error{'s' if n > 1 else ''}: `{md_escape(msg)}`")
    out.append("")
    for title, items in sections(pairs, results):
        if not items:
            continue
        out += [f"## {title[0].upper() + title[1:]}", ""]
        header = ["model", "reference", "expected", "got", "result"] + (["p"] if has_p else []) + ["s", "note"]
        rows = [[p["model"], p["reference"], expected_text(p), got_text(r),
                 f"**{mark(p, r)}**" if mark(p, r) not in ("ok",) else "ok"]
                + ([fmt_overall(r["p_overall"])] if has_p else []) + [seconds_text(r), note(p, r)] for p, r in items]
        out += md_table(header, rows) + [""]
    out += ["## Confusion matrix", "", "Rows: expected; columns: got.", ""]
    out += md_table(["expected \\ got"] + list(GOT),
                    [[row] + [str(s["matrix"][row][c]) for c in GOT] for row in s["rows"]]) + [""]
    if has_cp:
        comps = []
        for r in results:
            for c in by_component(r["p_components"]):
                if c not in comps:
                    comps.append(c)
        out += ["## p-values by component", "",
                "Fields named like a p-value in each component of `lineage verdict --json`.", ""]
        rows = []
        for p, r in zip(pairs, results):
            if r["p_components"]:
                bc = by_component(r["p_components"])
                rows.append([p["model"], p["reference"]] + [fmt_ps(bc[c]) if c in bc else "" for c in comps])
        out += md_table(["model", "reference"] + comps, rows) + [""]
    return "\n".join(out)


def write_atomic(path, text):
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    tmp = os.path.join(d, f".{os.path.basename(path)}.tmp{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def main(argv):
    force = os.environ.get("ACC_NO_PYYAML") == "1"
    try:
        if len(argv) == 2 and argv[0] == "pairs":
            for p in labelled_pairs(argv[1], force):
                print(f"{p['model']}\t{p['reference']}\t{p['section']}")
            return 0
        if len(argv) == 3 and argv[0] == "dump":  # debugging: the parsed labels as JSON
            print(json.dumps(load_labels(argv[1], argv[2] == "builtin")[1], indent=1, sort_keys=True))
            return 0
        if len(argv) == 4 and argv[0] == "one":
            r = pair_result(argv[1], argv[2], argv[3])
            print(got_text(r) + (f": {r['message']}" if r["got"] == "error" else ""))
            return 0
        if len(argv) == 5 and argv[0] == "report" and argv[3] == "--out":
            folder, work, md = argv[1], argv[2], argv[4]
            pairs = labelled_pairs(folder, force)
            if os.environ.get("ACC_KEY_ONLY") == "1":
                pairs = [p for p in pairs if p["section"] == "key_pairs"]
            results = [pair_result(work, p["model"], p["reference"]) for p in pairs]
            s = score(pairs, results)
            facts = {k: os.environ.get("ACC_" + k.upper(), "?") for k in
                     ("date", "machine", "command", "commit", "binary", "ranks", "jobs", "wall")}
            facts["dir"] = folder
            sys.stdout.write(render_text(pairs, results, s, facts))
            write_atomic(md, render_md(pairs, results, s, facts))
            return 0
    except Malformed as e:
        print(f"accuracy: error: {e}", file=sys.stderr)
        return 3
    print(__doc__.strip(), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
