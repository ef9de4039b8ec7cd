#pragma once
/// @file text_table.hpp
/// Tables for people: columns padded to their widest cell (counted in UTF-8 code points) on a
/// terminal, or GitHub Markdown. Rows are added whole; a separator draws a rule between blocks.

#include <algorithm>
#include <ostream>
#include <string>
#include <vector>

namespace lineage::pipeline::commands {

enum class TableStyle { terminal, markdown };

class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header) : header_(std::move(header)) {}

  void add(std::vector<std::string> row) {
    row.resize(header_.size());
    rows_.push_back(std::move(row));
  }
  void separator() { rows_.emplace_back(); }

  void print(std::ostream& out, TableStyle style) const {
    if (style == TableStyle::markdown) {
      line(out, header_, {}, "| ", " | ", " |");
      std::vector<std::string> rule(header_.size(), "---");
      line(out, rule, {}, "|", "|", "|");
      for (const auto& r : rows_) {
        if (!r.empty()) line(out, escaped(r), {}, "| ", " | ", " |");
      }
      return;
    }
    std::vector<std::size_t> width(header_.size(), 0);
    for (std::size_t c = 0; c < header_.size(); ++c) width[c] = length(header_[c]);
    for (const auto& r : rows_) {
      for (std::size_t c = 0; c < r.size(); ++c) width[c] = std::max(width[c], length(r[c]));
    }
    line(out, header_, width, "  ", "  ", "");
    std::size_t total = 0;
    for (auto w : width) total += w + 2;
    const std::string rule(total, '-');
    out << "  " << rule << "\n";
    for (const auto& r : rows_) {
      if (r.empty()) {
        out << "  " << rule << "\n";
      } else {
        line(out, r, width, "  ", "  ", "");
      }
    }
  }

 private:
  static std::size_t length(const std::string& s) {
    return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char ch) { return (ch & 0xC0) != 0x80; }));
  }
  static std::vector<std::string> escaped(std::vector<std::string> r) {
    for (auto& s : r) {
      for (std::size_t p = 0; (p = s.find('|', p)) != std::string::npos; p += 2) s.replace(p, 1, "\\|");
    }
    return r;
  }
  static void line(std::ostream& out, const std::vector<std::string>& cells, const std::vector<std::size_t>& width,
                   const char* open, const char* sep, const char* close) {
    out << open;
    for (std::size_t c = 0; c < cells.size(); ++c) {
      if (c) out << sep;
      out << cells[c];
      const bool last = c + 1 == cells.size();
      if (!width.empty() && !last) out << std::string(width[c] - std::min(width[c], length(cells[c])), ' ');
    }
    out << close << "\n";
  }

  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace lineage::pipeline::commands
