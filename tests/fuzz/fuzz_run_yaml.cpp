// A YAML run file (lineage compare --run, submit, status).
#include "fuzz_support.hpp"
#include "io/run_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return lineage::fuzz::run([&] {
    const auto p = lineage::fuzz::write_input("run.yaml", data, size);
    (void)lineage::io::read_run_file(p);
  });
}
