// Result stores given as input (verdict, status, merge, check). Random bytes would mostly fuzz
// libhdf5's own file parser, which is not ours to fix; this target starts from a valid store and
// lets the input rewrite its datasets and attributes (lengths, shapes, values, removals), then
// runs what `lineage verdict` and `lineage check` run on it.
#include <vector>

#include "fuzz_support.hpp"
#include "io/hdf5/h5_file.hpp"
#include "io/store/result_store.hpp"
#include "io/store/store_check.hpp"
#include "pipeline/verdict_report.hpp"

namespace {

using lineage::parse_tensor_key;
using lineage::UnitKind;
using lineage::io::H5File;

lineage::io::StoreContents sample() {
  lineage::io::StoreContents c;
  c.run_id = "fuzz";
  c.status = "complete";
  c.models.push_back({"suspect", "/nonexistent/a", "llama", 1, {"s.safetensors"}, {10}, {1}});
  c.models.push_back({"parent", "/nonexistent/b", "llama", 1, {"s.safetensors"}, {10}, {2}});
  c.units.push_back({0, UnitKind::same_key, parse_tensor_key("text/attn_q/L0"), parse_tensor_key("text/attn_q/L0"), "q",
                     "q", 0, 1, 0, 0, -1, 4, 8, 64});
  c.units.push_back({1, UnitKind::baseline, parse_tensor_key("text/attn_q/L0"), parse_tensor_key("text/attn_q/L1"), "q",
                     "q1", 0, 1, 0, 1, -1, 4, 8, 64});
  c.plan_rank_of_unit = {0, 0};
  c.plan_bytes_per_rank = {128};
  c.stat_names = {"pearson", "cosine", "rel_l2", "frac_value_equal", "n"};
  c.done_ids = {0, 1};
  c.stats = {0.9, 0.9, 0.1, 0.0, 32, 0.1, 0.1, 1.0, 0.0, 32};
  c.hash_a = {1, 2};
  c.hash_b = {1, 3};
  c.unmatched = {{0, 1, lineage::TensorKey{lineage::Component::text, lineage::TensorRole::lm_head}}};
  c.evidence_json = R"([{"kind":"tokenizer","subject":"s","support":"derived","reading":"r","result":{}}])";
  return c;
}

const char* const kUintColumns[] = {
    "/units/id",        "/units/rows",           "/units/cols",         "/units/bytes",
    "/results/unit_id", "/results/hash_a",       "/results/hash_b",     "/results/row_xxh3",
    "/units/row_xxh3",  "/inputs/0/shard_sizes", "/plan/bytes_per_rank"};
const char* const kIntColumns[] = {"/units/model_a",   "/units/model_b",          "/units/layer_a",
                                   "/units/layer_b",   "/units/expert",           "/plan/rank_of_unit",
                                   "/unmatched/model", "/unmatched/lacking_model"};
const char* const kStringColumns[] = {"/inputs/labels",        "/units/kind",         "/units/key_a",   "/units/key_b",
                                      "/units/unmatched",      "/results/stat_names", "/evidence/json", "/units/role",
                                      "/inputs/0/shard_files", "/unmatched/key"};

struct Reader {
  const std::uint8_t* p;
  std::size_t n;
  std::uint8_t byte() { return n ? (--n, *p++) : 0; }
  std::uint64_t word() {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = v << 8 | byte();
    return v;
  }
  std::string text() {
    std::size_t len = byte();
    std::string s;
    while (len-- && n) s += static_cast<char>(byte());
    return s;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto path = lineage::fuzz::work_dir() / "run.h5";
  static const auto seed = [] {
    const auto p = lineage::fuzz::work_dir() / "seed.h5";
    lineage::io::write_result_store(p, sample());
    return p;
  }();
  std::filesystem::copy_file(seed, path, std::filesystem::copy_options::overwrite_existing);
  Reader in{data, size};
  {
    H5File f(path, H5File::Mode::read_write);
    while (in.n > 0) {
      const auto op = in.byte() % 6;
      const auto pick = in.byte();
      const auto count = static_cast<std::size_t>(in.byte() % 8);
      if (op == 0) {
        const auto* col = kUintColumns[pick % std::size(kUintColumns)];
        std::vector<std::uint64_t> v(count);
        for (auto& x : v) x = in.byte() % 4 ? in.byte() : in.word();
        f.write<std::uint64_t>(col, v, {v.size()});
      } else if (op == 1) {
        const auto* col = kIntColumns[pick % std::size(kIntColumns)];
        std::vector<std::int32_t> v(count);
        for (auto& x : v) x = static_cast<std::int32_t>(static_cast<std::int8_t>(in.byte()));
        f.write<std::int32_t>(col, v, {v.size()});
      } else if (op == 2) {
        const auto* col = kStringColumns[pick % std::size(kStringColumns)];
        std::vector<std::string> v(count);
        for (auto& x : v) x = in.text();
        f.write_strings(col, v);
      } else if (op == 3) {
        const std::uint64_t rows = in.byte() % 4, cols = in.byte() % 8;
        std::vector<double> v(rows * cols);
        for (auto& x : v) x = static_cast<double>(static_cast<std::int64_t>(in.word())) / 1e6;
        f.write<double>("/results/stats", v, {rows, cols});
      } else if (op == 4) {
        const char* const all[] = {"/inputs/labels", "/units/id",        "/results/stats", "/units/kind",
                                   "/inputs/1",      "/results/unit_id", "/units/model_b", "/evidence/json"};
        f.remove(all[pick % std::size(all)]);
      } else {
        const char* const attrs[] = {"schema_version", "status"};
        if (pick % 2) {
          f.set_attribute("/", attrs[0], static_cast<std::int64_t>(in.byte() % 4));
        } else {
          f.set_attribute("/", attrs[1], in.byte() % 2 ? std::string("complete") : std::string("partial"));
        }
      }
    }
  }
  lineage::fuzz::run([&] {
    lineage::io::StoreReadOptions o;
    o.verify_checksums = false;  // most edits break a checksum; read on to reach the consumers
    const auto store = lineage::io::read_result_store(path, o);
    (void)lineage::pipeline::verdicts_from_store(store);
  });
  lineage::fuzz::run([&] { (void)lineage::io::check_result_store(path, {}); });
  return 0;
}
