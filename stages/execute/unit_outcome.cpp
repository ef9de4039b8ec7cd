#include "stages/execute/unit_outcome.hpp"

#include <cstring>

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
constexpr std::uint32_t kVersion = 8;

template <typename T>
void put(std::vector<std::byte>& out, const T& v) {
  const auto* p = reinterpret_cast<const std::byte*>(&v);
  out.insert(out.end(), p, p + sizeof(T));
}

template <typename T>
void put_vec(std::vector<std::byte>& out, const std::vector<T>& v) {
  put(out, static_cast<std::uint64_t>(v.size()));
  const auto* p = reinterpret_cast<const std::byte*>(v.data());
  out.insert(out.end(), p, p + v.size() * sizeof(T));
}

struct Reader {
  std::span<const std::byte> in;
  std::size_t pos = 0;
  template <typename T>
  T get() {
    if (pos + sizeof(T) > in.size()) throw InternalError("unit outcome record is truncated");
    T v;
    std::memcpy(&v, in.data() + pos, sizeof(T));
    pos += sizeof(T);
    return v;
  }
  template <typename T>
  std::vector<T> get_vec() {
    const auto n = get<std::uint64_t>();
    if (n > (in.size() - pos) / sizeof(T)) throw InternalError("unit outcome record is truncated");
    std::vector<T> v(n);
    // memcpy from or to the null data() of an empty vector is undefined even for 0 bytes.
    if (n != 0) std::memcpy(v.data(), in.data() + pos, n * sizeof(T));
    pos += n * sizeof(T);
    return v;
  }
};

}  // namespace

std::vector<std::byte> UnitOutcome::serialize() const {
  std::vector<std::byte> out;
  const auto columns = stat_columns(stats);
  out.reserve(80 + columns.size() * 8 + (values_a.size() + values_b.size() + sketch_a.size() + sketch_b.size()) * 4 +
              neuron_sampled.size() * 16 + joint_null.size() * 4);
  put(out, kVersion);
  put_vec(out, columns);
  put(out, hash_a);
  put(out, hash_b);
  put_vec(out, values_a);
  put_vec(out, values_b);
  put_vec(out, neuron_sampled);
  put_vec(out, neuron_match);
  put_vec(out, sketch_a);
  put_vec(out, sketch_b);
  put_vec(out, joint_null);
  return out;
}

UnitOutcome UnitOutcome::deserialize(std::uint64_t unit_id, std::span<const std::byte> payload) {
  Reader r{payload};
  const auto version = r.get<std::uint32_t>();
  if (version != kVersion && version != 3)
    throw StoreError(
        "journal record written by another version of lineage's statistics: start the run afresh (without --resume)");
  UnitOutcome o;
  o.unit_id = unit_id;
  o.stats = unit_stats_from_columns(r.get_vec<double>());
  o.hash_a = r.get<std::uint64_t>();
  o.hash_b = r.get<std::uint64_t>();
  o.values_a = r.get_vec<float>();
  o.values_b = r.get_vec<float>();
  o.neuron_sampled = r.get_vec<std::uint64_t>();
  o.neuron_match = r.get_vec<std::uint64_t>();
  o.sketch_a = r.get_vec<float>();
  o.sketch_b = r.get_vec<float>();
  o.joint_null = r.get_vec<float>();
  if (r.pos != payload.size()) throw InternalError("unit outcome record has trailing bytes");
  return o;
}

}  // namespace lineage::stages
