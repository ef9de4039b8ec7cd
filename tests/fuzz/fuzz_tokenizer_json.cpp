// tokenizer.json as `lineage tokenizer` reads it.
#include "fuzz_support.hpp"
#include "io/tokenizer_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return lineage::fuzz::run([&] {
    const auto p = lineage::fuzz::write_input("tokenizer.json", data, size);
    (void)lineage::io::read_tokenizer_file(p);
  });
}
