#include "io/tokenizer_file.hpp"

#include <algorithm>
#include <set>

#include "core/errors.hpp"
#include "io/hf_config.hpp"
#include "io/model_folder.hpp"

namespace lineage::io {

TokenizerFile read_tokenizer_file(const std::filesystem::path& path) {
  std::error_code ec;
  const bool folder = std::filesystem::is_directory(path, ec);
  const auto file = folder ? path / "tokenizer.json" : path;
  if (!std::filesystem::exists(std::filesystem::symlink_status(file, ec))) {
    throw InputError(file.string(), "no tokenizer.json");
  }
  return tokenizer_from_json(read_json_file(folder ? resolve_in_model_folder(path, "tokenizer.json", path) : file),
                             file.string());
}

TokenizerFile tokenizer_from_json(const nlohmann::json& j, const std::string& path) {
  TokenizerFile t;
  t.path = path;
  if (!j.is_object() || !j.contains("model") || !j["model"].is_object()) {
    throw InputError(t.path, "no \"model\" section: not a Hugging Face tokenizer.json");
  }
  const auto& m = j["model"];
  const auto typed = [&](const nlohmann::json& v, bool ok, const std::string& key) -> const nlohmann::json& {
    if (!ok) throw InputError(t.path, "key '" + key + "' has the wrong type");
    return v;
  };
  t.model_type = m.contains("type") && !m["type"].is_null()
                     ? typed(m["type"], m["type"].is_string(), "model.type").get<std::string>()
                     : std::string(m.contains("merges") ? "BPE" : "WordPiece");
  t.byte_fallback = m.contains("byte_fallback") && !m["byte_fallback"].is_null() &&
                    typed(m["byte_fallback"], m["byte_fallback"].is_boolean(), "model.byte_fallback").get<bool>();
  std::set<std::int64_t> added_ids;
  if (j.contains("added_tokens") && j["added_tokens"].is_array()) {
    for (const auto& a : j["added_tokens"]) {
      if (!a.is_object() || !a.contains("id") || !a.contains("content")) continue;
      if (!a["id"].is_number_integer() || !a["content"].is_string() ||
          (a.contains("special") && !a["special"].is_boolean())) {
        throw InputError(t.path, "key 'added_tokens' holds an entry with a wrong-typed id, content or special");
      }
      t.added.push_back({a["id"].get<std::int64_t>(), a["content"].get<std::string>(), a.value("special", false)});
      added_ids.insert(t.added.back().id);
    }
  }
  const auto vocab = m.find("vocab");
  if (vocab == m.end()) throw InputError(t.path, "model has no vocab");
  if (vocab->is_object()) {  // BPE / WordPiece / WordLevel: token -> id
    for (auto it = vocab->begin(); it != vocab->end(); ++it) {
      if (!it.value().is_number_integer()) throw InputError(t.path, "vocab id of '" + it.key() + "' is not an integer");
      const auto id = it.value().get<std::int64_t>();
      if (!added_ids.count(id)) t.vocab.emplace_back(id, it.key());
    }
  } else if (vocab->is_array()) {  // Unigram: [[piece, score], ...], id = position
    std::int64_t id = 0;
    for (const auto& e : *vocab) {
      if (e.is_array() && !e.empty() && e[0].is_string() && !added_ids.count(id))
        t.vocab.emplace_back(id, e[0].get<std::string>());
      ++id;
    }
  } else {
    throw InputError(t.path, "vocab is neither an object nor a list");
  }
  std::sort(t.vocab.begin(), t.vocab.end());
  if (const auto merges = m.find("merges"); merges != m.end() && merges->is_array()) {
    t.merges.reserve(merges->size());
    for (const auto& mg : *merges) {
      if (mg.is_string()) {  // "a b"
        const auto s = mg.get<std::string>();
        const auto sp = s.find(' ');
        if (sp == std::string::npos) throw InputError(t.path, "a merge of 'model.merges' has no space");
        t.merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
      } else if (mg.is_array() && mg.size() == 2) {  // ["a", "b"] (tokenizers >= 0.20)
        if (!mg[0].is_string() || !mg[1].is_string()) throw InputError(t.path, "key 'model.merges' holds a non-string");
        t.merges.emplace_back(mg[0].get<std::string>(), mg[1].get<std::string>());
      }
    }
  }
  // Surface encoding: ByteLevel anywhere in the pipeline means the GPT-2 byte alphabet; a '▁'
  // metaspace or byte fallback means SentencePiece style.
  const auto pipeline = j.value("pre_tokenizer", nlohmann::json()).dump() +
                        j.value("decoder", nlohmann::json()).dump() + j.value("normalizer", nlohmann::json()).dump();
  if (pipeline.find("\"ByteLevel\"") != std::string::npos) {
    t.encoding = TokenEncoding::byte_level;
  } else if (t.byte_fallback || pipeline.find("Metaspace") != std::string::npos ||
             pipeline.find("\xE2\x96\x81") != std::string::npos || pipeline.find("\\u2581") != std::string::npos) {
    t.encoding = TokenEncoding::sentencepiece;
  }
  return t;
}

}  // namespace lineage::io
