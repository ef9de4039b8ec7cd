// The safetensors header parser: the 8-byte length + JSON of a shard, as the input says.
#include "fuzz_support.hpp"
#include "io/safetensors_header.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return lineage::fuzz::run([&] {
    const auto p = lineage::fuzz::write_input("x.safetensors", data, size);
    (void)lineage::io::read_safetensors_header(p);
  });
}
