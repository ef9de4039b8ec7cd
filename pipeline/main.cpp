#include "core/heap_tuning.hpp"
#include "pipeline/cli.hpp"

int main(int argc, char** argv) {
  (void)lineage::keep_large_buffers_in_heap();
  return lineage::pipeline::run_cli(argc, argv);
}
