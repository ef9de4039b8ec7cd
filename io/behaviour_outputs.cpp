#include "io/behaviour_outputs.hpp"

#include <fstream>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "core/errors.hpp"
#include "io/json_text.hpp"

namespace lineage::io {
namespace {

std::string strip(const std::string& s) {
  const char* ws = " \t\r\n\v\f";
  const auto b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

}  // namespace

ModelOutputs read_model_outputs(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path.string(), "cannot open the outputs file");
  ModelOutputs m;
  m.path = path.string();
  std::unordered_set<std::string> seen;
  std::string line;
  std::size_t number = 0;
  std::uint64_t next_line_offset = 0;
  while (std::getline(in, line)) {
    ++number;
    const auto line_offset = next_line_offset;
    next_line_offset += line.size() + 1;
    const auto where = "line " + std::to_string(number);
    if (strip(line).empty()) continue;
    nlohmann::json j;
    try {
      // As all outside JSON (io/json_text.hpp): nesting limited, the line's text never echoed.
      j = parse_json_text(line, path.string(), line_offset);
    } catch (const InputError& e) {
      throw InputError(e.file(), e.reason(), where, e.offset());
    }
    if (!j.is_object()) throw InputError(path.string(), "each line must be a JSON object", where);
    const nlohmann::json* id = j.contains("prompt_id") ? &j["prompt_id"] : j.contains("id") ? &j["id"] : nullptr;
    if (!id || !(id->is_string() || id->is_number_integer())) {
      throw InputError(path.string(), "needs a prompt_id (string or integer)", where);
    }
    const auto key = id->is_string() ? id->get<std::string>() : std::to_string(id->get<std::int64_t>());
    std::string output;
    bool found = false;
    for (const char* k : {"output", "text", "completion"}) {
      if (j.contains(k) && j[k].is_string()) {
        output = strip(j[k].get<std::string>());
        found = true;
        break;
      }
    }
    if (!found && j.contains("tokens") && j["tokens"].is_array()) {
      // Token ids compare only between models that share a tokenizer; kept as "id id id".
      for (const auto& t : j["tokens"]) {
        if (!t.is_number_integer()) throw InputError(path.string(), "tokens must be integers", where);
        output += (output.empty() ? "" : " ") + std::to_string(t.get<std::int64_t>());
      }
      found = true;
    }
    if (!found)
      throw InputError(path.string(), "needs an output (\"output\", \"text\", \"completion\" or \"tokens\")", where);
    if (!seen.insert(key).second) throw InputError(path.string(), "prompt_id '" + key + "' appears twice", where);
    m.outputs.emplace_back(key, std::move(output));
  }
  if (m.outputs.empty()) throw InputError(path.string(), "no outputs in the file");
  return m;
}

}  // namespace lineage::io
