#!/usr/bin/env python3
"""Writes the bad-input corpus (tests/data/bad/): crafted files in every format lineage reads,
and MANIFEST, one case per line: name, expected exit code, a message substring the one error
line must contain, a substring it must not contain (or -), then the lineage arguments ({BAD} is
this folder, copied). tests/cli/lineage_bad_inputs.sh runs every case. Rerun after editing:
    python3 tests/data/bad/make_bad.py
The FIFO case is made by the runner (a FIFO cannot be committed)."""
import json, os, shutil, struct

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
cases = []


def case(name, code, want, args, forbid="-"):
    cases.append((name, str(code), want, forbid, args))


def path(*p):
    full = os.path.join(HERE, *p)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    return full


def write(rel, data):
    with open(path(rel), "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)


def link(rel, target):
    p = path(rel)
    if os.path.lexists(p):
        os.remove(p)
    os.symlink(target, p)


def safetensors(rel, header, data=b"", raw_header=None):
    h = raw_header if raw_header is not None else json.dumps(header).encode()
    write(rel, struct.pack("<Q", len(h)) + h + data)


for d in os.listdir(HERE):
    if d not in ("make_bad.py",):
        p = os.path.join(HERE, d)
        shutil.rmtree(p) if os.path.isdir(p) and not os.path.islink(p) else os.remove(p)

SECRET = "SECRET-API-KEY=sk-live-0123456789\npassword=hunter2\n"
write("secret.txt", SECRET)

# --- config.json (lineage arch) ---
LLAMA = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 64,
         "intermediate_size": 128, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 100,
         "num_hidden_layers": 2}
def config_case(name, text, code, want, forbid="-"):
    write(f"{name}/config.json", text)
    case(name, code, want, f"arch {{BAD}}/{name}", forbid)

config_case("config_deep", "[" * 60000, 3, "nested deeper than 64 levels")
config_case("config_layers_1e9", json.dumps({**LLAMA, "num_hidden_layers": 10**9}), 3,
            "key 'num_hidden_layers' = 1000000000 is above the limit")
config_case("config_layers_1e308", json.dumps({**LLAMA}).replace('"num_hidden_layers": 2', '"num_hidden_layers": 1e308'),
            3, "key 'num_hidden_layers' = 1e+308 is above the limit")
config_case("config_experts_1e9", json.dumps({**LLAMA, "num_experts": 10**9}), 3, "key 'num_experts' = 1000000000")
config_case("config_layers_fraction", json.dumps({**LLAMA, "num_hidden_layers": 2.5}), 3,
            "key 'num_hidden_layers' is not a non-negative whole number")
config_case("config_layers_negative", json.dumps({**LLAMA, "num_hidden_layers": -4}), 3,
            "key 'num_hidden_layers' is not a non-negative whole number")
config_case("config_layers_string", json.dumps({**LLAMA, "num_hidden_layers": "32"}), 3,
            "key 'num_hidden_layers' is not a number")
config_case("config_nested_layers_list", json.dumps({**LLAMA, "text_config": {"num_hidden_layers": [1]}}), 3,
            "key 'text_config.num_hidden_layers' is not a number")
config_case("config_model_type_number", json.dumps({**LLAMA, "model_type": 7}), 3, "key 'model_type' is not a string")
config_case("config_architectures_string", json.dumps({**LLAMA, "architectures": "LlamaForCausalLM"}), 3,
            "key 'architectures' is not a list")
config_case("config_quantization_list", json.dumps({**LLAMA, "quantization_config": [1]}), 3,
            "key 'quantization_config' is not an object")
config_case("config_not_object", "[1, 2, 3]", 3, "config is not a JSON object")
config_case("config_malformed", SECRET, 3, "malformed JSON", "hunter2")
os.makedirs(path("config_secret_link"), exist_ok=True)
link("config_secret_link/config.json", "../secret.txt")
case("config_secret_link", 3, "escapes the model folder", "arch {BAD}/config_secret_link", "hunter2")
# A config that implies far more tensors than the index holds (inventory --index-only).
write("config_exceeds_index/config.json", json.dumps({**LLAMA, "num_hidden_layers": 5000}))
write("config_exceeds_index/model.safetensors.index.json",
      json.dumps({"weight_map": {"model.embed_tokens.weight": "model-00001-of-00001.safetensors"}}))
case("config_exceeds_index", 3, "the config implies layers = 5000",
     "inventory --index-only {BAD}/config_exceeds_index")
# A config that implies a few more layers, or experts, than the index holds: the key, its value
# and what the names hold (within the expansion bound above, so a precise check).
def llama_map(layers):
    names = ["model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"]
    for l in range(layers):
        names += [f"model.layers.{l}.{t}.weight" for t in (
            "input_layernorm", "post_attention_layernorm", "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
            "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")]
    return {"weight_map": {n: "model-00001-of-00001.safetensors" for n in names}}
write("config_layers_beyond_index/config.json", json.dumps({**LLAMA, "num_hidden_layers": 4}))
write("config_layers_beyond_index/model.safetensors.index.json", json.dumps(llama_map(2)))
case("config_layers_beyond_index", 3,
     "key 'num_hidden_layers' = 4, but the index holds layers 0-1 only (2 layers): the config implies more tensors",
     "inventory --index-only {BAD}/config_layers_beyond_index")
MIXTRAL = {**LLAMA, "model_type": "mixtral", "architectures": ["MixtralForCausalLM"], "num_local_experts": 8,
           "num_experts_per_tok": 2}
mixtral = llama_map(2)
for l in range(2):
    for t in ("mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"):
        del mixtral["weight_map"][f"model.layers.{l}.{t}.weight"]
    mixtral["weight_map"][f"model.layers.{l}.block_sparse_moe.gate.weight"] = "model-00001-of-00001.safetensors"
    for e in range(4):
        for w in ("w1", "w2", "w3"):
            mixtral["weight_map"][f"model.layers.{l}.block_sparse_moe.experts.{e}.{w}.weight"] = \
                "model-00001-of-00001.safetensors"
write("config_experts_beyond_index/config.json", json.dumps(MIXTRAL))
write("config_experts_beyond_index/model.safetensors.index.json", json.dumps(mixtral))
case("config_experts_beyond_index", 3,
     "key 'num_local_experts' = 8, but the index holds experts 0-3 only (4 experts): the config implies more tensors",
     "inventory --index-only {BAD}/config_experts_beyond_index")

# --- tokenizer.json (lineage tokenizer A B) ---
TOK = {"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}}
write("tokenizer_good/tokenizer.json", json.dumps(TOK))
def tok_case(name, text, code, want, forbid="-"):
    write(f"{name}/tokenizer.json", text)
    case(name, code, want, f"tokenizer {{BAD}}/{name} {{BAD}}/tokenizer_good", forbid)

deep = '{"model": {"type": "BPE", "vocab": {"a": 0}}, "pre_tokenizer": ' + \
    '{"type": "Sequence", "pretokenizers": [' * 2000
tok_case("tokenizer_deep_pre_tokenizer", deep, 3, "nested deeper than 64 levels")
tok_case("tokenizer_no_model", json.dumps({"version": "1.0"}), 3, 'no "model" section')
tok_case("tokenizer_added_tokens_types", json.dumps({**TOK, "added_tokens": [{"id": "0", "content": 5}]}), 3,
         "key 'added_tokens'")
tok_case("tokenizer_model_type_number", json.dumps({"model": {**TOK["model"], "type": 3}}), 3, "key 'model.type'")
tok_case("tokenizer_byte_fallback_string", json.dumps({"model": {**TOK["model"], "byte_fallback": "yes"}}), 3,
         "key 'model.byte_fallback'")
tok_case("tokenizer_merge_numbers", json.dumps({"model": {**TOK["model"], "merges": [[1, 2]]}}), 3, "model.merges")
tok_case("tokenizer_vocab_id_string", json.dumps({"model": {**TOK["model"], "vocab": {"a": "0"}}}), 3,
         "is not an integer")
tok_case("tokenizer_malformed", SECRET, 3, "malformed JSON", "hunter2")
os.makedirs(path("tokenizer_secret_link"), exist_ok=True)
link("tokenizer_secret_link/tokenizer.json", "../secret.txt")
case("tokenizer_secret_link", 3, "escapes the model folder",
     "tokenizer {BAD}/tokenizer_secret_link {BAD}/tokenizer_good", "hunter2")

# --- safetensors (lineage inventory MODEL with one model.safetensors) ---
def st_case(name, code, want, header=None, data=b"", raw=None, whole=None, forbid="-"):
    if whole is not None:
        write(f"{name}/model.safetensors", whole)
    else:
        safetensors(f"{name}/model.safetensors", header, data, raw)
    case(name, code, want, f"inventory {{BAD}}/{name}", forbid)

W = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
st_case("st_too_short", 3, "too short for a safetensors header", whole=b"\x01\x02\x03")
st_case("st_header_length_huge", 3, "exceeds the", whole=struct.pack("<Q", 1 << 40) + b"{}")
st_case("st_header_past_file", 3, "is larger than the file", whole=struct.pack("<Q", 1000) + b"{}")
st_case("st_header_deep", 3, "JSON header nested deeper", raw=b"[" * 5000)
st_case("st_header_malformed", 3, "malformed JSON header", raw=SECRET.encode(), forbid="hunter2")
st_case("st_tera_elements", 3, "tensor 'w'", {"w": {"dtype": "F32", "shape": [1000000, 1000000],
                                                  "data_offsets": [0, 8]}}, b"\0" * 8)
st_case("st_offsets_past_end", 3, "run past the end of the file", {"w": {**W, "data_offsets": [0, 4096]}}, b"\0" * 8)
st_case("st_overlap", 3, "data overlaps", {"w": W, "v": {**W, "data_offsets": [4, 12]}}, b"\0" * 12)
st_case("st_bad_dtype", 3, "unknown dtype", {"w": {**W, "dtype": "F128"}}, b"\0" * 8)
st_case("st_negative_shape", 3, "shape holds a non-integer or negative", {"w": {**W, "shape": [-2]}}, b"\0" * 8)
st_case("st_length_mismatch", 3, "byte length 8 != product(shape)", {"w": {**W, "shape": [3]}}, b"\0" * 8)
st_case("st_duplicate_name", 3, "duplicate tensor name",
        raw=b'{"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, '
            b'"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}', data=b"\0" * 8)
st_case("st_escape_codes_in_name", 3, "tensor 'evil\\x1b[2J\\x1b]0;pwned\\x07'",
        {"evil\x1b[2J\x1b]0;pwned\x07": {**W, "dtype": "F99"}}, b"\0" * 8, forbid="\x1b")
st_case("st_offsets_not_pair", 3, "data_offsets must be [begin, end]", {"w": {**W, "data_offsets": [0]}}, b"\0" * 8)
os.makedirs(path("st_secret_link"), exist_ok=True)
link("st_secret_link/model.safetensors", "../secret.txt")
case("st_secret_link", 3, "escapes the model folder", "inventory {BAD}/st_secret_link", "hunter2")

# --- model.safetensors.index.json (inventory --index-only) ---
def index_case(name, text, code, want, flags="--index-only "):
    write(f"{name}/model.safetensors.index.json", text)
    case(name, code, want, f"inventory {flags}{{BAD}}/{name}")

index_case("index_parent_path", json.dumps({"weight_map": {"w": "../secret.txt"}}), 3, "escapes the model folder")
index_case("index_absolute_path", json.dumps({"weight_map": {"w": "/etc/passwd"}}), 3, "escapes the model folder")
index_case("index_no_weight_map", json.dumps({"metadata": {}}), 3, "no weight_map object")
index_case("index_deep", '{"weight_map": ' + "[" * 1000, 3, "nested deeper than 64 levels")
index_case("index_value_not_string", json.dumps({"weight_map": {"w": 3}}), 3, "weight_map value is not a file name")
index_case("index_missing_shard", json.dumps({"weight_map": {"w": "absent.safetensors"}}), 3,
           "shard 'absent.safetensors' is missing", flags="")
os.makedirs(path("index_shard_link"), exist_ok=True)
link("index_shard_link/s.safetensors", "../secret.txt")
index_case("index_shard_link", json.dumps({"weight_map": {"w": "s.safetensors"}}), 3, "escapes the model folder")
write("shard_fifo/model.safetensors.index.json", json.dumps({"weight_map": {"w": "fifo.safetensors"}}))
case("shard_fifo", 3, "not a regular file", "inventory {BAD}/shard_fifo")

# --- YAML run files (lineage status RUN.yaml reads the run file first) ---
def run_case(name, slurm, code, want, extra=""):
    write(f"{name}.yaml", "suspect: s\nparent: p\n" + extra + ("slurm:\n" + slurm if slurm else ""))
    case(name, code, want, f"status {{BAD}}/{name}.yaml")

run_case("run_partition_newline", '  partition: "gpu\\ntouch /tmp/lineage-pwned"\n', 4,
         "slurm.partition: holds a newline")
run_case("run_time_semicolon", '  time: "1:00:00; reboot"\n', 4, "slurm.time: holds the character ';'")
run_case("run_account_command", '  account: "$(id)"\n', 4, "slurm.account: holds the character '$'")
run_case("run_mem_backtick", '  mem: "`id`"\n', 4, "slurm.mem: holds the character '`'")
run_case("run_extra_newline", '  extra_sbatch: ["--qos=high\\nrm -rf ~"]\n', 4,
         "slurm.extra_sbatch[0]: holds a newline")
run_case("run_extra_not_option", '  extra_sbatch: ["rm -rf ~"]\n', 4, "slurm.extra_sbatch[0]: is not an sbatch option")
run_case("run_unknown_key", None, 4, "unknown key", extra="resmue: true\n")
run_case("run_wrong_type", '  nodes: "many"\n', 4, "slurm.nodes: has the wrong type")
# Found by fuzz_run_yaml: a mapping inside the parents list was exit 1 "internal error".
write("run_parents_mapping.yaml", "suspect: s\nparents: [modelsout: out/run.h5]\n")
case("run_parents_mapping", 4, "run_parents_mapping.yaml:parents: must be a path or a list of paths",
     "status {BAD}/run_parents_mapping.yaml")
write("run_key_not_name.yaml", "suspect: s\n[a, b]: c\n")
case("run_key_not_name", 4, "(top level): has a key that is not a name", "status {BAD}/run_key_not_name.yaml")
write("run_malformed.yaml", "suspect: [unclosed\n")
case("run_malformed", 4, "malformed YAML", "status {BAD}/run_malformed.yaml")

# --- result stores (lineage verdict / check) ---
def store(rel, edit=None, version=1):
    with h5py.File(path(rel), "w") as f:
        s = h5py.string_dtype()
        f.attrs["schema_version"] = np.int64(version)
        f.attrs["status"] = "complete"
        f.attrs["run_id"] = "bad"
        f.attrs["tool"] = "make_bad.py"
        f["run/config_json"] = np.array(["{}"], dtype=s)
        f["run/writers"] = np.array(["local"], dtype=s)
        f["inputs/labels"] = np.array(["suspect", "parent"], dtype=s)
        for m in (0, 1):
            g = f.create_group(f"inputs/{m}")
            g.attrs["label"] = ["suspect", "parent"][m]
            g.attrs["path"] = f"/nonexistent/{m}"
            g["shard_files"] = np.array(["s.safetensors"], dtype=s)
            g["shard_sizes"] = np.array([10], dtype=np.uint64)
            g["header_xxh3"] = np.array([m], dtype=np.uint64)
        u = f.create_group("units")
        u["id"] = np.array([0], dtype=np.uint64)
        for k, v in dict(kind="same_key", key_a="text/attn_q/L0", key_b="text/attn_q/L0", tensor_a="q", tensor_b="q",
                         component="text", role="attn_q").items():
            u[k] = np.array([v], dtype=s)
        for k, v in dict(model_a=0, model_b=1, layer_a=0, layer_b=0, expert=-1).items():
            u[k] = np.array([v], dtype=np.int32)
        for k, v in dict(rows=4, cols=8, bytes=64).items():
            u[k] = np.array([v], dtype=np.uint64)
        u["unmatched"] = np.array([], dtype=s)
        names = ["pearson", "cosine", "rel_l2", "frac_value_equal", "n"]
        f["results/stat_names"] = np.array(names, dtype=s)
        f["results/unit_id"] = np.array([0], dtype=np.uint64)
        f["results/stats"] = np.array([[0.99, 0.99, 0.01, 0.0, 32.0]])
        f["results/hash_a"] = np.array([1], dtype=np.uint64)
        f["results/hash_b"] = np.array([2], dtype=np.uint64)
        if edit:
            edit(f)
    case(os.path.splitext(os.path.basename(rel))[0], 5, WANT[rel], f"verdict {{BAD}}/{rel}")

WANT = {}
def store_case(rel, want, edit=None, version=1):
    WANT[rel] = want
    store(rel, edit, version)

def short_stats(f):
    del f["results/stats"]
    f["results/stats"] = np.array([[0.99, 0.99]])
def oversized(f):
    del f["results/hash_a"]
    f.create_dataset("results/hash_a", shape=(10**11,), dtype=np.uint64, chunks=(1024,))
def external(f):
    del f["units/kind"]
    f["units/kind"] = h5py.ExternalLink("other.h5", "/units/kind")
def bad_model(f):
    del f["units/model_b"]
    f["units/model_b"] = np.array([9], dtype=np.int32)
def bad_unit(f):
    del f["results/unit_id"]
    f["results/unit_id"] = np.array([5], dtype=np.uint64)
def deep_evidence(f):
    f["evidence/json"] = np.array(["[" * 1000], dtype=h5py.string_dtype())
def array_attr(f):
    del f.attrs["schema_version"]
    f.attrs["schema_version"] = np.arange(1000, dtype=np.int64)

store_case("stores/store_missing_labels.h5", "/inputs/labels is missing", lambda f: f.__delitem__("inputs/labels"))
store_case("stores/store_short_stats.h5", "/results/stats is [1 x 2], not [1 x 5]", short_stats)
store_case("stores/store_oversized_column.h5", "more than the file holds", oversized)
store_case("stores/store_external_link.h5", "external", external)
store_case("stores/store_model_index.h5", "names a model outside the 2 inputs", bad_model)
store_case("stores/store_unit_index.h5", "/results/unit_id[0] names no unit", bad_unit)
store_case("stores/store_schema_99.h5", "schema version 99", version=99)
store_case("stores/store_deep_evidence.h5", "nested deeper than 64 levels", deep_evidence)
store_case("stores/store_attribute_array.h5", "is not a single value", array_attr)
store_case("stores/store_missing_stats.h5", "/results/stats is missing", lambda f: f.__delitem__("results/stats"))
write("stores/not_hdf5.h5", SECRET)
case("not_hdf5", 5, "cannot open HDF5 file", "verdict {BAD}/stores/not_hdf5.h5", "hunter2")
case("check_short_stats", 5, "/results/stats is [1 x 2]", "check {BAD}/stores/store_short_stats.h5")

with open(path("MANIFEST"), "w") as f:
    f.write("# name\texit\tmessage substring\tforbidden substring\tlineage arguments ({BAD} = this folder)\n")
    f.write("# written by make_bad.py; run by tests/cli/lineage_bad_inputs.sh\n")
    for c in cases:
        assert "\t" not in "".join(c), c
        f.write("\t".join(x.replace("\x1b", "\\e") for x in c) + "\n")
print(f"{len(cases)} cases")
