#include "stages/inventory/expected_listing.hpp"

#include <algorithm>
#include <string>

namespace lineage::stages {
namespace {

/// Companion suffixes a quantised release stores next to each converted linear weight, from its
/// quantization_config (block FP8: an inverse scale per block; LLM.int8: row absmax + format byte).
std::vector<std::string> quantisation_companions(const nlohmann::json& config) {
  if (!config.contains("quantization_config") || !config["quantization_config"].is_object()) return {};
  const auto& q = config["quantization_config"];
  const auto method = q.value("quant_method", std::string());
  if (method == "fp8") return {"weight_scale_inv"};
  if (method == "bitsandbytes" && q.value("load_in_8bit", false)) return {"SCB", "weight_format"};
  return {};
}

/// Modules a quantiser leaves in high precision (prefix match, as transformers does).
std::vector<std::string> unconverted_modules(const nlohmann::json& config) {
  std::vector<std::string> out{"lm_head"};
  const auto& q = config["quantization_config"];
  for (const char* key : {"modules_to_not_convert", "llm_int8_skip_modules"}) {
    if (q.contains(key) && q[key].is_array()) {
      for (const auto& m : q[key]) {
        if (m.is_string()) out.push_back(m.get<std::string>());
      }
    }
  }
  return out;
}

/// Linear layers a weight-only quantiser converts: the projection matrices of attention, MLPs
/// and experts (embeddings, routers, norms and convolutions stay in high precision).
bool converted_by_quantiser(const ExpectedTensor& t) {
  if (t.shape.size() != 2 || t.name.size() < 7 || t.name.compare(t.name.size() - 7, 7, ".weight") != 0) return false;
  switch (t.key.role) {
    case TensorRole::attn_q:
    case TensorRole::attn_k:
    case TensorRole::attn_v:
    case TensorRole::attn_o:
    case TensorRole::attn_qkv:
    case TensorRole::mla_q_a:
    case TensorRole::mla_q_b:
    case TensorRole::mla_kv_a:
    case TensorRole::mla_kv_b:
    case TensorRole::linear_attn:
    case TensorRole::dense_mlp:
    case TensorRole::shared_expert:
    case TensorRole::routed_expert:
    case TensorRole::mtp_input_proj:
      return true;
    default:
      return false;
  }
}

}  // namespace

bool has_quantisation_companions(const nlohmann::json& config) { return !quantisation_companions(config).empty(); }

TensorListing expected_listing(const std::vector<ExpectedTensor>& expected, const nlohmann::json& config) {
  TensorListing listing;
  listing.index_only = true;
  const auto companions = quantisation_companions(config);
  const auto keep = companions.empty() ? std::vector<std::string>{} : unconverted_modules(config);
  for (const auto& t : expected) {
    if (t.optional) continue;
    listing.tensors.push_back({t.name, "", std::nullopt, std::nullopt, 0, 0});
    if (companions.empty() || !converted_by_quantiser(t)) continue;
    const auto module = t.name.substr(0, t.name.size() - 7);
    const bool kept = std::any_of(keep.begin(), keep.end(), [&](const std::string& m) {
      return module == m ||
             (module.size() > m.size() && module.compare(0, m.size(), m) == 0 && module[m.size()] == '.');
    });
    if (kept) continue;
    for (const auto& c : companions)
      listing.tensors.push_back({module + "." + c, "", std::nullopt, std::nullopt, 0, 0});
  }
  return listing;
}

}  // namespace lineage::stages
