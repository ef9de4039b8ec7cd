#include "stages/execute/unit_outcome.hpp"

#include "core/byte_record.hpp"
#include "core/errors.hpp"

namespace lineage::stages {
namespace {

// The record holds the statistics as stages/execute/unit_stats.hpp's columns, in order; a change of
// those columns is a new version.
// 2: the permutation-null columns (null_axis ... null_p) follow the moments.
// 3: non-finite counts per side (nonfinite_a, nonfinite_b, nonfinite_mismatch) at the end.
// 4: neuron matching: the neuron_* columns at the end, and the sampled neurons with their matches
//    after the values.
// 5: the expert sketches of both sides after the neuron matching.
// 6: the token-mapped embedding columns (mapped_same_id ... rotation_null_p) after the neuron_*
//    columns.
// 7: same layout; the sketches also of the layer matrices (attention, router, shared expert,
//    dense MLP): a version-6 journal's units lack them, so its layer sketch matrices would be empty.
// 8: h under the joint test's relabellings (small same-key units) after the sketches.
// 9: same layout; block-scaled weights (block FP8) are compared on their values, codes times
//    their factors, and their hashes cover the factors (stages/execute/block_scales.hpp): a
//    version-8 journal holds their codes' statistics.
constexpr std::uint32_t kVersion = 9;

}  // namespace

std::vector<std::byte> UnitOutcome::serialize() const {
  std::vector<std::byte> out;
  const auto columns = stat_columns(stats);
  out.reserve(80 + columns.size() * 8 + (values_a.size() + values_b.size() + sketch_a.size() + sketch_b.size()) * 4 +
              neuron_sampled.size() * 16 + joint_null.size() * 4);
  append_value(out, kVersion);
  append_vector(out, columns);
  append_value(out, hash_a);
  append_value(out, hash_b);
  append_vector(out, values_a);
  append_vector(out, values_b);
  append_vector(out, neuron_sampled);
  append_vector(out, neuron_match);
  append_vector(out, sketch_a);
  append_vector(out, sketch_b);
  append_vector(out, joint_null);
  return out;
}

UnitOutcome UnitOutcome::deserialize(std::uint64_t unit_id, std::span<const std::byte> payload) {
  ByteRecordReader r(payload, "unit outcome record");
  const auto version = r.value<std::uint32_t>();
  if (version != kVersion && version != 3)
    throw StoreError(
        "journal record written by another version of lineage's statistics: start the run afresh (without --resume)");
  UnitOutcome o;
  o.unit_id = unit_id;
  o.stats = unit_stats_from_columns(r.vector<double>());
  o.hash_a = r.value<std::uint64_t>();
  o.hash_b = r.value<std::uint64_t>();
  o.values_a = r.vector<float>();
  o.values_b = r.vector<float>();
  o.neuron_sampled = r.vector<std::uint64_t>();
  o.neuron_match = r.vector<std::uint64_t>();
  o.sketch_a = r.vector<float>();
  o.sketch_b = r.vector<float>();
  o.joint_null = r.vector<float>();
  if (!r.at_end()) throw InternalError("unit outcome record has trailing bytes");
  return o;
}

}  // namespace lineage::stages
