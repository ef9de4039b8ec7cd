#include "stages/pair/token_mapped_units.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <utility>

#include "core/errors.hpp"
#include "io/json_text.hpp"
#include "io/model_source.hpp"
#include "io/tokenizer_file.hpp"
#include "stages/tokenizer/token_map.hpp"

namespace lineage::stages {
namespace {

/// The embedding and lm_head views of a model's text decoder, by key.
std::map<TensorKey, ElementView> token_tables(const Inventory& inv, int model, bool sizes_only) {
  const auto is_token_table = [](const TensorKey& key) {
    return key.component == Component::text && key.kind == ParamKind::weight &&
           (key.role == TensorRole::embedding || key.role == TensorRole::lm_head);
  };
  std::map<TensorKey, ElementView> out;
  for (auto& [key, view] : element_views(inv, model, sizes_only, is_token_table)) out.emplace(key, std::move(view));
  return out;
}

/// The folder's tokenizer (local or remote, read as every other model file is), or nullopt
/// with the reason in `note`.
std::optional<io::TokenizerFile> folder_tokenizer(const std::string& dir, const io::RemoteOptions& remote,
                                                  std::string& note) {
  try {
    const auto source = io::open_model(dir, remote);
    const auto text = source->read_file("tokenizer.json");
    if (!text) {
      note = dir + " has no tokenizer.json";
      return std::nullopt;
    }
    const auto where = source->where("tokenizer.json");
    return io::tokenizer_from_json(io::parse_json_text(*text, where), where);
  } catch (const Error& e) {  // malformed, unreadable, or the network failed: skip, never stop the run
    note = dir + "/tokenizer.json could not be read (" + e.what() + ")";
    return std::nullopt;
  }
}

}  // namespace

void add_token_mapped_units(PairResult& pairs, const std::vector<const Inventory*>& models,
                            const TokenMappedOptions& options) {
  if (models.size() < 2) return;
  const auto skip = [&](const std::string& why) {
    pairs.notes.push_back("embeddings are not compared through the token map: " + why);
  };
  const auto suspect_tables = token_tables(*models[0], 0, options.sizes_only);
  if (suspect_tables.empty()) return;  // nothing to map (the suspect has no token tables)
  std::string note;
  const auto suspect_tokenizer = folder_tokenizer(models[0]->model_dir, options.remote, note);
  if (!suspect_tokenizer) {
    skip(note);
    return;
  }
  for (std::size_t m = 1; m < models.size(); ++m) {
    const auto other_tables = token_tables(*models[m], static_cast<int>(m), options.sizes_only);
    if (other_tables.empty()) continue;
    const auto other_tokenizer = folder_tokenizer(models[m]->model_dir, options.remote, note);
    if (!other_tokenizer) {
      skip(note);
      continue;
    }
    const auto map = map_tokens(*suspect_tokenizer, *other_tokenizer);
    for (const auto& [key, a] : suspect_tables) {
      const auto it = other_tables.find(key);
      if (it == other_tables.end()) continue;
      const auto& b = it->second;
      if (a.cols != b.cols) {
        skip(std::string(to_string(key.role)) + " hidden sizes differ (" + std::to_string(a.cols) + " and " +
             std::to_string(b.cols) + " in " + models[m]->model_dir + ")");
        continue;
      }
      if (a.cols == 0) {  // a table of empty rows (a header may say [V, 0]): nothing to compare
        skip(std::string(to_string(key.role)) + " rows are empty in " + models[0]->model_dir + " and " +
             models[m]->model_dir);
        continue;
      }
      const auto tokens = static_cast<std::size_t>(
          std::min<std::uint64_t>(options.max_tokens, std::max<std::uint64_t>(options.max_elements / a.cols, 1)));
      const auto sample = sample_token_pairs(map, a.rows, b.rows, tokens, options.seed);
      if (sample.size() < options.min_tokens) {
        skip(std::to_string(sample.size()) + " shared tokens with rows in both " + std::string(to_string(key.role)) +
             " tables of " + models[0]->model_dir + " and " + models[m]->model_dir + " (fewer than " +
             std::to_string(options.min_tokens) + ")");
        continue;
      }
      ComparisonUnit u;
      u.id = pairs.units.size();
      u.kind = UnitKind::token_mapped;
      u.key_a = key;
      u.key_b = key;
      u.a = a;
      u.b = b;
      u.rows = sample.size();
      u.cols = a.cols;
      u.sampled = true;  // reads its rows only, not the whole table
      u.sampled_rows = sample.size();
      u.rows_a.reserve(sample.size());
      u.rows_b.reserve(sample.size());
      for (const auto& p : sample) {
        u.rows_a.push_back(static_cast<std::uint64_t>(p.id_a));
        u.rows_b.push_back(static_cast<std::uint64_t>(p.id_b));
      }
      pairs.units.push_back(std::move(u));
    }
  }
}

}  // namespace lineage::stages
