#include "jobs/store_merge.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <tuple>

#include "core/errors.hpp"

namespace lineage::jobs {
namespace {

using UnitIdentity = std::tuple<std::uint64_t, std::uint64_t, UnitKind, TensorKey, TensorKey, std::string, std::string,
                                std::uint64_t, std::uint64_t>;

bool agree(double a, double b, const MergeOptions& o) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  if (a == b) return true;
  return std::abs(a - b) <= o.abs_tolerance + o.rel_tolerance * std::max(std::abs(a), std::abs(b));
}

/// How a store hashed its units: the row block size of its run. A unit cut into more than one
/// block stores the hash of its block hashes (stages/execute/execute_unit.hpp), so two stores
/// cut at different sizes hash the same bytes differently. Stores written before row blocks
/// hashed every unit whole (no block size: unlimited); a merged store of inputs that disagree
/// records none (null) and its convention is unknown.
struct HashConvention {
  bool known = true;
  std::uint64_t block_bytes = std::numeric_limits<std::uint64_t>::max();
};

HashConvention hash_convention(const std::string& config_json) {
  if (config_json.empty()) return {};
  const auto config = nlohmann::json::parse(config_json, nullptr, false);
  if (!config.is_object() || !config.contains("row_block_bytes")) return {};
  const auto& bytes = config["row_block_bytes"];
  if (bytes.is_number_unsigned()) return {true, bytes.get<std::uint64_t>()};
  return {false, 0};
}

/// Whether two stores' hashes of one unit hash the same bytes the same way: the same block
/// size, or the unit is one block at both (it reads no more than the smaller size; a unit of
/// one row is never split). Otherwise only the statistics can be compared.
bool hashes_comparable(const io::StoredUnit& u, const HashConvention& x, const HashConvention& y) {
  if (u.rows <= 1) return true;
  if (!x.known || !y.known) return false;
  if (x.block_bytes == y.block_bytes) return true;
  return u.bytes > 0 && u.bytes <= std::min(x.block_bytes, y.block_bytes);
}

std::string number(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", x);
  return buf;
}

}  // namespace

MergeResult merge_stores(const std::vector<std::pair<std::string, io::StoreContents>>& stores,
                         const MergeOptions& options) {
  if (stores.empty()) throw UsageError("merge: no stores given");
  MergeResult r;
  r.inputs = stores.size();
  auto& out = r.store;
  out.run_id = "merged";
  out.stat_names = stores.front().second.stat_names;
  out.tool_version = stores.front().second.tool_version;
  out.config_json = "{}";
  out.plan_ranks = 1;

  std::map<std::uint64_t, std::int32_t> model_index;                        // fingerprint -> merged index
  std::map<std::string, std::pair<std::uint64_t, std::string>> path_print;  // path -> (fingerprint, store)
  std::map<UnitIdentity, std::uint64_t> unit_index;
  std::map<std::uint64_t, std::size_t> done_row;  // merged unit id -> row in out.stats
  std::vector<HashConvention> row_convention;     // per row in out.stats: how its hashes were made
  std::optional<HashConvention> common;           // the inputs' convention while they all agree
  bool conventions_agree = true;
  std::set<UnmatchedTensor> unmatched;
  std::set<std::string> writers;
  std::set<std::uint64_t> superseded;
  nlohmann::json evidence = nlohmann::json::array();
  nlohmann::json inputs = nlohmann::json::array();
  const auto k = out.stat_names.size();

  const bool screening = io::is_screening_run(stores.front().second);
  const bool values = io::reads_block_scaled_values(stores.front().second);
  for (const auto& [file, s] : stores) {
    // A store of an earlier lineage read block-FP8 weights on their codes, where later ones read
    // their values: one merged store would hold both under one name.
    if (io::reads_block_scaled_values(s) != values) {
      throw StoreError(
          file + ": " +
          (values ? "written by an earlier lineage, which read block-scaled weights on their codes"
                  : "its block-scaled weights are read as values") +
          ", but " + stores.front().first +
          (values ? "'s are read as values" : " was written by an earlier lineage, which read them on their codes") +
          "; stores of different statistic versions cannot be merged");
    }
    // A screening run's units lack what a full run's have (RunConfig::screen): one merged store
    // of both would be judged as if alike.
    if (io::is_screening_run(s) != screening) {
      throw StoreError(file + ": " + (screening ? "a full run's store" : "a screening run's store (--screen)") +
                       ", but " + stores.front().first + " is " +
                       (screening ? "a screening run's (--screen)" : "a full run's") +
                       "; merge stores of one kind of run");
    }
    if (s.stat_names != out.stat_names) {
      throw StoreError(file + ": its statistics (" + std::to_string(s.stat_names.size()) +
                       " columns) are another version than " + stores.front().first +
                       "'s; stores of different "
                       "statistic versions cannot be merged");
    }
    const auto convention = hash_convention(s.config_json);
    nlohmann::json input{{"file", file}, {"run_id", s.run_id}, {"status", s.status}};
    if (convention.known && convention.block_bytes != std::numeric_limits<std::uint64_t>::max()) {
      input["row_block_bytes"] = convention.block_bytes;
    }
    inputs.push_back(std::move(input));
    if (!common) {
      common = convention;
    } else if (!convention.known || !common->known || convention.block_bytes != common->block_bytes) {
      conventions_agree = false;
    }
    // Models: by fingerprint; one path naming two different byte contents is refused.
    std::vector<std::int32_t> remap;
    for (const auto& m : s.models) {
      const auto print = m.fingerprint();
      if (const auto it = path_print.find(m.path); it != path_print.end() && it->second.first != print) {
        throw StoreError(file + ": model " + m.path + " has other bytes than in " + it->second.second +
                         " (fingerprints differ): the stores compare different files under one name");
      }
      path_print.emplace(m.path, std::make_pair(print, file));
      auto [it, added] = model_index.emplace(print, static_cast<std::int32_t>(out.models.size()));
      if (added) out.models.push_back(m);
      remap.push_back(it->second);
    }
    // Units: identical ones (same model bytes, tensors, sub-matrix) are one unit.
    std::vector<std::uint64_t> unit_remap(s.units.size());
    for (const auto& u : s.units) {
      const UnitIdentity id{s.models.at(static_cast<std::size_t>(u.model_a)).fingerprint(),
                            s.models.at(static_cast<std::size_t>(u.model_b)).fingerprint(),
                            u.kind,
                            u.key_a,
                            u.key_b,
                            u.tensor_a,
                            u.tensor_b,
                            u.rows,
                            u.cols};
      auto [it, added] = unit_index.emplace(id, out.units.size());
      if (added) {
        auto copy = u;
        copy.id = out.units.size();
        copy.model_a = remap.at(static_cast<std::size_t>(u.model_a));
        copy.model_b = remap.at(static_cast<std::size_t>(u.model_b));
        out.units.push_back(copy);
      }
      unit_remap[u.id] = it->second;
    }
    for (std::size_t row = 0; row < s.done_ids.size(); ++row) {
      const auto uid = unit_remap.at(s.done_ids[row]);
      const double* stats = s.stats.data() + row * k;
      const auto [it, added] = done_row.emplace(uid, out.done_ids.size());
      if (added) {
        out.done_ids.push_back(uid);
        out.stats.insert(out.stats.end(), stats, stats + k);
        out.hash_a.push_back(s.hash_a.at(row));
        out.hash_b.push_back(s.hash_b.at(row));
        row_convention.push_back(convention);
        if (const auto v = s.values.find(s.done_ids[row])) out.values.put(uid, v->a, v->b);
        if (const auto v = s.sketches.find(s.done_ids[row])) out.sketches.put(uid, v->a(), v->b());
        if (const auto v = s.joint_null.find(s.done_ids[row])) out.joint_null.put(uid, v->values);
        if (const auto nm = s.neuron_matches.find(s.done_ids[row])) out.neuron_matches.put(uid, nm->a(), nm->b());
        continue;
      }
      ++r.duplicate_units;
      const auto& u = out.units[uid];
      const auto where = "unit " + to_string(u.key_a) + (u.key_a == u.key_b ? "" : " / " + to_string(u.key_b)) + " (" +
                         std::string(to_string(u.kind)) + ", " + out.models[static_cast<std::size_t>(u.model_a)].label +
                         " vs " + out.models[static_cast<std::size_t>(u.model_b)].label + ")";
      const double* kept = out.stats.data() + it->second * k;
      for (std::size_t c = 0; c < k; ++c) {
        if (!agree(kept[c], stats[c], options)) {
          r.conflicts.push_back(where + ": " + out.stat_names[c] + " " + number(kept[c]) + " in an earlier store, " +
                                number(stats[c]) + " in " + file);
        }
      }
      if (hashes_comparable(u, row_convention[it->second], convention) &&
          (out.hash_a[it->second] != s.hash_a.at(row) || out.hash_b[it->second] != s.hash_b.at(row))) {
        r.conflicts.push_back(where + ": byte hashes differ in " + file);
      }
    }
    for (const auto id : s.superseded_ids) superseded.insert(unit_remap.at(id));
    // Unmatched tensors name models by index: renumber them.
    for (auto u : s.unmatched) {
      u.model = remap.at(static_cast<std::size_t>(u.model));
      u.lacking_model = remap.at(static_cast<std::size_t>(u.lacking_model));
      unmatched.insert(std::move(u));
    }
    for (const auto& w : s.writers) writers.insert(w);
    if (!s.evidence_json.empty()) {
      for (const auto& e : nlohmann::json::parse(s.evidence_json)) evidence.push_back(e);
    }
  }
  out.unmatched.assign(unmatched.begin(), unmatched.end());
  out.writers.assign(writers.begin(), writers.end());
  out.plan_rank_of_unit.assign(out.units.size(), -1);  // merged stores have no single plan
  // A unit superseded in one store and computed in another keeps its results.
  for (const auto id : superseded) {
    if (!done_row.count(id)) out.superseded_ids.push_back(id);
  }
  out.status = io::units_missing(out) == 0 ? "complete" : "partial";
  nlohmann::json config{{"merged_from", inputs}, {"screen", screening}};
  if (values) config["block_scaled"] = "values";
  // One block size for every input: the merged store hashes as they did. Otherwise its
  // convention is unknown (null), and a later merge compares only its statistics.
  if (!conventions_agree || (common && !common->known)) {
    config["row_block_bytes"] = nullptr;
  } else if (common && common->block_bytes != std::numeric_limits<std::uint64_t>::max()) {
    config["row_block_bytes"] = common->block_bytes;
  }
  out.config_json = config.dump();
  if (!evidence.empty()) out.evidence_json = evidence.dump();
  // Rows in ascending unit id, as written by compare (done_row is ordered by unit id).
  std::vector<std::uint64_t> ids, hash_a, hash_b;
  io::SpilledVector<double> stats;
  for (const auto& [uid, row] : done_row) {
    ids.push_back(uid);
    stats.insert(stats.end(), out.stats.begin() + static_cast<std::ptrdiff_t>(row * k),
                 out.stats.begin() + static_cast<std::ptrdiff_t>((row + 1) * k));
    hash_a.push_back(out.hash_a[row]);
    hash_b.push_back(out.hash_b[row]);
  }
  out.done_ids = std::move(ids);
  out.stats = std::move(stats);
  out.hash_a = std::move(hash_a);
  out.hash_b = std::move(hash_b);
  return r;
}

}  // namespace lineage::jobs
