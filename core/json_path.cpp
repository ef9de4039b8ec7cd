#include "core/json_path.hpp"

#include <string>

namespace lineage {

const nlohmann::json* find_dotted(const nlohmann::json& root, std::string_view dotted) {
  const nlohmann::json* cur = &root;
  std::size_t pos = 0;
  while (true) {
    const auto dot = dotted.find('.', pos);
    const auto part = dotted.substr(pos, dot == std::string_view::npos ? std::string_view::npos : dot - pos);
    if (!cur->is_object()) return nullptr;
    const auto it = cur->find(std::string(part));
    if (it == cur->end()) return nullptr;
    cur = &*it;
    if (dot == std::string_view::npos) return cur;
    pos = dot + 1;
  }
}

}  // namespace lineage
