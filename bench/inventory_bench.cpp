// Inventory of a checkpoint with >100k tensors (DeepSeek-V3/Kimi-class tensor counts): writes a
// sharded qwen3_moe checkpoint of tiny tensors (66 layers x 512 experts) into a temp folder,
// then times listing the headers + classifying every tensor, the index-only variant, and the
// run plan of the checkpoint paired with itself.
// Prints the median of 5 runs. Not part of the test suite (see docs/benchmarks.md).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

#include "core/run_config.hpp"
#include "core/usable_cores.hpp"
#include "io/atomic_file.hpp"
#include "io/checkpoint_listing.hpp"
#include "io/family_file.hpp"
#include "io/hf_config.hpp"
#include "io/safetensors_writer.hpp"
#include "pipeline/data_dirs.hpp"
#include "stages/inventory/expand_family.hpp"
#include "stages/inventory/inventory.hpp"
#include "stages/plan/run_plan.hpp"

using namespace lineage;

namespace {

int run() {
  const auto dir = std::filesystem::temp_directory_path() / "lineage-bench-inventory";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const auto registry = io::load_family_registry(pipeline::default_families_dir());
  const nlohmann::json cfg = {{"architectures", {"Qwen3MoeForCausalLM"}},
                              {"model_type", "qwen3_moe"},
                              {"hidden_size", 4},
                              {"num_hidden_layers", 66},
                              {"num_attention_heads", 2},
                              {"num_key_value_heads", 1},
                              {"head_dim", 2},
                              {"vocab_size", 8},
                              {"intermediate_size", 4},
                              {"num_experts", 512},
                              {"num_experts_per_tok", 8},
                              {"moe_intermediate_size", 2},
                              {"torch_dtype", "bfloat16"}};
  const auto tensors = stages::expand_family(registry, "qwen3_moe", cfg);
  const int shards = 8;
  std::vector<std::vector<io::TensorToWrite>> per_shard(shards);
  std::vector<std::vector<std::byte>> data;
  data.reserve(tensors.size());
  nlohmann::json weight_map = nlohmann::json::object();
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const auto& t = tensors[i];
    if (t.optional) continue;
    std::uint64_t n = 1;
    for (auto d : t.shape) n *= d;
    auto& b = data.emplace_back(n * 2);
    const int s = static_cast<int>(i * shards / tensors.size());
    per_shard[static_cast<std::size_t>(s)].push_back({t.name, Dtype::BF16, t.shape, b});
    char file[64];
    std::snprintf(file, sizeof file, "model-%05d-of-%05d.safetensors", s + 1, shards);
    weight_map[t.name] = file;
  }
  for (int s = 0; s < shards; ++s) {
    char file[64];
    std::snprintf(file, sizeof file, "model-%05d-of-%05d.safetensors", s + 1, shards);
    io::write_safetensors(dir / file, per_shard[static_cast<std::size_t>(s)]);
  }
  io::write_text_file(dir / "model.safetensors.index.json",
                      nlohmann::json{{"metadata", nlohmann::json::object()}, {"weight_map", weight_map}}.dump());
  io::write_text_file(dir / "config.json", cfg.dump());
  std::printf("checkpoint: %zu tensors in %d shards\n", weight_map.size(), shards);

  for (bool index_only : {false, true}) {
    std::vector<double> times;
    std::size_t classified = 0;
    for (int run = 0; run < 5; ++run) {
      const auto t0 = std::chrono::steady_clock::now();
      const auto listing = io::list_checkpoint(dir, index_only);
      const auto config = io::read_model_config(dir);
      const auto inv = stages::build_inventory(listing, &*config, registry);
      const auto t1 = std::chrono::steady_clock::now();
      classified = inv.tensors.size();
      if (!inv.clean()) std::printf("warning: inventory not clean\n");
      times.push_back(std::chrono::duration<double>(t1 - t0).count());
    }
    std::sort(times.begin(), times.end());
    std::printf("inventory%s: %zu tensors classified, median %.3f s (min %.3f, max %.3f) over 5 runs\n",
                index_only ? " --index-only" : " (headers)", classified, times[2], times[0], times[4]);
  }
  // The whole first half of `lineage plan RUN.yaml` (and of compare): both models read (on as
  // many threads as this process has cores) and paired into units, the checkpoint as suspect
  // and parent. `lineage plan` adds the rank plans and its output to this.
  {
    RunConfig run;
    run.suspect = dir.string();
    run.parents = {dir.string()};
    stages::RunPlanOptions options;
    options.planning_only = true;
    std::vector<double> times, load_times;
    std::size_t units = 0;
    for (int attempt = 0; attempt < 5; ++attempt) {
      auto t0 = std::chrono::steady_clock::now();
      auto pair_start = t0;
      options.before_step = [&](std::string_view step) {
        if (step == "pair") pair_start = std::chrono::steady_clock::now();
      };
      const auto plan = stages::build_run_plan(run, registry, options);
      const auto t1 = std::chrono::steady_clock::now();
      units = plan.units().size();
      times.push_back(std::chrono::duration<double>(t1 - t0).count());
      load_times.push_back(std::chrono::duration<double>(pair_start - t0).count());
    }
    std::sort(times.begin(), times.end());
    std::sort(load_times.begin(), load_times.end());
    std::printf(
        "run plan (suspect = parent = this checkpoint, %zu usable cores): %zu units, median %.3f s (min %.3f, "
        "max %.3f) over 5 runs, of it reading both models %.3f s (median)\n",
        usable_cores(), units, times[2], times[0], times[4], load_times[2]);
  }
  if (!std::getenv("LINEAGE_BENCH_KEEP")) std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace

int main() {
  try {
    return run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_inventory_bench: %s\n", e.what());
    return 1;
  }
}
