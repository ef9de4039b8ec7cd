#include "io/family_file.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <regex>
#include <set>

#include "core/errors.hpp"
#include "io/detail/yaml_reader.hpp"

namespace lineage::io {
namespace {

using lineage::FamilyEntry;
using lineage::NameTemplate;
namespace ex = lineage::expr;

struct Ctx : detail::YamlReader {
  explicit Ctx(const std::filesystem::path& path) : YamlReader(path), file(path.string()) {}

  std::string file;

  [[nodiscard]] std::string scalar(const YAML::Node& n, const std::string& path) const {
    if (!n || !n.IsScalar()) throw error(path, "must be a scalar");
    return n.as<std::string>();
  }

  [[nodiscard]] ex::Expression expression(const YAML::Node& n, const std::string& path) const {
    return ex::Expression(scalar(n, path), file + ":" + path);
  }

  [[nodiscard]] std::vector<std::string> strings(const YAML::Node& n, const std::string& path) const {
    std::vector<std::string> out;
    if (!n) return out;
    if (n.IsScalar()) return {n.as<std::string>()};
    if (!n.IsSequence()) throw error(path, "must be a list");
    for (const auto& i : n) out.push_back(scalar(i, path));
    return out;
  }

  [[nodiscard]] std::vector<std::pair<std::string, ex::Expression>> vars(const YAML::Node& n,
                                                                         const std::string& path) const {
    std::vector<std::pair<std::string, ex::Expression>> out;
    if (!n) return out;
    if (!n.IsMap()) throw error(path, "must be a mapping");
    for (const auto& kv : n) {
      const auto k = kv.first.as<std::string>();
      out.emplace_back(k, expression(kv.second, path + "." + k));
    }
    return out;
  }

  [[nodiscard]] NameTemplate name_template(const std::string& s, const std::string& path) const {
    NameTemplate t;
    std::string lit;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '{') {
        const auto end = s.find('}', i);
        if (end == std::string::npos) throw error(path, "unclosed '{' in name");
        const auto slot = s.substr(i + 1, end - i - 1);
        NameTemplate::Slot sl;
        if (slot == "layer")
          sl = NameTemplate::Slot::layer;
        else if (slot == "expert")
          sl = NameTemplate::Slot::expert;
        else if (slot == "index")
          sl = NameTemplate::Slot::index;
        else
          throw error(path, "unknown placeholder {" + slot + "} (known: layer, expert, index)");
        t.parts.emplace_back(lit, sl);
        lit.clear();
        i = end;
      } else {
        lit += s[i];
      }
    }
    t.parts.emplace_back(lit, NameTemplate::Slot::none);
    return t;
  }

  [[nodiscard]] std::pair<ex::Expression, ex::Expression> range(const YAML::Node& n, const std::string& path) const {
    if (!n.IsSequence() || n.size() != 2) throw error(path, "must be [start, end)");
    return {expression(n[0], path + "[0]"), expression(n[1], path + "[1]")};
  }

  [[nodiscard]] FamilyEntry entry(const YAML::Node& n, const std::string& path) const {
    reject_unknown_keys(n, path,
                        {"role", "component", "projection", "kind", "name", "shape", "when", "optional", "layout",
                         "dtype", "layer_range", "expert_count", "index_range"});
    FamilyEntry e;
    e.where = file + ":" + path;
    const auto role = scalar(n["role"], path + ".role");
    const auto r = parse_role(role);
    if (!r || *r == TensorRole::other) throw error(path + ".role", "unknown role '" + role + "'");
    e.role = *r;
    if (n["component"]) {
      const auto c = parse_component(scalar(n["component"], path + ".component"));
      if (!c) throw error(path + ".component", "unknown component");
      e.component = *c;
    }
    if (n["projection"]) {
      const auto p = parse_projection(scalar(n["projection"], path + ".projection"));
      if (!p) throw error(path + ".projection", "unknown projection '" + n["projection"].as<std::string>() + "'");
      e.projection = *p;
    }
    if (n["kind"]) {
      const auto k = parse_param_kind(scalar(n["kind"], path + ".kind"));
      if (!k) throw error(path + ".kind", "unknown kind");
      e.kind = *k;
    }
    e.name = name_template(scalar(n["name"], path + ".name"), path + ".name");
    const auto shape = n["shape"];
    if (!shape || !shape.IsSequence()) throw error(path + ".shape", "required list of expressions");
    for (std::size_t i = 0; i < shape.size(); ++i) {
      e.shape.push_back(expression(shape[i], path + ".shape[" + std::to_string(i) + "]"));
    }
    if (n["when"]) e.when = expression(n["when"], path + ".when");
    if (n["optional"]) e.optional = n["optional"].as<bool>();
    if (n["dtype"]) {
      const auto d = parse_dtype(scalar(n["dtype"], path + ".dtype"));
      if (!d) throw error(path + ".dtype", "unknown dtype");
      e.dtype = *d;
    }
    if (n["layer_range"]) e.layer_range = range(n["layer_range"], path + ".layer_range");
    if (n["index_range"]) e.index_range = range(n["index_range"], path + ".index_range");
    if (n["expert_count"]) e.expert_count = expression(n["expert_count"], path + ".expert_count");
    if (const auto l = n["layout"]) {
      reject_unknown_keys(l, path + ".layout", {"stacked", "transposed", "gate_up"});
      if (l["stacked"]) e.layout.stacked = l["stacked"].as<bool>();
      if (l["transposed"]) e.layout.transposed = l["transposed"].as<bool>();
      if (l["gate_up"]) {
        const auto g = l["gate_up"].as<std::string>();
        if (g == "concatenated")
          e.layout.gate_up = StorageLayout::GateUp::concatenated;
        else if (g == "interleaved")
          e.layout.gate_up = StorageLayout::GateUp::interleaved;
        else
          throw error(path + ".layout.gate_up", "must be concatenated or interleaved");
      }
    }
    const bool has_expert = e.name.has(NameTemplate::Slot::expert);
    if (e.layout.stacked && has_expert) throw error(path, "a stacked tensor cannot have {expert} in its name");
    if (e.layout.gate_up != StorageLayout::GateUp::none && e.projection != Projection::gate_up) {
      throw error(path, "layout.gate_up needs projection: gate_up");
    }
    if (e.index_range && !e.name.has(NameTemplate::Slot::index)) throw error(path, "index_range without {index}");
    if (!e.index_range && e.name.has(NameTemplate::Slot::index)) throw error(path, "{index} without index_range");
    return e;
  }

  [[nodiscard]] std::vector<FamilyEntry> entries(const YAML::Node& n, const std::string& path) const {
    std::vector<FamilyEntry> out;
    if (!n) return out;
    if (!n.IsSequence()) throw error(path, "must be a list");
    for (std::size_t i = 0; i < n.size(); ++i) out.push_back(entry(n[i], path + "[" + std::to_string(i) + "]"));
    return out;
  }
};

}  // namespace

lineage::FamilySpec read_family_file(const std::filesystem::path& path) {
  const Ctx c(path);
  const auto root = c.load("cannot read");
  c.reject_unknown_keys(root, "(top)",
                        {"family", "description", "match", "vars", "dtype_default", "tensors", "variants", "mounts"});
  lineage::FamilySpec f;
  f.file = path.string();
  f.id = c.scalar(root["family"], "family");
  if (path.stem().string() != f.id)
    throw c.error("family", "'" + f.id + "' must equal the file name '" + path.stem().string() + "'");
  if (root["description"]) f.description = c.scalar(root["description"], "description");
  if (const auto m = root["match"]) {
    c.reject_unknown_keys(m, "match", {"architectures", "model_types"});
    f.architectures = c.strings(m["architectures"], "match.architectures");
    f.model_types = c.strings(m["model_types"], "match.model_types");
  }
  f.vars = c.vars(root["vars"], "vars");
  if (root["dtype_default"]) f.dtype_default = c.expression(root["dtype_default"], "dtype_default");
  f.tensors = c.entries(root["tensors"], "tensors");
  if (const auto vs = root["variants"]) {
    if (!vs.IsSequence()) throw c.error("variants", "must be a list");
    std::set<std::string> names;
    for (std::size_t i = 0; i < vs.size(); ++i) {
      const auto p = "variants[" + std::to_string(i) + "]";
      c.reject_unknown_keys(vs[i], p, {"name", "tensors"});
      lineage::FamilyVariant v;
      v.name = c.scalar(vs[i]["name"], p + ".name");
      if (!names.insert(v.name).second) throw c.error(p + ".name", "duplicate variant '" + v.name + "'");
      v.tensors = c.entries(vs[i]["tensors"], p + ".tensors");
      f.variants.push_back(std::move(v));
    }
  }
  if (const auto ms = root["mounts"]) {
    if (!ms.IsSequence()) throw c.error("mounts", "must be a list");
    for (std::size_t i = 0; i < ms.size(); ++i) {
      const auto p = "mounts[" + std::to_string(i) + "]";
      const auto& m = ms[i];
      c.reject_unknown_keys(m, p, {"family", "component", "config", "rename", "renames", "vars", "optional"});
      lineage::FamilyMount mount;
      mount.where = c.file + ":" + p;
      mount.family = c.scalar(m["family"], p + ".family");
      const auto comp = parse_component(c.scalar(m["component"], p + ".component"));
      if (!comp) throw c.error(p + ".component", "unknown component");
      mount.component = *comp;
      if (m["config"]) {
        // null: the mounted family sees no config (its vars hold the geometry); absent: the same config.
        mount.config_key = m["config"].IsNull() ? std::string() : c.scalar(m["config"], p + ".config");
      }
      auto rename_map = [&](const YAML::Node& r, const std::string& rp) {
        if (!r.IsMap()) throw c.error(rp, "must map prefixes to prefixes");
        std::vector<std::pair<std::string, std::string>> out;
        for (const auto& kv : r) out.emplace_back(kv.first.as<std::string>(), kv.second.as<std::string>());
        std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
        return out;
      };
      if (m["rename"]) mount.renames.push_back(rename_map(m["rename"], p + ".rename"));
      if (const auto rs = m["renames"]) {
        if (!rs.IsSequence()) throw c.error(p + ".renames", "must be a list of rename maps");
        for (std::size_t k = 0; k < rs.size(); ++k) {
          mount.renames.push_back(rename_map(rs[k], p + ".renames[" + std::to_string(k) + "]"));
        }
      }
      if (mount.renames.empty()) mount.renames.push_back({});
      mount.vars = c.vars(m["vars"], p + ".vars");
      if (m["optional"]) mount.optional = m["optional"].as<bool>();
      f.mounts.push_back(std::move(mount));
    }
  }
  return f;
}

lineage::QuantisationReading read_quantisation(const std::filesystem::path& path) {
  const Ctx c(path);
  const auto root = c.load("cannot read");
  lineage::QuantisationReading q;
  if (const auto ms = root["methods"]) {
    if (!ms.IsSequence()) throw c.error("methods", "must be a list");
    for (std::size_t i = 0; i < ms.size(); ++i) {
      const auto p = "methods[" + std::to_string(i) + "]";
      c.reject_unknown_keys(ms[i], p, {"when", "companions"});
      lineage::QuantisationMethod m;
      m.where = c.file + ":" + p;
      const auto when = ms[i]["when"];
      if (!when || !when.IsMap() || when.size() == 0) throw c.error(p + ".when", "required non-empty mapping");
      for (const auto& kv : when) {
        const auto k = kv.first.as<std::string>();
        m.when.emplace_back(k, c.scalar(kv.second, p + ".when." + k));
      }
      m.companions = c.strings(ms[i]["companions"], p + ".companions");
      q.methods.push_back(std::move(m));
    }
  }
  for (const auto& r : c.strings(root["converted_roles"], "converted_roles")) {
    const auto role = parse_role(r);
    if (!role) throw c.error("converted_roles", "unknown role '" + r + "'");
    q.converted_roles.push_back(*role);
  }
  if (const auto k = root["kept_modules"]) {
    c.reject_unknown_keys(k, "kept_modules", {"always", "config_keys"});
    q.kept_modules = c.strings(k["always"], "kept_modules.always");
    q.kept_modules_keys = c.strings(k["config_keys"], "kept_modules.config_keys");
  }
  return q;
}

std::vector<lineage::CompanionRule> read_companion_rules(const std::filesystem::path& path) {
  const Ctx c(path);
  const auto root = c.load("cannot read");
  c.reject_unknown_keys(root, "(top)", {"companions", "methods", "converted_roles", "kept_modules"});
  std::vector<lineage::CompanionRule> out;
  const auto list = root["companions"];
  if (!list || !list.IsSequence()) throw c.error("companions", "required list");
  for (std::size_t i = 0; i < list.size(); ++i) {
    const auto p = "companions[" + std::to_string(i) + "]";
    const auto& n = list[i];
    c.reject_unknown_keys(n, p, {"suffix", "replaces", "kind", "shape", "dtype", "weight_dtype"});
    lineage::CompanionRule r;
    r.where = c.file + ":" + p;
    r.suffix = c.scalar(n["suffix"], p + ".suffix");
    if (n["replaces"]) r.replaces = c.scalar(n["replaces"], p + ".replaces");
    const auto k = parse_param_kind(c.scalar(n["kind"], p + ".kind"));
    if (!k || *k == ParamKind::weight) throw c.error(p + ".kind", "must be scale, quant_meta or bias");
    r.kind = *k;
    const auto shape = n["shape"];
    if (!shape || !shape.IsSequence()) throw c.error(p + ".shape", "required list");
    for (std::size_t s = 0; s < shape.size(); ++s) r.shape.push_back(c.expression(shape[s], p + ".shape"));
    for (const char* key : {"dtype", "weight_dtype"}) {
      if (!n[key]) continue;
      const auto d = parse_dtype(c.scalar(n[key], p + "." + key));
      if (!d) throw c.error(p + "." + key, "unknown dtype");
      (std::string(key) == "dtype" ? r.dtype : r.weight_dtype) = *d;
    }
    out.push_back(std::move(r));
  }
  return out;
}

lineage::GenericReading read_generic_reading(const std::filesystem::path& path) {
  const Ctx c(path);
  const auto root = c.load("cannot read");
  c.reject_unknown_keys(root, "(top)",
                        {"family", "placeholders", "kinds", "rules", "config", "breadcrumbs", "estimate"});
  lineage::GenericReading g;
  g.file = path.string();
  if (root["family"]) g.family = c.scalar(root["family"], "family");
  if (const auto cfg = root["config"]) {
    c.reject_unknown_keys(cfg, "config", {"text_configs", "tower_configs", "tower_components", "vars", "facts"});
    g.text_configs = c.strings(cfg["text_configs"], "config.text_configs");
    g.tower_configs = c.strings(cfg["tower_configs"], "config.tower_configs");
    if (const auto tc = cfg["tower_components"]) {
      if (!tc.IsMap()) throw c.error("config.tower_components", "must map a component to words");
      for (const auto& kv : tc) {
        const auto name = kv.first.as<std::string>();
        const auto comp = parse_component(name);
        if (!comp) throw c.error("config.tower_components." + name, "unknown component");
        g.tower_components.emplace_back(*comp, c.strings(kv.second, "config.tower_components." + name));
      }
    }
    g.config_vars = c.vars(cfg["vars"], "config.vars");
    if (const auto facts = cfg["facts"]) {
      if (!facts.IsMap()) throw c.error("config.facts", "must map a table key to the names it is read from");
      for (const auto& kv : facts) {
        const auto key = kv.first.as<std::string>();
        auto names = c.strings(kv.second, "config.facts." + key);
        if (names.empty()) throw c.error("config.facts." + key, "needs at least one name");
        g.fact_names.emplace_back(key, std::move(names));
      }
    }
  }
  if (const auto est = root["estimate"]) {
    // A family definition without `match`: never selected, only expanded for a config no family names.
    c.reject_unknown_keys(est, "estimate", {"vars", "dtype_default", "tensors"});
    lineage::FamilySpec f;
    f.id = g.family;
    f.file = g.file;
    f.description = "generic estimate from config.json (names not the model's)";
    f.vars = c.vars(est["vars"], "estimate.vars");
    if (est["dtype_default"]) f.dtype_default = c.expression(est["dtype_default"], "estimate.dtype_default");
    f.tensors = c.entries(est["tensors"], "estimate.tensors");
    if (f.tensors.empty()) throw c.error("estimate.tensors", "required non-empty list");
    g.estimate = std::move(f);
  }
  if (const auto bs = root["breadcrumbs"]) {
    if (!bs.IsSequence()) throw c.error("breadcrumbs", "must be a list");
    for (std::size_t i = 0; i < bs.size(); ++i) {
      const auto p = "breadcrumbs[" + std::to_string(i) + "]";
      c.reject_unknown_keys(bs[i], p, {"kind", "words"});
      g.breadcrumbs.emplace_back(c.scalar(bs[i]["kind"], p + ".kind"), c.strings(bs[i]["words"], p + ".words"));
    }
  }

  // {name} -> regex text; {layer} and {expert} hold the one capture group that reads the index.
  std::map<std::string, std::string, std::less<>> placeholders;
  if (const auto ps = root["placeholders"]) {
    if (!ps.IsMap()) throw c.error("placeholders", "must be a mapping");
    for (const auto& kv : ps) {
      const auto k = kv.first.as<std::string>();
      const auto text = c.scalar(kv.second, "placeholders." + k);
      std::regex re;
      try {
        re = std::regex(text, std::regex::ECMAScript);
      } catch (const std::regex_error& e) {
        throw c.error("placeholders." + k, std::string("bad regular expression: ") + e.what());
      }
      const unsigned want = (k == "layer" || k == "expert") ? 1 : 0;
      if (re.mark_count() != want) {
        throw c.error("placeholders." + k, want ? "must have exactly one capture group (the index)"
                                                : "must not capture (write groups as (?:...))");
      }
      placeholders.emplace(k, text);
    }
  }
  if (const auto ks = root["kinds"]) {
    if (!ks.IsMap()) throw c.error("kinds", "must map a name's last component to a kind");
    for (const auto& kv : ks) {
      const auto k = kv.first.as<std::string>();
      const auto kind = parse_param_kind(c.scalar(kv.second, "kinds." + k));
      if (!kind) throw c.error("kinds." + k, "unknown kind");
      g.kinds.emplace_back(k, *kind);
    }
  }
  const auto rules = root["rules"];
  if (!rules || !rules.IsSequence()) throw c.error("rules", "required list");
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const auto p = "rules[" + std::to_string(i) + "]";
    const auto& n = rules[i];
    c.reject_unknown_keys(n, p, {"match", "role", "component", "projection", "kind"});
    lineage::GenericRule r;
    r.where = c.file + ":" + p;
    r.pattern = c.scalar(n["match"], p + ".match");
    const auto role = parse_role(c.scalar(n["role"], p + ".role"));
    if (!role || *role == TensorRole::other)
      throw c.error(p + ".role", "unknown role '" + n["role"].as<std::string>() + "'");
    r.role = *role;
    if (n["component"]) {
      const auto comp = parse_component(c.scalar(n["component"], p + ".component"));
      if (!comp) throw c.error(p + ".component", "unknown component");
      r.component = *comp;
    }
    if (n["projection"]) {
      const auto pr = parse_projection(c.scalar(n["projection"], p + ".projection"));
      if (!pr) throw c.error(p + ".projection", "unknown projection '" + n["projection"].as<std::string>() + "'");
      r.projection = *pr;
    }
    if (n["kind"]) {
      const auto k = parse_param_kind(c.scalar(n["kind"], p + ".kind"));
      if (!k) throw c.error(p + ".kind", "unknown kind");
      r.kind = *k;
    }
    // Substitute {name} placeholders; capture groups are numbered by where {layer}/{expert} occur.
    std::string text;
    int groups = 0;
    for (std::size_t pos = 0; pos < r.pattern.size();) {
      const char ch = r.pattern[pos];
      const bool ident_start =
          pos + 1 < r.pattern.size() &&
          (std::isalpha(static_cast<unsigned char>(r.pattern[pos + 1])) || r.pattern[pos + 1] == '_');
      const auto end = r.pattern.find('}', pos);
      if (ch != '{' || !ident_start || end == std::string::npos) {
        text += ch;
        ++pos;
        continue;
      }
      const auto name = r.pattern.substr(pos + 1, end - pos - 1);
      const auto it = placeholders.find(name);
      if (it == placeholders.end()) throw c.error(p + ".match", "unknown placeholder {" + name + "}");
      if (name == "layer" || name == "expert") {
        int& group = name == "layer" ? r.layer_group : r.expert_group;
        if (group) throw c.error(p + ".match", "{" + name + "} appears twice");
        group = ++groups;
      }
      text += it->second;
      pos = end + 1;
    }
    try {
      r.regex = std::regex(text, std::regex::ECMAScript | std::regex::optimize);
    } catch (const std::regex_error& e) {
      throw c.error(p + ".match", std::string("bad regular expression: ") + e.what());
    }
    if (r.regex.mark_count() != static_cast<unsigned>(groups)) {
      throw c.error(p + ".match", "only {layer} and {expert} may capture (write other groups as (?:...))");
    }
    g.rules.push_back(std::move(r));
  }
  return g;
}

}  // namespace lineage::io

namespace lineage::io {

FamilyRegistry load_family_registry(const std::filesystem::path& dir) {
  if (!std::filesystem::is_directory(dir)) throw ConfigError(dir.string(), "family folder not found");
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".yaml") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  FamilyRegistry reg;
  for (const auto& f : files) {
    const auto name = f.filename().string();
    if (name == "_quantization.yaml") {
      reg.set_companion_rules(read_companion_rules(f));
      reg.set_quantisation(read_quantisation(f));
    } else if (name == "_generic_decoder.yaml") {
      reg.set_generic_reading(read_generic_reading(f));
    } else if (name[0] != '_') {
      reg.add(read_family_file(f));
    }
  }
  reg.validate();
  return reg;
}

}  // namespace lineage::io
