#include "core/unmatched_tensor.hpp"

#include <ostream>

namespace lineage {

std::string UnmatchedTensor::key_text() const {
  if (const auto* k = tensor_key()) return to_string(*k);
  return std::get<std::string>(key);
}

UnmatchedTensor unmatched_tensor(int model, int lacking_model, std::string_view key_text) {
  UnmatchedTensor u{model, lacking_model, std::string(key_text)};
  if (const auto k = parse_canonical_tensor_key(key_text)) u.key = *k;
  return u;
}

std::string to_string(const UnmatchedTensor& u) {
  // The pair stage pairs the suspect (model 0) with every other model: a tensor of the suspect
  // is named by the model that lacks it, a tensor of another model also by its holder.
  auto text = "model " + std::to_string(u.lacking_model) + " lacks " + u.key_text();
  if (u.model != 0) text += " of model " + std::to_string(u.model);
  return text;
}

std::ostream& operator<<(std::ostream& out, const UnmatchedTensor& u) { return out << to_string(u); }

}  // namespace lineage
