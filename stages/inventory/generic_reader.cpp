#include "stages/inventory/generic_reader.hpp"

namespace lineage::stages {
namespace {

/// [begin, end) of a dotted component made only of digits ("layers.12.mlp" has one: "12").
struct NumericComponent {
  std::size_t begin = 0;
  std::size_t end = 0;
};

std::vector<NumericComponent> numeric_components(std::string_view name) {
  std::vector<NumericComponent> out;
  std::size_t begin = 0;
  while (begin <= name.size()) {
    auto end = name.find('.', begin);
    if (end == std::string_view::npos) end = name.size();
    bool digits = end > begin;
    for (std::size_t i = begin; i < end && digits; ++i) digits = name[i] >= '0' && name[i] <= '9';
    if (digits) out.push_back({begin, end});
    begin = end + 1;
  }
  return out;
}

/// The name with every numeric component replaced by '#': names that differ only in layer or
/// expert indices share it ("w1" and "w3" do not).
std::string shape_of(std::string_view name) {
  std::string out;
  std::size_t pos = 0;
  for (const auto& c : numeric_components(name)) {
    out.append(name.substr(pos, c.begin - pos));
    out += '#';
    pos = c.end;
  }
  out.append(name.substr(pos));
  return out;
}

int value_of(std::string_view digits) {
  int v = 0;
  for (char ch : digits.substr(0, 9)) v = v * 10 + (ch - '0');
  return v;
}

}  // namespace

std::optional<TensorKey> GenericReader::classify(std::string_view name) {
  const auto shape = shape_of(name);
  auto it = shapes_.find(shape);
  if (it == shapes_.end()) it = shapes_.emplace(shape, read_shape(std::string(name))).first;
  const Shape& s = it->second;
  if (s.rule < 0) return std::nullopt;
  const auto& rule = reading_.rules[static_cast<std::size_t>(s.rule)];
  if (s.per_name) {
    std::match_results<std::string_view::const_iterator> m;
    if (!std::regex_match(name.begin(), name.end(), m, rule.regex)) return std::nullopt;
    const int layer = rule.layer_group
                          ? value_of(std::string_view(&*m[rule.layer_group].first,
                                                      static_cast<std::size_t>(m.length(rule.layer_group))))
                          : -1;
    const int expert = rule.expert_group
                           ? value_of(std::string_view(&*m[rule.expert_group].first,
                                                       static_cast<std::size_t>(m.length(rule.expert_group))))
                           : -1;
    return key_for(rule, name, layer, expert);
  }
  const auto comps = numeric_components(name);
  auto index = [&](int component) {
    if (component < 0) return -1;
    const auto& c = comps[static_cast<std::size_t>(component)];
    return value_of(name.substr(c.begin, c.end - c.begin));
  };
  return key_for(rule, name, index(s.layer_component), index(s.expert_component));
}

GenericReader::Shape GenericReader::read_shape(const std::string& name) {
  Shape s;
  std::vector<std::size_t> matched;
  std::smatch first;
  for (std::size_t i = 0; i < reading_.rules.size(); ++i) {
    std::smatch m;
    if (!std::regex_match(name, m, reading_.rules[i].regex)) continue;
    if (matched.empty()) first = m;
    matched.push_back(i);
  }
  if (matched.empty()) return s;
  if (matched.size() > 1) {
    ambiguities_.push_back("'" + name + "' matches " + reading_.rules[matched[0]].where + " and " +
                           reading_.rules[matched[1]].where);
    return s;
  }
  s.rule = static_cast<int>(matched[0]);
  const auto& rule = reading_.rules[matched[0]];
  const auto comps = numeric_components(name);
  auto component_of = [&](int group) {
    if (group == 0) return -1;
    const auto begin = static_cast<std::size_t>(first.position(group));
    const auto end = begin + static_cast<std::size_t>(first.length(group));
    for (std::size_t c = 0; c < comps.size(); ++c) {
      if (comps[c].begin == begin && comps[c].end == end) return static_cast<int>(c);
    }
    s.per_name = true;  // the index is part of a component: read it from every name's own match
    return -1;
  };
  s.layer_component = component_of(rule.layer_group);
  s.expert_component = component_of(rule.expert_group);
  return s;
}

std::optional<TensorKey> GenericReader::key_for(const GenericRule& rule, std::string_view name, int layer,
                                                int expert) const {
  ParamKind kind = ParamKind::weight;
  if (rule.kind) {
    kind = *rule.kind;
  } else {
    const auto dot = name.rfind('.');
    const auto last = dot == std::string_view::npos ? name : name.substr(dot + 1);
    for (const auto& [suffix, k] : reading_.kinds) {
      if (last == suffix) kind = k;
    }
  }
  return TensorKey{rule.component, rule.role, layer, expert, rule.projection, kind, -1};
}

}  // namespace lineage::stages
