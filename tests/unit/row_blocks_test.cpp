// Row blocks (stages/plan/row_blocks.hpp): boundaries fixed by the unit, blocks computed in any
// order and merged in block order give execute_unit's sums bit for bit, the merge agrees with the
// unsplit pass to rounding, and a 1T-class run plans within 3% at 1024 ranks once split.
#include "stages/plan/row_blocks.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>

#include "core/errors.hpp"
#include "io/dtype_decode.hpp"
#include "io/family_file.hpp"
#include "stages/execute/execute_unit.hpp"
#include "stages/pair/pair_models.hpp"
#include "stages/plan/run_models.hpp"
#include "stages/plan/shard_plan.hpp"
#include "support/arriving_copy.hpp"

namespace lineage::stages {
namespace {

ComparisonUnit unit_of(std::uint64_t rows, std::uint64_t cols, Dtype dt) {
  ComparisonUnit u;
  u.id = 5;
  u.rows = rows;
  u.cols = cols;
  u.a = ElementView{0, "a", "f", dt, 0, 0, rows, cols, cols, 1};
  u.b = ElementView{1, "b", "f", dt, 0, 0, rows, cols, cols, 1};
  return u;
}

std::vector<std::byte> as_bytes(const std::vector<float>& v) {
  std::vector<std::byte> out(v.size() * sizeof(float));
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

/// Same bits, NaN equal to NaN of the same bits.
bool same_bits(double x, double y) {
  std::uint64_t a, b;
  std::memcpy(&a, &x, 8);
  std::memcpy(&b, &y, 8);
  return a == b;
}

void expect_same_sums(const UnitSums& x, const UnitSums& y) {
  for (auto [p, q] : {std::pair{x.n, y.n},
                      {x.mean_a, y.mean_a},
                      {x.mean_b, y.mean_b},
                      {x.m2_a, y.m2_a},
                      {x.m2_b, y.m2_b},
                      {x.c_ab, y.c_ab},
                      {x.s_aa, y.s_aa},
                      {x.s_bb, y.s_bb},
                      {x.s_ab, y.s_ab},
                      {x.s_ad, y.s_ad},
                      {x.s_dd, y.s_dd},
                      {x.s_a1, y.s_a1},
                      {x.s_b1, y.s_b1},
                      {x.s_a1b1, y.s_a1b1},
                      {x.max_d, y.max_d},
                      {x.min_a, y.min_a},
                      {x.max_a, y.max_a},
                      {x.min_b, y.min_b},
                      {x.max_b, y.max_b}}) {
    EXPECT_TRUE(same_bits(p, q)) << p << " vs " << q;
  }
  EXPECT_EQ(x.n_ok, y.n_ok);
  EXPECT_EQ(x.n_bad, y.n_bad);
  EXPECT_EQ(x.bit_eq, y.bit_eq);
  EXPECT_EQ(x.val_eq, y.val_eq);
  EXPECT_EQ(x.bad_a, y.bad_a);
  EXPECT_EQ(x.bad_b, y.bad_b);
  EXPECT_EQ(x.bad_mismatch, y.bad_mismatch);
  EXPECT_EQ(x.n_hist, y.n_hist);
  EXPECT_EQ(x.h_a, y.h_a);
  EXPECT_EQ(x.h_b, y.h_b);
  EXPECT_EQ(x.h_d, y.h_d);
}

/// A 40 MiB F32 unit (three 16 MiB blocks, the last short) with a few non-finite values.
struct LargeUnit {
  static constexpr std::uint64_t rows = 1283, cols = 4096;
  ComparisonUnit unit = unit_of(rows, cols, Dtype::F32);
  std::vector<std::byte> a, b;
  LargeUnit() {
    std::mt19937 rng(11);
    std::normal_distribution<float> nd(0.3f, 0.02f);
    std::vector<float> fa(rows * cols), fb(rows * cols);
    for (std::size_t i = 0; i < fa.size(); ++i) {
      fa[i] = nd(rng);
      fb[i] = i % 7 == 0 ? fa[i] : 0.9f * fa[i] + 0.1f * nd(rng);
    }
    fa[17] = std::numeric_limits<float>::quiet_NaN();
    fb[fb.size() - 3] = std::numeric_limits<float>::infinity();
    a = as_bytes(fa), b = as_bytes(fb);
  }
};

TEST(RowBlocks, BoundariesDependOnTheUnitOnly) {
  const auto small = row_blocks(unit_of(100, 64, Dtype::BF16));
  ASSERT_EQ(small.size(), 1u);
  EXPECT_EQ(small[0].rows, 100u);
  EXPECT_EQ(small[0].bytes, 100u * 64 * 4);
  // 2 GB of BF16 embedding, 7168 wide: 28672 bytes per row (both sides), 585 rows per block.
  auto emb = unit_of(163840, 7168, Dtype::BF16);
  emb.id = 9;
  const auto blocks = row_blocks(emb);
  ASSERT_EQ(blocks.size(), (163840 + 584) / 585);
  std::uint64_t rows = 0, bytes = 0;
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    EXPECT_EQ(blocks[i].unit_id, 9u);
    EXPECT_EQ(blocks[i].index, i);
    EXPECT_EQ(blocks[i].count, blocks.size());
    EXPECT_EQ(blocks[i].first_row, rows);
    EXPECT_LE(blocks[i].bytes, kRowBlockBytes);
    rows += blocks[i].rows, bytes += blocks[i].bytes;
  }
  EXPECT_EQ(rows, emb.rows);
  EXPECT_EQ(bytes, emb.bytes());
  // Units whose work is not a row pass stay whole, however large.
  auto sampled = emb;
  sampled.sampled = true, sampled.sampled_rows = emb.rows;
  EXPECT_EQ(row_blocks(sampled).size(), 1u);
  auto kept = emb;
  kept.keep_values = true;
  EXPECT_EQ(row_blocks(kept).size(), 1u);
  auto mapped = emb;
  mapped.kind = UnitKind::token_mapped;
  EXPECT_EQ(row_blocks(mapped).size(), 1u);
  // One block at a time, as the planner takes them: 585 rows each, the last the rest, none past it.
  EXPECT_EQ(row_block_count(emb), (163840u + 584) / 585);
  EXPECT_EQ(row_block_count(kept), 1u);
  const auto last = row_block_count(emb) - 1;
  for (std::uint64_t i : {std::uint64_t{0}, std::uint64_t{1}, last}) {
    const auto one = row_block(emb, i);
    EXPECT_EQ(one.unit_id, 9u);
    EXPECT_EQ(one.index, i);
    EXPECT_EQ(one.count, last + 1);
    EXPECT_EQ(one.first_row, i * 585);
    EXPECT_EQ(one.rows, i == last ? 163840 - 585 * last : 585u);
    EXPECT_EQ(one.bytes, one.rows * 7168 * 4);
  }
  EXPECT_THROW((void)row_block(emb, blocks.size()), InternalError);
  EXPECT_EQ(row_block(kept, 0).rows, emb.rows);
  EXPECT_THROW((void)row_block(kept, 1), InternalError);
}

TEST(RowBlocks, CostsAreEveryUnitsBlocksInUnitThenBlockOrder) {
  // A whole unit, a 2 GB embedding cut into 281 blocks of 585 rows (and a last of 40), a sampled one.
  auto emb = unit_of(163840, 7168, Dtype::BF16);
  emb.id = 1;
  auto sampled = unit_of(4096, 7168, Dtype::BF16);
  sampled.id = 2, sampled.sampled = true, sampled.sampled_rows = 64;
  const std::vector<ComparisonUnit> units{unit_of(100, 64, Dtype::F32), emb, sampled};
  const auto costs = row_block_costs(units);
  ASSERT_EQ(costs.size(), 1u + 281 + 1);
  for (std::size_t i = 0; i < costs.size(); ++i) EXPECT_EQ(costs[i].unit_id, i);
  EXPECT_EQ(costs[0].bytes, 100u * 64 * 8);
  EXPECT_EQ(costs[1].bytes, 585u * 7168 * 4);
  EXPECT_EQ(costs[280].bytes, 585u * 7168 * 4);
  EXPECT_EQ(costs[281].bytes, (163840u - 280 * 585) * 7168 * 4);
  EXPECT_EQ(costs[282].bytes, 64u * 7168 * 4);
  // A smaller block size cuts the small unit too.
  EXPECT_EQ(row_block_costs(units, 100 * 64 * 8 / 4).size(), 4u + 163840 + 1);
}

TEST(RowBlocks, BlocksComputedInAnyOrderMergeToExecuteUnitsSums) {
  const LargeUnit u;
  const auto blocks = row_blocks(u.unit);
  ASSERT_EQ(blocks.size(), 3u);
  // As ranks would: each block alone, here last first; merged in block order.
  std::vector<UnitSums> parts;
  for (auto it = blocks.rbegin(); it != blocks.rend(); ++it) parts.push_back(row_block_sums(u.unit, u.a, u.b, *it));
  UnitSums merged(u.rows * u.cols);
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) merged.merge(*it);
  UnitSums in_order(u.rows * u.cols);
  for (const auto& blk : blocks) in_order.merge(row_block_sums(u.unit, u.a, u.b, blk));
  expect_same_sums(merged, in_order);
  // execute_unit's statistics are these sums'.
  const auto o = execute_unit(u.unit, u.a, u.b);
  const double n = merged.n;
  EXPECT_EQ(o.stats.elements, merged.n_ok);
  EXPECT_EQ(o.stats.nonfinite, 2u);
  EXPECT_TRUE(same_bits(o.stats.mean_a, merged.mean_a));
  EXPECT_TRUE(same_bits(o.stats.std_b, std::sqrt(merged.m2_b / n)));
  EXPECT_TRUE(same_bits(o.stats.norm_a, std::sqrt(merged.s_aa)));
  EXPECT_TRUE(same_bits(o.stats.cosine, merged.s_ab / std::sqrt(merged.s_aa * merged.s_bb)));
  EXPECT_TRUE(same_bits(o.stats.pearson, merged.c_ab / std::sqrt(merged.m2_a * merged.m2_b)));
  EXPECT_TRUE(same_bits(o.stats.max_abs_diff, merged.max_d));
  EXPECT_TRUE(same_bits(o.stats.frac_value_equal, static_cast<double>(merged.val_eq) / n));
}

TEST(RowBlocks, MergedBlocksAgreeWithTheUnsplitPass) {
  const LargeUnit u;
  UnitSums merged(u.rows * u.cols);
  for (const auto& blk : row_blocks(u.unit)) merged.merge(row_block_sums(u.unit, u.a, u.b, blk));
  // One block over the whole unit: the pass as it ran before units were split.
  const RowBlock whole{u.unit.id, 0, 1, 0, u.rows, u.unit.bytes()};
  const auto unsplit = row_block_sums(u.unit, u.a, u.b, whole);
  // Counts, extremes and histograms exactly; the moments to rounding (other shifts, Chan merges,
  // and the float lanes' sums within a kernel block, which round about 1e-6 relative: a block
  // shifted otherwise rounds otherwise).
  EXPECT_EQ(merged.n_ok, unsplit.n_ok);
  EXPECT_EQ(merged.val_eq, unsplit.val_eq);
  EXPECT_EQ(merged.bit_eq, unsplit.bit_eq);
  EXPECT_EQ(merged.bad_mismatch, unsplit.bad_mismatch);
  EXPECT_EQ(merged.h_d, unsplit.h_d);
  EXPECT_EQ(merged.min_a, unsplit.min_a);
  EXPECT_EQ(merged.max_d, unsplit.max_d);
  for (auto [p, q] : {std::pair{merged.mean_a, unsplit.mean_a},
                      {merged.m2_a, unsplit.m2_a},
                      {merged.c_ab, unsplit.c_ab},
                      {merged.s_ab, unsplit.s_ab},
                      {merged.s_a1b1, unsplit.s_a1b1}}) {
    EXPECT_NEAR(p, q, 1e-6 * std::fabs(q)) << p << " vs " << q;
  }
}

TEST(RowBlocks, AScreeningRunsSplitUnitHasTheFullRunsMomentsAndHashes) {
  // compare --screen: the same blocks, the same merge, the same hashes; only what a screening
  // pass does not compute is missing (NaN, not zero), and its blocks survive the journal.
  const LargeUnit u;
  ASSERT_GT(row_blocks(u.unit).size(), 1u);
  auto screen_unit = u.unit;
  screen_unit.screen = true;
  const auto full = execute_unit(u.unit, u.a, u.b);
  const auto screen = execute_unit(screen_unit, u.a, u.b);
  EXPECT_EQ(screen.hash_a, full.hash_a);
  EXPECT_EQ(screen.hash_b, full.hash_b);
  for (auto [p, q] : {std::pair{screen.stats.pearson, full.stats.pearson},
                      {screen.stats.cosine, full.stats.cosine},
                      {screen.stats.rel_l2, full.stats.rel_l2},
                      {screen.stats.init_centered_cosine, full.stats.init_centered_cosine},
                      {screen.stats.frac_value_equal, full.stats.frac_value_equal},
                      {screen.stats.std_b, full.stats.std_b}}) {
    EXPECT_TRUE(same_bits(p, q)) << p << " vs " << q;
  }
  EXPECT_EQ(screen.stats.elements, full.stats.elements);
  EXPECT_EQ(screen.stats.nonfinite_a, 1u);
  EXPECT_EQ(screen.stats.nonfinite_b, 1u);
  for (double missing : {screen.stats.max_abs_diff, screen.stats.mean_abs_diff, screen.stats.p99_abs_diff,
                         screen.stats.min_a, screen.stats.max_b}) {
    EXPECT_TRUE(std::isnan(missing));
  }
  EXPECT_FALSE(std::isnan(full.stats.p99_abs_diff));
  // A journaled block of the screening unit reads back as a screening pass's, and merges as one.
  const auto blocks = row_blocks(screen_unit);
  std::vector<RowBlockPartial> journaled;
  for (const auto& blk : blocks) {
    auto part = row_block_partial(screen_unit, u.a, u.b, blk);
    if (blk.index == 0) part.sampled = unit_sampled_outcome(screen_unit, u.a, u.b);
    journaled.push_back(RowBlockPartial::deserialize(screen_unit.id, part.serialize()));
    EXPECT_EQ(journaled.back().sums.statistics, PassStatistics::screen);
    EXPECT_TRUE(journaled.back().sums.h_a.empty());
  }
  const auto merged = merge_row_blocks(screen_unit, *journaled.front().sampled, journaled);
  EXPECT_TRUE(same_bits(merged.stats.pearson, screen.stats.pearson));
  EXPECT_EQ(merged.hash_a, screen.hash_a);
  // A full run's block never joins a screening run's (a resume that changed --screen is refused
  // before; this is the last guard).
  journaled[1] = row_block_partial(u.unit, u.a, u.b, blocks[1]);
  EXPECT_THROW((void)merge_row_blocks(screen_unit, *journaled.front().sampled, journaled), InternalError);
}

TEST(RowBlocks, UnitsOfOneBlockKeepTheirResults) {
  // Below kRowBlockBytes the pass is one block: execute_unit's sums are the whole pass's.
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> fa(300 * 257), fb(300 * 257);
  for (std::size_t i = 0; i < fa.size(); ++i) fa[i] = nd(rng), fb[i] = nd(rng);
  const auto unit = unit_of(300, 257, Dtype::F32);
  const auto a = as_bytes(fa), b = as_bytes(fb);
  ASSERT_EQ(row_blocks(unit).size(), 1u);
  const auto whole = row_block_sums(unit, a, b, row_blocks(unit)[0]);
  const auto o = execute_unit(unit, a, b);
  EXPECT_TRUE(same_bits(o.stats.pearson, whole.c_ab / std::sqrt(whole.m2_a * whole.m2_b)));
  EXPECT_TRUE(same_bits(o.stats.mean_b, whole.mean_b));
}

/// The bytes of rows [first_row, first_row + rows) of `v` as a rank copies them: from the block's
/// origin to the last element of its last row, in a buffer of exactly that size (so that a read
/// outside it is a sanitizer's heap overflow).
std::vector<std::byte> block_rows(const ElementView& v, const RowBlock& block, const std::vector<std::byte>& tensor) {
  const auto size = dtype_size(v.dtype);
  const std::uint64_t first = stored_rows(v, block.first_row, block.rows).first;
  const std::uint64_t last = v.offset + (block.first_row + block.rows - 1) * v.row_stride + (v.cols - 1) * v.col_stride;
  return {tensor.begin() + static_cast<std::ptrdiff_t>(first * size),
          tensor.begin() + static_cast<std::ptrdiff_t>((last + 1) * size)};
}

TEST(RowBlocks, BlocksFromACopyOfTheirRowsAreTheMappedBlocks) {
  // a: the unit's columns are 2048 of a wider BF16 tensor, from column 5 (offset and row stride);
  // b: the same shape stored transposed (column stride). Blocks of 1 MiB: 11 of them.
  constexpr std::uint64_t rows = 1283, cols = 2048, wide = cols + 37;
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.0f, 0.02f);
  std::vector<std::uint16_t> sa(rows * wide), sb(rows * cols);
  for (auto& x : sa) x = io::float_to_bf16(nd(rng));
  for (std::uint64_t r = 0; r < rows; ++r) {
    for (std::uint64_t c = 0; c < cols; ++c) {
      const float x = io::bf16_to_float(sa[r * wide + 5 + c]);
      sb[c * rows + r] = io::float_to_bf16(r % 3 == 0 ? x : x + 0.1f * nd(rng));
    }
  }
  sa[7 * wide + 9] = 0x7fc0;  // a NaN inside the unit's columns
  std::vector<std::byte> a(sa.size() * 2), b(sb.size() * 2);
  std::memcpy(a.data(), sa.data(), a.size());
  std::memcpy(b.data(), sb.data(), b.size());
  ComparisonUnit unit;
  unit.id = 9;
  unit.rows = rows;
  unit.cols = cols;
  unit.a = ElementView{0, "a", "f", Dtype::BF16, 0, 5, rows, cols, wide, 1};
  unit.b = ElementView{1, "b", "f", Dtype::BF16, 0, 0, rows, cols, 1, rows};
  const auto blocks = row_blocks(unit, std::uint64_t{1} << 20);
  ASSERT_EQ(blocks.size(), 11u);
  for (const auto& block : blocks) {
    const auto mapped = row_block_partial(unit, a, b, block);
    const auto copied =
        row_block_partial_of_rows(unit, block_rows(unit.a, block, a), block_rows(unit.b, block, b), block);
    EXPECT_EQ(copied.serialize(), mapped.serialize()) << "block " << block.index;
    EXPECT_EQ(copied.hash_a, mapped.hash_a);
    // The copy arriving as the pass asks for it (a rank's chunked pread): the same partial; a's
    // rows are asked for kernel block by kernel block, b's (transposed) at once.
    const auto rows_a = block_rows(unit.a, block, a), rows_b = block_rows(unit.b, block, b);
    testing::ArrivingCopy arriving_a(rows_a), arriving_b(rows_b);
    const auto arrived = row_block_partial_of_rows(unit, arriving_a.span, arriving_b.span, block, {},
                                                   ArrivingBytes{arriving_a.ask(), arriving_b.ask()});
    EXPECT_EQ(arrived.serialize(), mapped.serialize()) << "block " << block.index;
    const auto kernel_blocks = (block.rows * cols + kKernelBlock - 1) / kKernelBlock;
    EXPECT_GE(arriving_a.asked.size(), kernel_blocks) << "block " << block.index;
    EXPECT_LT(arriving_a.asked.front(), rows_a.size());
    EXPECT_EQ(arriving_a.asked.back(), rows_a.size());
    EXPECT_EQ(arriving_b.asked.front(), rows_b.size());
  }
  EXPECT_NE(row_block_partial(unit, a, b, blocks[0]).hash_a, row_block_partial(unit, a, b, blocks[1]).hash_a);
  // A copy one byte short of the block's rows is refused, not read past.
  auto short_a = block_rows(unit.a, blocks[3], a);
  short_a.pop_back();
  EXPECT_THROW((void)row_block_partial_of_rows(unit, short_a, block_rows(unit.b, blocks[3], b), blocks[3]),
               InternalError);
}

TEST(RowBlocks, OnlySplitUnitsAreReadFromTheirRows) {
  // A sampled unit reads rows anywhere in the tensor: a copy of a block's rows cannot serve it.
  auto unit = unit_of(4096, 4096, Dtype::F32);
  unit.sampled = true;
  unit.sampled_rows = 64;
  const std::vector<std::byte> none(16);
  const RowBlock block{unit.id, 0, 2, 0, 2048, 1};
  EXPECT_THROW((void)row_block_partial_of_rows(unit, none, none, block), InternalError);
}

TEST(RowBlocks, MergeRefusesSumsOfAnotherUnit) {
  UnitSums small(10), large(std::uint64_t{1} << 30);
  EXPECT_THROW(small.merge(large), std::exception);
}

/// Units of a run pairing a real weight map (tests/data/real) with itself, sized from the index.
UnitList real_units(const std::string& name) {
  static const auto registry = io::load_family_registry(std::string(LINEAGE_SOURCE_DIR) + "/families");
  RunConfig cfg;
  cfg.suspect = std::string(LINEAGE_TEST_DATA_DIR) + "/real/" + name;
  cfg.parents = {cfg.suspect};
  const auto models = load_run_models(cfg, registry, /*allow_index_only=*/true);
  std::vector<const Inventory*> invs{&models[0].inventory, &models[1].inventory};
  PairOptions popt;
  popt.sizes_only = true;
  return pair_models(invs, popt).units;
}

TEST(RowBlocks, TrillionClassMapsPlanWithin3PercentAt1024Ranks) {
  for (const std::string name : {"moonshotai__Kimi-K2-Instruct", "deepseek-ai__DeepSeek-V3"}) {
    const auto units = real_units(name);
    ASSERT_GT(units.size(), 1000u) << name;
    std::vector<UnitCost> whole;
    for (const auto& u : units) whole.push_back({u.id, u.bytes()});
    const auto unsplit = plan_shards(whole, 1024), split = plan_shards(row_block_costs(units), 1024);
    EXPECT_EQ(split.total_bytes(), unsplit.total_bytes()) << name << ": every byte planned once";
    EXPECT_LE(split.largest_unit_bytes, kRowBlockBytes) << name;
    EXPECT_GT(unsplit.imbalance(), 0.03) << name << ": whole units cap the balance";
    EXPECT_LT(split.imbalance(), 0.03) << name;
  }
}

}  // namespace
}  // namespace lineage::stages
