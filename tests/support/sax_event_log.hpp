#pragma once
/// @file sax_event_log.hpp
/// A nlohmann SAX reader that writes down every event as text, in order: what the plain-JSON
/// reader's tests and fuzz target compare with nlohmann's own parse. Header-only, so the fuzz
/// targets (which link no test support) can use it too.

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace lineage::testing {

struct SaxEventLog : nlohmann::json_sax<nlohmann::json> {
  std::vector<std::string> log;
  bool null() override { return add("null"); }
  bool boolean(bool v) override { return add(v ? "true" : "false"); }
  bool number_integer(number_integer_t v) override { return add("int " + std::to_string(v)); }
  bool number_unsigned(number_unsigned_t v) override { return add("uint " + std::to_string(v)); }
  bool number_float(number_float_t, const string_t& s) override { return add("float " + s); }
  bool string(string_t& v) override { return add("string " + v); }
  bool binary(binary_t&) override { return add("binary"); }
  bool start_object(std::size_t n) override { return add("{" + std::to_string(n)); }
  bool end_object() override { return add("}"); }
  bool start_array(std::size_t n) override { return add("[" + std::to_string(n)); }
  bool end_array() override { return add("]"); }
  bool key(string_t& k) override { return add("key " + k); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }

 private:
  bool add(std::string e) {
    log.push_back(std::move(e));
    return true;
  }
};

}  // namespace lineage::testing
