#include "pipeline/cli.hpp"

int main(int argc, char** argv) { return lineage::pipeline::run_cli(argc, argv); }
