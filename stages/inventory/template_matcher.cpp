#include "stages/inventory/template_matcher.hpp"

#include <cctype>

namespace lineage::stages {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::optional<TemplateMatch> match_one(const NameTemplate& t, std::string_view name, std::size_t entry) {
  TemplateMatch m;
  m.entry = entry;
  std::size_t pos = 0;
  for (const auto& [lit, slot] : t.parts) {
    if (name.compare(pos, lit.size(), lit) != 0) return std::nullopt;
    pos += lit.size();
    if (slot == NameTemplate::Slot::none) continue;
    const auto start = pos;
    long value = 0;
    while (pos < name.size() && is_digit(name[pos]) && pos - start < 9) value = value * 10 + (name[pos++] - '0');
    if (pos == start) return std::nullopt;
    const int v = static_cast<int>(value);
    if (slot == NameTemplate::Slot::layer) m.layer = v;
    if (slot == NameTemplate::Slot::expert) m.expert = v;
    if (slot == NameTemplate::Slot::index) m.index = v;
  }
  if (pos != name.size()) return std::nullopt;
  return m;
}

std::string template_skeleton(const NameTemplate& t) {
  std::string s;
  for (const auto& [lit, slot] : t.parts) {
    s += lit;
    if (slot != NameTemplate::Slot::none) s += '0';  // a slot is a digit run
  }
  return name_skeleton(s);
}

}  // namespace

void name_skeleton(std::string_view name, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < name.size();) {
    if (is_digit(name[i])) {
      out += '#';
      while (i < name.size() && is_digit(name[i])) ++i;
    } else {
      out += name[i++];
    }
  }
}

std::string name_skeleton(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  name_skeleton(name, out);
  return out;
}

TemplateMatcher::TemplateMatcher(const std::vector<BoundEntry>& entries) : entries_(entries) {
  for (std::size_t i = 0; i < entries.size(); ++i) by_skeleton_[template_skeleton(entries[i].name)].push_back(i);
}

const std::vector<std::size_t>* TemplateMatcher::candidates(std::string_view name) const {
  // One buffer per thread (models are read on several): a lookup per stored name allocated its
  // skeleton, 100k times per checkpoint.
  thread_local std::string skeleton;
  name_skeleton(name, skeleton);
  const auto it = by_skeleton_.find(skeleton);
  return it == by_skeleton_.end() ? nullptr : &it->second;
}

void TemplateMatcher::matches(std::string_view name, std::vector<TemplateMatch>& out) const {
  out.clear();
  if (const auto* entries = candidates(name)) {
    for (auto i : *entries) {
      if (auto m = match_one(entries_[i].name, name, i)) out.push_back(*m);
    }
  }
}

std::optional<TemplateMatch> TemplateMatcher::first(std::string_view name) const {
  if (const auto* entries = candidates(name)) {
    for (auto i : *entries) {
      if (auto m = match_one(entries_[i].name, name, i)) return m;
    }
  }
  return std::nullopt;
}

}  // namespace lineage::stages
