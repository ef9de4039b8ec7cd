#pragma once
/// @file generic_reading.hpp
/// The generic decoder reading loaded from families/_generic_decoder.yaml: name patterns ->
/// tensor keys, used only when no family file fits a checkpoint (docs/families.md, "Selection
/// and fallback"). Plain data: io/family_file.cpp fills it, stages/inventory/generic_reader.cpp
/// applies it.

#include <optional>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "core/expr/expression.hpp"
#include "core/family_spec.hpp"
#include "core/tensor_key.hpp"

namespace lineage {

/// One rule: a regular expression over the whole tensor name and the key it gives.
struct GenericRule {
  std::string where;     ///< "families/_generic_decoder.yaml:rules[3]" for messages
  std::string pattern;   ///< as written, before placeholders are substituted
  std::regex regex;      ///< compiled, placeholders substituted
  int layer_group = 0;   ///< capture group of {layer} (0: the rule has none)
  int expert_group = 0;  ///< capture group of {expert} (0: the rule has none)
  Component component = Component::text;
  TensorRole role = TensorRole::other;
  Projection projection = Projection::none;
  std::optional<ParamKind> kind;  ///< none: from the name's last component (GenericReading::kinds)
};

struct GenericReading {
  std::string file;
  std::string family = "generic_decoder";  ///< the id an inventory read this way reports
  /// Last dotted component of a name -> kind ("bias" -> bias); anything else is a weight.
  std::vector<std::pair<std::string, ParamKind>> kinds;
  std::vector<GenericRule> rules;

  /// Reading a config no family matches (lineage arch), from the file's `config` section:
  /// the common spellings of the unified keys as vars in the family expression language
  /// (`hidden: "hidden_size ?? d_model ?? n_embd"`), ...
  std::vector<std::pair<std::string, expr::Expression>> config_vars;
  /// ... the sub-configs a composite model nests its text decoder under (the first present is
  /// read; none: the top-level config) ...
  std::vector<std::string> text_configs;
  /// ... and those of its other towers (vision, audio). Every `*_config` object with a
  /// model_type is a tower too; these are listed even without one.
  std::vector<std::string> tower_configs;
  /// A tower's component from its config key: the first component one of whose words the key
  /// contains ("vision_config" -> vision); none: Component::other.
  std::vector<std::pair<Component, std::vector<std::string>>> tower_components;
  /// Tensor names no family entry claims, told apart by words in them ("MTP tensors": eh_proj,
  /// enorm, ...), for lineage arch's breadcrumbs; the first kind whose word a name contains.
  std::vector<std::pair<std::string, std::vector<std::string>>> breadcrumbs;
  /// lineage arch's table: a unified key ("routed experts") -> the names it is read from, first
  /// known wins (family vars and config keys in each family's spelling), from `config.facts`.
  std::vector<std::pair<std::string, std::vector<std::string>>> fact_names;
  /// The tensors a config no family names implies (the file's `estimate` section, a family
  /// definition without `match`): planning a folder that holds config.json alone. Its names are
  /// the generic decoder's spelling, not the model's.
  std::optional<FamilySpec> estimate;
};

}  // namespace lineage
