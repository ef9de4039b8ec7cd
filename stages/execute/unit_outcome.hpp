#pragma once
/// @file unit_outcome.hpp
/// The result of one comparison unit: its statistics, the raw-byte hashes of both sides, for small vectors and
/// routers the decoded values, and for MLP units the recovered neuron matching. Serialised as a journal record payload,
/// so a resumed run recovers it bit for bit.

#include <cstdint>
#include <span>
#include <vector>

#include "stages/execute/unit_stats.hpp"

namespace lineage::stages {

struct UnitOutcome {
  std::uint64_t unit_id = 0;
  UnitStats stats;
  std::uint64_t hash_a = 0;
  std::uint64_t hash_b = 0;
  std::vector<float> values_a;
  std::vector<float> values_b;
  /// Per-expert sketches of both sides (stages/execute/expert_sketch.hpp); empty for other units.
  std::vector<float> sketch_a;
  std::vector<float> sketch_b;
  /// Neuron matching of MLP units: the suspect's sampled neurons and the other's neuron matched
  /// to each (empty when not matched).
  std::vector<std::uint64_t> neuron_sampled;
  std::vector<std::uint64_t> neuron_match;
  /// Small same-key units: h under the joint test's shared relabellings (HiddenNull::joint).
  std::vector<float> joint_null;

  [[nodiscard]] std::vector<std::byte> serialize() const;
  /// Throws InternalError on a payload that does not parse (the journal checksum already
  /// guarantees integrity, so this means a version mismatch).
  [[nodiscard]] static UnitOutcome deserialize(std::uint64_t unit_id, std::span<const std::byte> payload);
};

}  // namespace lineage::stages
