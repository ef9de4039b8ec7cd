#include "core/unit_kind.hpp"

namespace lineage {

std::string_view to_string(UnitKind k) noexcept {
  switch (k) {
    case UnitKind::same_key:
      return "same_key";
    case UnitKind::submatrix:
      return "submatrix";
    case UnitKind::baseline:
      return "baseline";
    case UnitKind::within:
      return "within";
    case UnitKind::cross_role:
      return "cross_role";
    case UnitKind::expert_sketch:
      return "expert_sketch";
    case UnitKind::layer_sketch:
      return "layer_sketch";
    case UnitKind::token_mapped:
      return "token_mapped";
    case UnitKind::matched_expert:
      return "matched_expert";
  }
  return "?";
}

std::optional<UnitKind> parse_unit_kind(std::string_view s) noexcept {
  for (auto k : {UnitKind::same_key, UnitKind::submatrix, UnitKind::baseline, UnitKind::within, UnitKind::cross_role,
                 UnitKind::expert_sketch, UnitKind::layer_sketch, UnitKind::token_mapped, UnitKind::matched_expert}) {
    if (s == to_string(k)) return k;
  }
  return std::nullopt;
}

}  // namespace lineage
