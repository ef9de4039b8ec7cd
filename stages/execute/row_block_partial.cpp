#include "stages/execute/row_block_partial.hpp"

#include <cstdint>
#include <cstring>
#include <string>

#include "core/errors.hpp"

namespace lineage::stages {
namespace {

// 1: block geometry, sums (histograms as nonzero (bucket u16, count u32) pairs: a unit's histogram
//    sample is at most about 2^18 elements, kernel buckets 2^15), hashes, sampled outcome.
constexpr std::uint32_t kVersion = 1;
static_assert(kKernelBuckets <= 65536, "histogram buckets are stored as 16-bit indices");

template <typename T>
void put(std::vector<std::byte>& out, const T& v) {
  const auto* p = reinterpret_cast<const std::byte*>(&v);
  out.insert(out.end(), p, p + sizeof(T));
}

void put_histogram(std::vector<std::byte>& out, const std::vector<std::uint64_t>& h) {
  std::uint64_t nonzero = 0;
  for (auto c : h) nonzero += c != 0;
  put(out, static_cast<std::uint64_t>(h.size()));
  put(out, nonzero);
  for (std::size_t i = 0; i < h.size(); ++i) {
    if (h[i] == 0) continue;
    if (h[i] > UINT32_MAX) throw InternalError("row block record: a histogram count exceeds 32 bits");
    put(out, static_cast<std::uint16_t>(i));
    put(out, static_cast<std::uint32_t>(h[i]));
  }
}

struct Reader {
  std::span<const std::byte> in;
  std::size_t pos = 0;
  template <typename T>
  T get() {
    if (pos + sizeof(T) > in.size()) throw InternalError("row block record is truncated");
    T v;
    std::memcpy(&v, in.data() + pos, sizeof(T));
    pos += sizeof(T);
    return v;
  }
  std::vector<std::uint64_t> histogram() {
    const auto size = get<std::uint64_t>();
    const auto nonzero = get<std::uint64_t>();
    if (size != kKernelBuckets || nonzero > size) throw InternalError("row block record: bad histogram");
    std::vector<std::uint64_t> h(size, 0);
    for (std::uint64_t k = 0; k < nonzero; ++k) {
      const auto i = get<std::uint16_t>();
      if (i >= size) throw InternalError("row block record: bad histogram bucket");
      h[i] = get<std::uint32_t>();
    }
    return h;
  }
};

}  // namespace

std::vector<std::byte> RowBlockPartial::serialize() const {
  std::vector<std::byte> out;
  put(out, kVersion);
  for (auto v : {block.index, block.count, block.first_row, block.rows, block.bytes}) put(out, v);
  const auto& s = sums;
  for (double v : {s.n, s.mean_a, s.mean_b, s.m2_a, s.m2_b, s.c_ab, s.s_aa, s.s_bb, s.s_ab, s.s_ad, s.s_dd, s.s_a1,
                   s.s_b1, s.s_a1b1, s.max_d, s.min_a, s.max_a, s.min_b, s.max_b})
    put(out, v);
  for (auto v : {s.n_ok, s.n_bad, s.bit_eq, s.val_eq, s.bad_a, s.bad_b, s.bad_mismatch, s.n_hist, s.hist_stride})
    put(out, v);
  put_histogram(out, s.h_a);
  put_histogram(out, s.h_b);
  put_histogram(out, s.h_d);
  put(out, hash_a);
  put(out, hash_b);
  const auto extra = sampled ? sampled->serialize() : std::vector<std::byte>();
  put(out, static_cast<std::uint8_t>(sampled ? 1 : 0));
  put(out, static_cast<std::uint64_t>(extra.size()));
  out.insert(out.end(), extra.begin(), extra.end());
  return out;
}

RowBlockPartial RowBlockPartial::deserialize(std::uint64_t unit_id, std::span<const std::byte> payload) {
  Reader r{payload};
  if (r.get<std::uint32_t>() != kVersion) {
    throw StoreError(
        "journal row block record written by another version of lineage: start the run afresh (without --resume)");
  }
  RowBlockPartial p;
  p.block.unit_id = unit_id;
  for (auto* v : {&p.block.index, &p.block.count, &p.block.first_row, &p.block.rows, &p.block.bytes})
    *v = r.get<std::uint64_t>();
  auto& s = p.sums;
  for (double* v : {&s.n, &s.mean_a, &s.mean_b, &s.m2_a, &s.m2_b, &s.c_ab, &s.s_aa, &s.s_bb, &s.s_ab, &s.s_ad, &s.s_dd,
                    &s.s_a1, &s.s_b1, &s.s_a1b1, &s.max_d, &s.min_a, &s.max_a, &s.min_b, &s.max_b})
    *v = r.get<double>();
  for (auto* v :
       {&s.n_ok, &s.n_bad, &s.bit_eq, &s.val_eq, &s.bad_a, &s.bad_b, &s.bad_mismatch, &s.n_hist, &s.hist_stride})
    *v = r.get<std::uint64_t>();
  s.h_a = r.histogram();
  s.h_b = r.histogram();
  s.h_d = r.histogram();
  p.hash_a = r.get<std::uint64_t>();
  p.hash_b = r.get<std::uint64_t>();
  const bool has_sampled = r.get<std::uint8_t>() != 0;
  const auto len = r.get<std::uint64_t>();
  if (len > payload.size() - r.pos) throw InternalError("row block record is truncated");
  if (has_sampled) p.sampled = UnitOutcome::deserialize(unit_id, payload.subspan(r.pos, len));
  r.pos += len;
  if (r.pos != payload.size()) throw InternalError("row block record has trailing bytes");
  return p;
}

}  // namespace lineage::stages
