#include "pipeline/commands/commands.hpp"

#include "pipeline/cli.hpp"

namespace lineage::pipeline {

const std::vector<Subcommand>& subcommands() {
  // One line per subcommand; each lives in pipeline/commands/<name>.cpp.
  static const std::vector<Subcommand> kCommands = {
      {"inventory", "classify every tensor of a checkpoint (headers only)", commands::inventory},
      {"synth", "write small checkpoints with known provenance", commands::synth},
      {"compare", "compare a suspect with a parent and controls (MPI, HDF5 store)", commands::compare},
      {"verdict", "verdicts with their evidence from a result store", commands::verdict},
      {"report", "an HTML page with plots (and Markdown) of a result store's verdicts", commands::report},
      {"tokenizer", "compare two tokenizers token by token (as bytes)", commands::tokenizer},
      {"arch", "architecture tables, parameters and a catalogue of public architectures", commands::arch},
      {"behaviour", "black-box test on pre-generated outputs against the parent and controls", commands::behaviour},
      {"fetch", "download a remote checkpoint (resumable, sizes and SHA-256 checked)", commands::fetch},
      {"plan", "bytes per rank, imbalance and wall time of a run at N ranks", commands::plan},
      {"submit", "check the inputs, write sbatch scripts and submit them to Slurm", commands::submit},
      {"merge", "combine result stores from different runs or clusters", commands::merge},
      {"status", "where a run stands: units done, checkpoints, Slurm jobs", commands::status},
      {"check", "verify a result store: schema, completeness, checksums, input fingerprints", commands::check},
  };
  return kCommands;
}

}  // namespace lineage::pipeline
