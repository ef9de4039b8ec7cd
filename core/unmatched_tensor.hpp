#pragma once
/// @file unmatched_tensor.hpp
/// A tensor of one model with no counterpart in another: what the pair stage records, the store
/// keeps in typed columns and the verdict counts. Prose ("model 1 lacks text/lm_head") exists
/// only where it is formatted for a reader (to_string).

#include <compare>
#include <iosfwd>
#include <string>
#include <string_view>
#include <variant>

#include "core/tensor_key.hpp"

namespace lineage {

struct UnmatchedTensor {
  int model = 0;          ///< the model that holds the tensor (an index into the run's models)
  int lacking_model = 1;  ///< the model with no tensor of that key
  /// The tensor's key, or its raw name when the name does not parse as a canonical key (a store
  /// written by another version of lineage).
  std::variant<TensorKey, std::string> key;

  /// The key's canonical text (core/tensor_key to_string), or the raw name.
  [[nodiscard]] std::string key_text() const;
  [[nodiscard]] const TensorKey* tensor_key() const noexcept { return std::get_if<TensorKey>(&key); }

  friend bool operator==(const UnmatchedTensor&, const UnmatchedTensor&) = default;
  // clang-tidy 14 reads the defaulted <=>'s comparison with literal 0 as a null pointer.
  friend auto operator<=>(const UnmatchedTensor&, const UnmatchedTensor&) = default;  // NOLINT(modernize-use-nullptr)
};

/// A record from stored text: the key is a TensorKey when `key_text` is the canonical text of one
/// (parse_canonical_tensor_key), the raw name otherwise.
[[nodiscard]] UnmatchedTensor unmatched_tensor(int model, int lacking_model, std::string_view key_text);

/// For a reader: "model 1 lacks text/lm_head", or "model 0 lacks KEY of model 1" when the tensor
/// belongs to another model than the suspect (model 0).
[[nodiscard]] std::string to_string(const UnmatchedTensor& u);
/// Writes to_string(u) (test messages, logs).
std::ostream& operator<<(std::ostream& out, const UnmatchedTensor& u);

}  // namespace lineage
