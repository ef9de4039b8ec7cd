#pragma once
/// @file family_spec.hpp
/// One architecture family as loaded from families/<id>.yaml (docs/families.md). Plain data:
/// io/family_file.cpp fills it, stages/inventory/expand_family.cpp expands it for a config.

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/dtype.hpp"
#include "core/expr/expression.hpp"
#include "core/tensor_key.hpp"

namespace lineage {

/// How a stored tensor maps onto per-expert / per-projection views (see docs/families.md).
struct StorageLayout {
  bool stacked = false;     ///< leading axis indexes experts
  bool transposed = false;  ///< stored [in, out] instead of HF's [out, in]
  enum class GateUp : std::uint8_t { none, concatenated, interleaved } gate_up = GateUp::none;
  friend bool operator==(const StorageLayout&, const StorageLayout&) = default;
};

/// A name template split into literal text and {layer} / {expert} / {index} slots.
struct NameTemplate {
  enum class Slot : std::uint8_t { none, layer, expert, index };
  std::vector<std::pair<std::string, Slot>> parts;  ///< literal followed by a slot (or none)
  [[nodiscard]] bool has(Slot s) const noexcept;
  [[nodiscard]] std::string render(int layer, int expert, int index) const;
  [[nodiscard]] std::string source() const;
};

struct FamilyEntry {
  std::string where;  ///< "families/x.yaml:tensors[3]" for error messages
  TensorRole role = TensorRole::other;
  std::optional<Component> component;  ///< default: the component the family is mounted as
  Projection projection = Projection::none;
  ParamKind kind = ParamKind::weight;
  NameTemplate name;
  std::vector<expr::Expression> shape;
  std::optional<expr::Expression> when;
  bool optional = false;
  StorageLayout layout;
  std::optional<Dtype> dtype;
  std::optional<std::pair<expr::Expression, expr::Expression>> layer_range;
  std::optional<expr::Expression> expert_count;
  std::optional<std::pair<expr::Expression, expr::Expression>> index_range;
};

struct FamilyVariant {
  std::string name;
  std::vector<FamilyEntry> tensors;
};

/// Another family mounted under renamed prefixes, evaluated against a sub-config.
struct FamilyMount {
  std::string where;
  std::string family;
  Component component = Component::text;
  std::optional<std::string> config_key;  ///< sub-config key; "": no config; none: the same config
  /// Alternatives; each a list of (from-prefix, to-prefix) applied longest-from first.
  std::vector<std::vector<std::pair<std::string, std::string>>> renames;
  std::vector<std::pair<std::string, expr::Expression>> vars;  ///< extra vars for the mount
  bool optional = false;                                       ///< absence of all its tensors is not an error
};

struct FamilySpec {
  std::string id;
  std::string file;
  std::string description;
  std::vector<std::string> architectures;
  std::vector<std::string> model_types;
  std::vector<std::pair<std::string, expr::Expression>> vars;
  std::optional<expr::Expression> dtype_default;
  std::vector<FamilyEntry> tensors;
  std::vector<FamilyVariant> variants;
  std::vector<FamilyMount> mounts;
};

/// A quantisation companion rule from families/_quantization.yaml: a tensor named
/// `<prefix>.<suffix>` next to `<prefix>.<replaces>` belongs to that weight.
struct CompanionRule {
  std::string where;
  std::string suffix;
  std::string replaces = "weight";
  ParamKind kind = ParamKind::scale;
  std::vector<expr::Expression> shape;  ///< may use d0, d1, ... (the weight's dims) and rank
  std::optional<Dtype> dtype;
  std::optional<Dtype> weight_dtype;  ///< the weight's stored dtype when this companion exists
};

/// Which companions a release's quantization_config implies, for a config read without its
/// index (families/_quantization.yaml `methods`): the method applies when every `when` key of
/// quantization_config equals the given value (compared as text: "fp8", "true").
struct QuantisationMethod {
  std::string where;
  std::vector<std::pair<std::string, std::string>> when;
  std::vector<std::string> companions;  ///< suffixes stored next to each converted weight
};

/// How a quantiser treats a model, as families/_quantization.yaml states it.
struct QuantisationReading {
  std::vector<QuantisationMethod> methods;
  /// Roles whose 2-D `.weight` matrices a weight-only quantiser converts.
  std::vector<TensorRole> converted_roles;
  /// Modules always left in high precision, and quantization_config keys listing more (prefix
  /// match on the module name, as transformers does).
  std::vector<std::string> kept_modules;
  std::vector<std::string> kept_modules_keys;
};

}  // namespace lineage
