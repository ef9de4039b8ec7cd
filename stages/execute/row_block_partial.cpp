#include "stages/execute/row_block_partial.hpp"

#include <cstdint>
#include <string>

#include "core/byte_record.hpp"
#include "core/errors.hpp"

namespace lineage::stages {
namespace {

// 1: block geometry, sums (histograms as nonzero (bucket u16, count u32) pairs: a unit's histogram
//    sample is at most about 2^18 elements, kernel buckets 2^15; a screening pass's of size 0),
//    hashes, sampled outcome.
// 2: same layout; a block-scaled weight's sums are of its values and its block hashes cover the
//    factors (unit_outcome.cpp's version 9).
constexpr std::uint32_t kVersion = 2;
static_assert(kKernelBuckets <= 65536, "histogram buckets are stored as 16-bit indices");

void append_histogram(std::vector<std::byte>& out, const std::vector<std::uint64_t>& h) {
  std::uint64_t nonzero = 0;
  for (auto c : h) nonzero += c != 0;
  append_value(out, static_cast<std::uint64_t>(h.size()));
  append_value(out, nonzero);
  for (std::size_t i = 0; i < h.size(); ++i) {
    if (h[i] == 0) continue;
    if (h[i] > UINT32_MAX) throw InternalError("row block record: a histogram count exceeds 32 bits");
    append_value(out, static_cast<std::uint16_t>(i));
    append_value(out, static_cast<std::uint32_t>(h[i]));
  }
}

std::vector<std::uint64_t> read_histogram(ByteRecordReader& r) {
  const auto size = r.value<std::uint64_t>();
  const auto nonzero = r.value<std::uint64_t>();
  // Empty: a screening pass's (PassStatistics::screen), which keeps none.
  if ((size != kKernelBuckets && size != 0) || nonzero > size) throw InternalError("row block record: bad histogram");
  std::vector<std::uint64_t> h(size, 0);
  for (std::uint64_t k = 0; k < nonzero; ++k) {
    const auto i = r.value<std::uint16_t>();
    if (i >= size) throw InternalError("row block record: bad histogram bucket");
    h[i] = r.value<std::uint32_t>();
  }
  return h;
}

}  // namespace

std::vector<std::byte> RowBlockPartial::serialize() const {
  std::vector<std::byte> out;
  append_value(out, kVersion);
  for (auto v : {block.index, block.count, block.first_row, block.rows, block.bytes}) append_value(out, v);
  const auto& s = sums;
  for (double v : {s.n, s.mean_a, s.mean_b, s.m2_a, s.m2_b, s.c_ab, s.s_aa, s.s_bb, s.s_ab, s.s_ad, s.s_dd, s.s_a1,
                   s.s_b1, s.s_a1b1, s.max_d, s.min_a, s.max_a, s.min_b, s.max_b})
    append_value(out, v);
  for (auto v : {s.n_ok, s.n_bad, s.bit_eq, s.val_eq, s.bad_a, s.bad_b, s.bad_mismatch, s.n_hist, s.hist_stride})
    append_value(out, v);
  append_histogram(out, s.h_a);
  append_histogram(out, s.h_b);
  append_histogram(out, s.h_d);
  append_value(out, hash_a);
  append_value(out, hash_b);
  const auto extra = sampled ? sampled->serialize() : std::vector<std::byte>();
  append_value(out, static_cast<std::uint8_t>(sampled ? 1 : 0));
  append_value(out, static_cast<std::uint64_t>(extra.size()));
  out.insert(out.end(), extra.begin(), extra.end());
  return out;
}

RowBlockPartial RowBlockPartial::deserialize(std::uint64_t unit_id, std::span<const std::byte> payload) {
  ByteRecordReader r(payload, "row block record");
  if (r.value<std::uint32_t>() != kVersion) {
    throw StoreError(
        "journal row block record written by another version of lineage: start the run afresh (without --resume)");
  }
  RowBlockPartial p;
  p.block.unit_id = unit_id;
  for (auto* v : {&p.block.index, &p.block.count, &p.block.first_row, &p.block.rows, &p.block.bytes})
    *v = r.value<std::uint64_t>();
  auto& s = p.sums;
  for (double* v : {&s.n, &s.mean_a, &s.mean_b, &s.m2_a, &s.m2_b, &s.c_ab, &s.s_aa, &s.s_bb, &s.s_ab, &s.s_ad, &s.s_dd,
                    &s.s_a1, &s.s_b1, &s.s_a1b1, &s.max_d, &s.min_a, &s.max_a, &s.min_b, &s.max_b})
    *v = r.value<double>();
  for (auto* v :
       {&s.n_ok, &s.n_bad, &s.bit_eq, &s.val_eq, &s.bad_a, &s.bad_b, &s.bad_mismatch, &s.n_hist, &s.hist_stride})
    *v = r.value<std::uint64_t>();
  s.h_a = read_histogram(r);
  s.h_b = read_histogram(r);
  s.h_d = read_histogram(r);
  if (s.h_a.size() != s.h_b.size() || s.h_a.size() != s.h_d.size()) {
    throw InternalError("row block record: histograms of different sizes");
  }
  s.statistics = s.h_a.empty() ? PassStatistics::screen : PassStatistics::full;
  p.hash_a = r.value<std::uint64_t>();
  p.hash_b = r.value<std::uint64_t>();
  const bool has_sampled = r.value<std::uint8_t>() != 0;
  const auto sampled = r.bytes(r.value<std::uint64_t>());
  if (has_sampled) p.sampled = UnitOutcome::deserialize(unit_id, sampled);
  if (!r.at_end()) throw InternalError("row block record has trailing bytes");
  return p;
}

}  // namespace lineage::stages
