// config.json through the reader and what `lineage arch` does with it (the architecture profile
// evaluates every family's expressions against it).
#include "fuzz_support.hpp"
#include "io/family_file.hpp"
#include "io/hf_config.hpp"
#include "stages/architecture/architecture_profile.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto registry = lineage::io::load_family_registry(LINEAGE_FAMILIES_DIR);
  return lineage::fuzz::run([&] {
    (void)lineage::fuzz::write_input("config.json", data, size);
    const auto config = lineage::io::read_model_config(lineage::fuzz::work_dir());
    if (config) (void)lineage::stages::profile_architecture(*config, registry, "config.json");
  });
}
