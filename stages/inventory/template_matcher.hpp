#pragma once
/// @file template_matcher.hpp
/// Exact lookup of stored tensor names against bound name templates, without a config: names
/// are bucketed by their digit skeleton ("model.layers.#.mlp.experts.#.up_proj.weight"), so a
/// lookup is one hash probe plus a literal walk — linear in the number of names overall.

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "stages/inventory/bound_family.hpp"

namespace lineage::stages {

struct TemplateMatch {
  std::size_t entry = 0;  ///< index into the bound entries
  int layer = -1;
  int expert = -1;
  int index = -1;
};

/// Digit runs replaced by '#'.
[[nodiscard]] std::string name_skeleton(std::string_view name);
/// The same into `out` (its contents replaced), which keeps its capacity from name to name.
void name_skeleton(std::string_view name, std::string& out);

class TemplateMatcher {
 public:
  explicit TemplateMatcher(const std::vector<BoundEntry>& entries);
  /// Every entry whose template matches `name` exactly (usually one), into `out` (its contents
  /// replaced: a caller looking up many names keeps one vector).
  void matches(std::string_view name, std::vector<TemplateMatch>& out) const;
  /// The first of matches(name), in entry order.
  [[nodiscard]] std::optional<TemplateMatch> first(std::string_view name) const;

 private:
  /// The entries whose templates have the skeleton of `name`; null when none.
  [[nodiscard]] const std::vector<std::size_t>* candidates(std::string_view name) const;

  const std::vector<BoundEntry>& entries_;
  std::unordered_map<std::string, std::vector<std::size_t>> by_skeleton_;
};

}  // namespace lineage::stages
