#!/usr/bin/python3
"""The comparison statistics of `lineage compare`, computed the way auditors' scripts do today:
read each tensor with a small safetensors reader, convert it to float32 with numpy, and compute
each metric in its own pass. The speed reference of scripts/bench-compare.sh (docs/benchmarks.md);
never part of the test suite.

Usage: numpy_reference.py MODEL_A MODEL_B [MAX_GB]
Pairs tensors by name; stops after MAX_GB gigabytes read per model (default: all). Prints one
line: "bytes=<read from both models> seconds=<wall> cpu_seconds=<this process> tensors=<pairs>".
"""
import json
import os
import struct
import sys
import time

import numpy as np
import xxhash


def read_header(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    header.pop("__metadata__", None)
    return 8 + n, header


def tensors(folder):
    """name -> (file, absolute begin, end, dtype, shape)."""
    out = {}
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".safetensors"):
            continue
        path = os.path.join(folder, name)
        base, header = read_header(path)
        for t, e in header.items():
            begin, end = e["data_offsets"]
            out[t] = (path, base + begin, base + end, e["dtype"], e["shape"])
    return out


def load(entry):
    path, begin, end, dtype, shape = entry
    with open(path, "rb") as f:
        f.seek(begin)
        raw = f.read(end - begin)
    if dtype == "BF16":
        values = (np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)
    elif dtype == "F16":
        values = np.frombuffer(raw, dtype=np.float16).astype(np.float32)
    else:
        values = np.frombuffer(raw, dtype=np.float32).copy()
    return raw, values.reshape(shape)


def statistics(raw_a, a, raw_b, b):
    a = a.ravel()
    b = b.ravel()
    s = {}
    s["hash_a"] = xxhash.xxh3_64_intdigest(raw_a)
    s["hash_b"] = xxhash.xxh3_64_intdigest(raw_b)
    s["nonfinite_a"] = int(np.count_nonzero(~np.isfinite(a)))
    s["nonfinite_b"] = int(np.count_nonzero(~np.isfinite(b)))
    ok = np.isfinite(a) & np.isfinite(b)
    a = a[ok]
    b = b[ok]
    s["n"] = a.size
    s["cosine"] = float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))
    s["pearson"] = float(np.corrcoef(a, b)[0, 1])
    s["init_centered_cosine"] = float(np.dot(a - 1, b - 1) / (np.linalg.norm(a - 1) * np.linalg.norm(b - 1)))
    s["rel_l2"] = float(np.linalg.norm(a - b) / np.linalg.norm(a))
    s["mean_abs_diff"] = float(np.mean(np.abs(a - b)))
    s["max_abs_diff"] = float(np.max(np.abs(a - b)))
    s["rms_diff"] = float(np.sqrt(np.mean((a - b) ** 2)))
    s["p99_abs_diff"] = float(np.quantile(np.abs(a - b), 0.99))
    s["tail_scale_diff"] = float(abs(np.quantile(np.abs(a), 0.99) - np.quantile(np.abs(b), 0.99)))
    s["frac_value_equal"] = float(np.mean(a == b))
    s["mean_a"], s["mean_b"] = float(np.mean(a)), float(np.mean(b))
    s["std_a"], s["std_b"] = float(np.std(a)), float(np.std(b))
    s["min_a"], s["max_a"] = float(np.min(a)), float(np.max(a))
    s["min_b"], s["max_b"] = float(np.min(b)), float(np.max(b))
    return s


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    limit = float(sys.argv[3]) * 1e9 if len(sys.argv) > 3 else float("inf")
    ta, tb = tensors(sys.argv[1]), tensors(sys.argv[2])
    read = 0
    pairs = 0
    start, cpu = time.perf_counter(), time.process_time()
    for name in sorted(ta):
        if name not in tb or ta[name][4] != tb[name][4]:
            continue
        raw_a, a = load(ta[name])
        raw_b, b = load(tb[name])
        statistics(raw_a, a, raw_b, b)
        read += len(raw_a) + len(raw_b)
        pairs += 1
        if read / 2 >= limit:
            break
    print(f"bytes={read} seconds={time.perf_counter() - start:.3f} cpu_seconds={time.process_time() - cpu:.3f} "
          f"tensors={pairs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
