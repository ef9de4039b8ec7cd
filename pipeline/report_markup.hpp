#pragma once
/// @file report_markup.hpp
/// The report's document builder (HTML and Markdown side by side) and the small formatting
/// helpers its sections share (pipeline/report_document.cpp, pipeline/report_forensics.cpp).

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "io/report/svg_plot.hpp"

namespace lineage::pipeline::markup {

using io::report::xml_escape;
using nlohmann::json;

inline std::string num(const json& v, const char* format) {
  if (!v.is_number()) return "–";
  char buf[48];
  std::snprintf(buf, sizeof buf, format, v.get<double>());
  return buf;
}

inline std::string str(const json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
}

inline std::string folder_name(const std::string& path) {
  const auto name = std::filesystem::path(path).filename().string();
  return name.empty() ? path : name;
}

/// An id safe in XML ids, file names and CSS: letters, digits and '-'.
inline std::string slug(const std::string& s) {
  std::string out;
  for (const char c : s) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '-';
  return out;
}

/// Builds the HTML and the Markdown side by side, so they cannot drift apart.
class Document {
 public:
  void heading(int level, const std::string& text, const std::string& id = {}) {
    html_ += "<h" + std::to_string(level) + (id.empty() ? "" : " id=\"" + id + "\"") + ">" + xml_escape(text) + "</h" +
             std::to_string(level) + ">\n";
    md_ += "\n" + std::string(static_cast<std::size_t>(level), '#') + " " + text + "\n\n";
  }
  void paragraph(const std::string& text, const std::string& cls = {}) {
    html_ += "<p" + (cls.empty() ? "" : " class=\"" + cls + "\"") + ">" + xml_escape(text) + "</p>\n";
    md_ += text + "\n\n";
  }
  void how_to_read(const std::string& text) {
    html_ += "<p class=\"read\"><b>How to read this.</b> " + xml_escape(text) + "</p>\n";
    md_ += "*How to read this.* " + text + "\n\n";
  }
  /// A table; `html_cells` may hold markup per cell (a strip plot) where the Markdown has text.
  void table(const std::vector<std::string>& head, const std::vector<std::vector<std::string>>& rows,
             const std::vector<std::vector<std::string>>& html_extra = {}, const std::string& extra_head = {}) {
    html_ += "<table><thead><tr>";
    for (const auto& h : head) html_ += "<th>" + xml_escape(h) + "</th>";
    if (!extra_head.empty()) html_ += "<th>" + xml_escape(extra_head) + "</th>";
    html_ += "</tr></thead><tbody>\n";
    for (std::size_t r = 0; r < rows.size(); ++r) {
      html_ += "<tr>";
      for (const auto& c : rows[r]) html_ += "<td>" + xml_escape(c) + "</td>";
      if (r < html_extra.size()) {
        for (const auto& c : html_extra[r]) html_ += "<td>" + c + "</td>";
      }
      html_ += "</tr>\n";
    }
    html_ += "</tbody></table>\n";
    md_ += "|";
    for (const auto& h : head) md_ += " " + h + " |";
    md_ += "\n|";
    for (std::size_t i = 0; i < head.size(); ++i) md_ += "---|";
    md_ += "\n";
    for (const auto& row : rows) {
      md_ += "|";
      for (auto c : row) {
        std::replace(c.begin(), c.end(), '|', '/');
        std::replace(c.begin(), c.end(), '\n', ' ');
        md_ += " " + c + " |";
      }
      md_ += "\n";
    }
    md_ += "\n";
  }
  void preformatted(const std::string& summary, const std::string& text) {
    html_ += "<details><summary>" + xml_escape(summary) + "</summary><pre>" + xml_escape(text) + "</pre></details>\n";
    md_ += "<details><summary>" + summary + "</summary>\n\n```\n" + text + "\n```\n\n</details>\n\n";
  }
  /// A figure inline in the HTML and as figures/NAME.svg for the Markdown.
  void figure(const std::string& name, const std::string& svg, const std::string& alt) {
    html_ += "<div class=\"fig\">" + svg + "</div>\n";
    md_ += "![" + alt + "](figures/" + name + ".svg)\n";
    figures_.emplace_back(name + ".svg", svg);
  }
  void raw_html(const std::string& markup) { html_ += markup; }
  void raw_md(const std::string& text) { md_ += text; }

  std::string html_, md_;
  std::vector<std::pair<std::string, std::string>> figures_;
};

}  // namespace lineage::pipeline::markup
