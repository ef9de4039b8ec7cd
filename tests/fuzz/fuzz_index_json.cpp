// model.safetensors.index.json as the listing reads it (index-only: shards need not exist).
#include "fuzz_support.hpp"
#include "io/checkpoint_listing.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return lineage::fuzz::run([&] {
    (void)lineage::fuzz::write_input(lineage::io::kIndexFileName, data, size);
    (void)lineage::io::list_checkpoint(lineage::fuzz::work_dir(), true);
  });
}
