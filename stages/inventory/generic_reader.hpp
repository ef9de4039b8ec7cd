#pragma once
/// @file generic_reader.hpp
/// Applies the generic decoder reading (families/_generic_decoder.yaml) to tensor names: the
/// fallback when no family file fits a checkpoint. A name matched by no rule stays unclaimed; a
/// name matched by two rules is ambiguous and stays unclaimed too (never settled by rule order).
/// Rules are evaluated once per name shape (numeric components replaced by '#'), so reading a
/// checkpoint costs a few regex matches per distinct module, not per tensor.

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/generic_reading.hpp"

namespace lineage::stages {

class GenericReader {
 public:
  explicit GenericReader(const GenericReading& reading) : reading_(reading) {}

  /// The key of `name`; nullopt when no rule or more than one rule matches.
  [[nodiscard]] std::optional<TensorKey> classify(std::string_view name);

  /// One line per name shape two rules claim: "'NAME' matches RULE_A and RULE_B".
  [[nodiscard]] const std::vector<std::string>& ambiguities() const noexcept { return ambiguities_; }

 private:
  /// What one name shape reads as: the rule (-1: none or ambiguous) and which numeric
  /// component holds the layer / expert index (-1: none).
  struct Shape {
    int rule = -1;
    int layer_component = -1;
    int expert_component = -1;
    bool per_name = false;  ///< an index is not a whole numeric component: match every name
  };

  [[nodiscard]] Shape read_shape(const std::string& name);
  [[nodiscard]] std::optional<TensorKey> key_for(const GenericRule& rule, std::string_view name, int layer,
                                                 int expert) const;

  const GenericReading& reading_;
  std::unordered_map<std::string, Shape> shapes_;
  std::vector<std::string> ambiguities_;
};

}  // namespace lineage::stages
