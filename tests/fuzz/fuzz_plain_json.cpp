// The plain-JSON reader of headers and indexes against nlohmann's SAX parse: whatever it reads,
// nlohmann reads too, with the same events in the same order (io/plain_json.hpp). A difference
// aborts (a finding); a declined text is fine.
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string_view>

#include "fuzz_support.hpp"
#include "io/plain_json.hpp"
#include "support/sax_event_log.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return lineage::fuzz::run([&] {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    lineage::testing::SaxEventLog plain;
    if (!lineage::io::sax_parse_plain_json(text, plain)) return;
    lineage::testing::SaxEventLog oracle;
    if (!nlohmann::json::sax_parse(text, &oracle) || oracle.log != plain.log) {
      std::fprintf(stderr, "fuzz: the plain JSON reader and nlohmann disagree\n");
      std::abort();
    }
  });
}
