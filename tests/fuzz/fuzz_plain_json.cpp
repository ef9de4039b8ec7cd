// The plain-JSON reader of headers and indexes against nlohmann's SAX parse: whatever it reads,
// nlohmann reads too, with the same events in the same order (io/plain_json.hpp). A difference
// aborts (a finding); a declined text is fine.
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"
#include "io/plain_json.hpp"

namespace {

struct Events : nlohmann::json_sax<nlohmann::json> {
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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return lineage::fuzz::run([&] {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    Events plain;
    if (!lineage::io::sax_parse_plain_json(text, plain)) return;
    Events oracle;
    if (!nlohmann::json::sax_parse(text, &oracle) || oracle.log != plain.log) {
      std::fprintf(stderr, "fuzz: the plain JSON reader and nlohmann disagree\n");
      std::abort();
    }
  });
}
