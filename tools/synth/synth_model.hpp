#pragma once
/// @file synth_model.hpp
/// An in-memory synthetic checkpoint: config, tensors (values already rounded to BF16, so what
/// is in memory is exactly what a reader decodes), tokenizer and ground-truth provenance.

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "stages/inventory/expected_tensor.hpp"

namespace lineage::tools {

struct SynthTensor {
  stages::ExpectedTensor spec;  ///< name, key, stored shape and layout from the family expansion
  std::vector<float> values;    ///< row-major, product(spec.shape) elements, BF16-exact
};

/// A small byte-level BPE vocabulary: tokens in id order, merges in rank order.
struct SynthTokenizer {
  std::vector<std::string> tokens;                          ///< byte-level (GPT-2 alphabet) strings; id = position
  std::vector<bool> special;                                ///< per id: an added (special) token, not a BPE token
  std::vector<std::pair<std::string, std::string>> merges;  ///< in rank order
};

// nlohmann::json's implicit destructor and moves do not throw; clang-tidy 14 cannot see through
// its assertions.
// NOLINTNEXTLINE(bugprone-exception-escape)
struct SynthModel {
  nlohmann::json config;             ///< config.json in the family's own key spelling
  std::vector<SynthTensor> tensors;  ///< in the order they are written
  SynthTokenizer tokenizer;
  nlohmann::json provenance;  ///< ground truth written as provenance.json
  int shards = 2;             ///< number of safetensors shards to write
};

/// Expands a family for a concrete config: stages::expand_family bound to a registry.
using ExpandFn = std::function<std::vector<stages::ExpectedTensor>(
    std::string_view family, const nlohmann::json& config, std::string_view variant)>;

/// Rounds every element to the nearest BF16 value (round-to-nearest-even).
void round_to_bf16(std::vector<float>& values);

/// Number of elements of a stored shape.
[[nodiscard]] std::uint64_t element_count(const std::vector<std::uint64_t>& shape) noexcept;

}  // namespace lineage::tools
