// A family file (--families DIR): templates, expressions, variants.
#include "fuzz_support.hpp"
#include "io/family_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return lineage::fuzz::run([&] {
    const auto p = lineage::fuzz::write_input("fuzzed.yaml", data, size);
    (void)lineage::io::read_family_file(p);
  });
}
