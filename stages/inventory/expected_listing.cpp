#include "stages/inventory/expected_listing.hpp"

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

namespace lineage::stages {
namespace {

/// A JSON value as the text a `when` condition names ("fp8", "true", "8").
std::string as_text(const nlohmann::json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

/// Companion suffixes a quantised release stores next to each converted linear weight, from its
/// quantization_config and the methods of families/_quantization.yaml.
std::vector<std::string> quantisation_companions(const QuantisationReading& q, const nlohmann::json& config) {
  if (!config.contains("quantization_config") || !config["quantization_config"].is_object()) return {};
  const auto& qc = config["quantization_config"];
  for (const auto& m : q.methods) {
    const bool applies = std::all_of(m.when.begin(), m.when.end(), [&](const auto& kv) {
      return qc.contains(kv.first) && as_text(qc[kv.first]) == kv.second;
    });
    if (applies) return m.companions;
  }
  return {};
}

/// Modules a quantiser leaves in high precision (prefix match, as transformers does).
std::vector<std::string> unconverted_modules(const QuantisationReading& q, const nlohmann::json& config) {
  std::vector<std::string> out = q.kept_modules;
  const auto& qc = config["quantization_config"];
  for (const auto& key : q.kept_modules_keys) {
    if (qc.contains(key) && qc[key].is_array()) {
      for (const auto& m : qc[key]) {
        if (m.is_string()) out.push_back(m.get<std::string>());
      }
    }
  }
  return out;
}

}  // namespace

bool converted_by_quantiser(const QuantisationReading& q, const ExpectedTensor& t) {
  if (t.shape.size() != 2 || t.name.size() < 7 || t.name.compare(t.name.size() - 7, 7, ".weight") != 0) return false;
  return std::find(q.converted_roles.begin(), q.converted_roles.end(), t.key.role) != q.converted_roles.end();
}

bool has_quantisation_companions(const QuantisationReading& quantisation, const nlohmann::json& config) {
  return !quantisation_companions(quantisation, config).empty();
}

TensorListing expected_listing(const std::vector<ExpectedTensor>& expected, const QuantisationReading& quantisation,
                               const nlohmann::json& config) {
  TensorListing listing;
  listing.index_only = true;
  const auto companions = quantisation_companions(quantisation, config);
  const auto keep = companions.empty() ? std::vector<std::string>{} : unconverted_modules(quantisation, config);
  // The companions of the required tensor `t` (none, or one per suffix).
  const auto companions_of = [&](const ExpectedTensor& t) -> std::size_t {
    if (companions.empty() || !converted_by_quantiser(quantisation, t)) return 0;
    const std::string_view module = std::string_view(t.name).substr(0, t.name.size() - 7);
    const bool kept = std::any_of(keep.begin(), keep.end(), [&](const std::string& m) {
      return module == m || (module.size() > m.size() && module.starts_with(m) && module[m.size()] == '.');
    });
    return kept ? 0 : companions.size();
  };
  // Made at its size: grown by doubling, a 140k-tensor listing (Kimi-K2's, its FP8 scales
  // counted) held up to twice its entries, and the old and new buffers at once.
  // Which tensors have companions is worked out once (a prefix search among the modules kept
  // unconverted, for each converted matrix).
  std::vector<bool> with_companions(expected.size(), false);
  std::size_t count = 0;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    if (expected[i].optional) continue;
    const auto n = companions_of(expected[i]);
    with_companions[i] = n > 0;
    count += 1 + n;
  }
  listing.tensors.reserve(count);
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const auto& t = expected[i];
    if (t.optional) continue;
    listing.tensors.push_back({t.name, {}, std::nullopt, std::nullopt, 0, 0});
    if (!with_companions[i]) continue;
    const auto module = t.name.substr(0, t.name.size() - 7);
    for (const auto& c : companions)
      listing.tensors.push_back({module + "." + c, {}, std::nullopt, std::nullopt, 0, 0});
  }
  return listing;
}

}  // namespace lineage::stages
