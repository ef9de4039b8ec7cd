#include "core/family_spec.hpp"

namespace lineage {

bool NameTemplate::has(Slot s) const noexcept {
  for (const auto& p : parts) {
    if (p.second == s) return true;
  }
  return false;
}

std::string NameTemplate::render(int layer, int expert, int index) const {
  std::string out;
  out.reserve(64);
  for (const auto& [text, slot] : parts) {
    out += text;
    switch (slot) {
      case Slot::layer:
        out += std::to_string(layer);
        break;
      case Slot::expert:
        out += std::to_string(expert);
        break;
      case Slot::index:
        out += std::to_string(index);
        break;
      case Slot::none:
        break;
    }
  }
  return out;
}

std::string NameTemplate::source() const {
  std::string out;
  for (const auto& [text, slot] : parts) {
    out += text;
    if (slot == Slot::layer) out += "{layer}";
    if (slot == Slot::expert) out += "{expert}";
    if (slot == Slot::index) out += "{index}";
  }
  return out;
}

}  // namespace lineage
