// Block-scaled (block-FP8) weights are compared on their values, METHODS §0: every reader of a
// view with block scales (the pass, the null, the sketches, the neuron matching, kept values, row
// blocks and copies of rows) sees exactly code x factor, so a unit of FP8 codes and scales has the
// outcome of the same unit stored as those values in F32, bit for bit but for its hashes; the
// hashes cover the codes and the factors.
#include "stages/execute/block_scales.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "io/dtype_decode.hpp"
#include "stages/align/byte_identity.hpp"
#include "stages/execute/execute_unit.hpp"
#include "stages/execute/expert_sketch.hpp"
#include "stages/null/hidden_null.hpp"
#include "stages/plan/row_blocks.hpp"

namespace lineage::stages {
namespace {

/// A stored weight of `rows` x `cols` F8_E4M3 codes (stacked matrices of `matrix_rows` rows)
/// with a 128 x 128 grid of factors, and the values they stand for, computed here element by
/// element from the definition (the matrix, the row and column of each element's block).
struct ScaledWeight {
  std::vector<std::byte> codes;
  BlockScales scales;
  std::vector<float> values;
};

ScaledWeight scaled_weight(std::uint64_t rows, std::uint64_t cols, std::uint64_t matrix_rows, unsigned seed,
                           const ScaledWeight* like = nullptr) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> code(0, 255);
  std::uniform_real_distribution<float> factor(1e-3f, 1e-2f), share(0, 1);
  ScaledWeight w;
  w.codes.resize(rows * cols);
  for (std::size_t i = 0; i < w.codes.size(); ++i) {
    int c = code(rng);
    if (like != nullptr && share(rng) < 0.7f) c = static_cast<int>(like->codes[i]);  // a derived weight
    if ((c & 0x7f) == 0x7f) c &= 0x7e;  // E4M3's NaN patterns: kept out (non-finite values have tests of their own)
    w.codes[i] = static_cast<std::byte>(c);
  }
  const std::uint64_t per_matrix = (matrix_rows + 127) / 128, grid_cols = (cols + 127) / 128;
  w.scales.grid.resize(rows / matrix_rows * per_matrix * grid_cols);
  for (auto& f : w.scales.grid) f = factor(rng);
  w.scales.grid_cols = grid_cols;
  w.scales.tensor_cols = cols;
  w.scales.matrix_rows = matrix_rows;
  w.values.resize(w.codes.size());
  for (std::uint64_t r = 0; r < rows; ++r) {
    for (std::uint64_t c = 0; c < cols; ++c) {
      const std::uint64_t m = r / matrix_rows, rm = r % matrix_rows;
      const float f = w.scales.grid[((m * per_matrix) + rm / 128) * grid_cols + c / 128];
      w.values[r * cols + c] = io::float_at(Dtype::F8_E4M3, &w.codes[r * cols + c]) * f;
    }
  }
  return w;
}

std::span<const std::byte> bytes_of(const std::vector<float>& v) { return std::as_bytes(std::span(v)); }

/// The same outcome but for the hashes (which cover stored bytes: codes and factors, or floats).
void expect_same_but_hashes(UnitOutcome x, UnitOutcome y, const std::string& what) {
  x.hash_a = x.hash_b = y.hash_a = y.hash_b = 0;
  EXPECT_EQ(x.serialize(), y.serialize()) << what;
}

/// Each value's bits (a -0 and a +0 differ), for comparisons that see a zero's sign.
std::vector<std::uint32_t> bits_of(std::span<const float> v) {
  std::vector<std::uint32_t> out(v.size());
  std::memcpy(out.data(), v.data(), v.size() * sizeof(float));
  return out;
}

/// w.values again from w.codes and w.scales by the definition (BlockScales' comment), for grids
/// changed after scaled_weight.
void revalue(ScaledWeight& w) {
  const auto& s = w.scales;
  const std::uint64_t per_matrix = (s.matrix_rows + s.block_rows - 1) / s.block_rows;
  for (std::uint64_t i = 0; i < w.codes.size(); ++i) {
    const std::uint64_t r = i / s.tensor_cols, c = i % s.tensor_cols;
    const std::uint64_t grid_row = (r / s.matrix_rows) * per_matrix + (r % s.matrix_rows) / s.block_rows;
    w.values[i] = io::float_at(Dtype::F8_E4M3, &w.codes[i]) * s.grid[grid_row * s.grid_cols + c / s.block_cols];
  }
}

TEST(BlockScales, FactorsFollowStackedMatricesAndPartialBlocks) {
  // Two stacked matrices of 200 rows (a whole block and a partial one each) of 300 columns (two
  // whole blocks and 44 columns); the same with two factors of -0 (whose products keep their
  // sign: bits are compared); and with one factor for the whole tensor (blocks larger than it).
  std::vector<std::pair<std::string, ScaledWeight>> weights;
  weights.emplace_back("128 x 128 blocks", scaled_weight(400, 300, 200, 1));
  ASSERT_EQ(weights[0].second.scales.grid.size(), 2u * 2u * 3u);
  weights.emplace_back("factors of -0", weights[0].second);
  weights[1].second.scales.grid[1] = weights[1].second.scales.grid[9] = -0.0f;
  revalue(weights[1].second);
  weights.emplace_back("one factor", weights[0].second);
  auto& whole = weights[2].second.scales;
  whole.grid = {0.0078125f};
  whole.grid_cols = 1;
  whole.block_rows = 512;
  whole.block_cols = 512;
  whole.matrix_rows = 400;
  revalue(weights[2].second);
  for (const auto& [what, w] : weights) {
    SCOPED_TRACE(what);
    std::vector<float> decoded(w.codes.size());
    io::decode_to_float(Dtype::F8_E4M3, w.codes, decoded);
    // Consecutive elements across block edges, row ends and the matrices' boundary.
    auto run = decoded;
    apply_block_scales(w.scales, 0, 1, run.data(), run.size());
    EXPECT_EQ(bits_of(run), bits_of(w.values));
    // Down columns from every kind of place, one row or several at a step (a view whose rows are
    // every other stored row; a step longer than a block of rows), across row blocks and the
    // matrices' boundary; and a stride that is not whole rows.
    for (const std::uint64_t step :
         {std::uint64_t{300}, std::uint64_t{600}, std::uint64_t{300 * 129}, std::uint64_t{301}}) {
      for (const std::uint64_t from :
           {0, 127, 128, 257, 299, 300 * 127 + 5, 300 * 128 + 200, 300 * 199 + 1, 300 * 200}) {
        for (const std::uint64_t length : {1, 2, 127, 128, 129, 200, 397, 400}) {
          const auto count = std::min<std::uint64_t>(length, (decoded.size() - 1 - from) / step + 1);
          std::vector<float> got(count), want(count);
          for (std::size_t k = 0; k < count; ++k)
            got[k] = decoded[from + k * step], want[k] = w.values[from + k * step];
          apply_block_scales(w.scales, from, step, got.data(), got.size());
          ASSERT_EQ(bits_of(got), bits_of(want)) << "step " << step << ", from " << from << ", length " << length;
        }
      }
    }
    // Runs from every kind of place (a block's first column, its last, a row's last element, the
    // second matrix's first row) and of every length around the sixteen products done at once and
    // a row's end: the reader follows the row and column it starts at.
    for (const std::uint64_t from : {0, 1, 127, 128, 255, 256, 299, 300, 599, 1000, 60000, 119700}) {
      for (const std::uint64_t length : {1, 15, 16, 17, 44, 128, 129, 300, 301, 601, 700, 4096}) {
        const auto count = std::min<std::uint64_t>(length, decoded.size() - from);
        const auto at = [&](const std::vector<float>& v) {
          return std::span<const float>(v.data() + from, static_cast<std::size_t>(count));
        };
        std::vector<float> got(at(decoded).begin(), at(decoded).end());
        apply_block_scales(w.scales, from, 1, got.data(), got.size());
        ASSERT_EQ(bits_of(got), bits_of(at(w.values))) << "from " << from << ", length " << length;
      }
    }
  }
}

ComparisonUnit unit_over(std::uint64_t rows, std::uint64_t cols, Dtype dtype, TensorKey key) {
  ComparisonUnit u;
  u.rows = rows;
  u.cols = cols;
  u.key_a = u.key_b = key;
  u.a = ElementView{0, "a", "f", dtype, 0, 0, rows, cols, cols, 1};
  u.b = ElementView{1, "b", "f", dtype, 0, 0, rows, cols, cols, 1};
  return u;
}

TEST(BlockScales, AScaledUnitHasTheOutcomeOfItsValues) {
  const std::uint64_t rows = 300, cols = 260;
  const auto a = scaled_weight(rows, cols, rows, 2);
  const auto b = scaled_weight(rows, cols, rows, 3, &a);
  TensorKey gate{Component::text, TensorRole::dense_mlp, 1};
  gate.projection = Projection::gate;
  TensorKey down{Component::text, TensorRole::routed_expert, 1, 0};
  down.projection = Projection::down;
  TensorKey up = down;
  up.projection = Projection::up;
  TensorKey router{Component::text, TensorRole::router, 1};

  struct Variant {
    std::string name;
    TensorKey key;
    void (*shape)(ComparisonUnit&);
  };
  const std::vector<Variant> variants = {
      // The pass, the permutation null and the neuron matching.
      {"same key", gate, [](ComparisonUnit&) {}},
      {"screen", gate, [](ComparisonUnit& u) { u.screen = true; }},
      // Expert sketches gathered by the pass.
      {"sketch", down, [](ComparisonUnit& u) { u.sketch = true; }},
      // An up projection's sketch reads columns (its hidden axis).
      {"column sketch", up, [](ComparisonUnit& u) { u.sketch = true; }},
      // Values kept whole.
      {"kept values", router, [](ComparisonUnit& u) { u.keep_values = true; }},
      // A sub-matrix: rows 50..249, columns 10..209.
      {"submatrix", gate,
       [](ComparisonUnit& u) {
         for (auto* v : {&u.a, &u.b}) v->offset = 50 * 260 + 10, v->rows = 200, v->cols = 200;
         u.rows = u.cols = 200;
         u.kind = UnitKind::submatrix;
       }},
      // The stored matrix read transposed (elements of a row 260 apart).
      {"transposed", gate,
       [](ComparisonUnit& u) {
         for (auto* v : {&u.a, &u.b}) v->rows = 260, v->cols = 300, v->row_stride = 1, v->col_stride = 260;
         u.rows = 260;
         u.cols = 300;
       }},
      // A baseline on the null's sampled rows.
      {"sampled baseline", gate,
       [](ComparisonUnit& u) {
         u.kind = UnitKind::baseline;
         u.sampled = true;
         u.sampled_rows = sample_rows(u.key_a, u.rows, u.cols).size();
       }},
  };
  for (const auto& variant : variants) {
    auto scaled = unit_over(rows, cols, Dtype::F8_E4M3, variant.key);
    auto as_values = unit_over(rows, cols, Dtype::F32, variant.key);
    variant.shape(scaled);
    variant.shape(as_values);
    scaled.a.scales = &a.scales;
    scaled.b.scales = &b.scales;
    ASSERT_FALSE(reads_sampled_rows_only(scaled)) << variant.name;  // its copies would lose where rows were
    const auto o = execute_unit(scaled, a.codes, b.codes);
    const auto v = execute_unit(as_values, bytes_of(a.values), bytes_of(b.values));
    expect_same_but_hashes(o, v, variant.name);
    EXPECT_GT(o.stats.pearson, 0.3) << variant.name;  // a derived weight, seen through its values
    const auto h = hash_unit(scaled, a.codes, b.codes);
    EXPECT_EQ(h.a, o.hash_a) << variant.name;
    EXPECT_EQ(h.b, o.hash_b) << variant.name;
    if (variant.name == "sketch" || variant.name == "column sketch") {
      // As block 0 of a split unit computes them, reading the tensors rather than gathering in the pass.
      expect_same_but_hashes(unit_sampled_outcome(scaled, a.codes, b.codes),
                             unit_sampled_outcome(as_values, bytes_of(a.values), bytes_of(b.values)), variant.name);
    }
    if (variant.name == "sketch") {
      ASSERT_FALSE(o.sketch_a.empty());
      EXPECT_EQ(unit_sketches(scaled, a.codes, b.codes),
                unit_sketches(as_values, bytes_of(a.values), bytes_of(b.values)));
      // From the sketch rows alone, as a rank that fetches only them computes it.
      const auto dims = sketch_rows(scaled, scaled.a);
      ASSERT_FALSE(dims.empty());
      std::vector<std::byte> gathered;
      for (const auto r : dims)
        gathered.insert(gathered.end(), a.codes.begin() + static_cast<long>(r * cols),
                        a.codes.begin() + static_cast<long>((r + 1) * cols));
      EXPECT_EQ(sketch_from_rows(scaled.a, gathered), o.sketch_a);
    }
    if (variant.name == "same key") {
      EXPECT_FALSE(o.neuron_match.empty());
      EXPECT_TRUE(std::isfinite(o.stats.hidden.observed));
    }
    if (variant.name == "kept values") {
      EXPECT_EQ(o.values_a, a.values);
    }
  }
}

TEST(BlockScales, RowBlocksAndCopiesOfRowsOfAScaledUnit) {
  const std::uint64_t rows = 300, cols = 260;
  const auto a = scaled_weight(rows, cols, rows, 4);
  const auto b = scaled_weight(rows, cols, rows, 5, &a);
  TensorKey key{Component::text, TensorRole::attn_o, 2};
  auto scaled = unit_over(rows, cols, Dtype::F8_E4M3, key);
  auto as_values = unit_over(rows, cols, Dtype::F32, key);
  scaled.a.scales = &a.scales;
  scaled.b.scales = &b.scales;
  // Three row blocks of 115 rows on either side: the F32 twin's rows are four times the bytes.
  const std::uint64_t block_bytes = 60'000;
  ASSERT_EQ(row_blocks(scaled, block_bytes).size(), 3u);
  ASSERT_EQ(row_blocks(as_values, 4 * block_bytes).size(), 3u);
  const auto split = execute_unit(scaled, a.codes, b.codes, {}, block_bytes);
  expect_same_but_hashes(split, execute_unit(as_values, bytes_of(a.values), bytes_of(b.values), {}, 4 * block_bytes),
                         "split");
  const auto h = hash_unit(scaled, a.codes, b.codes, {}, block_bytes);
  EXPECT_EQ(h.a, split.hash_a);
  EXPECT_EQ(h.b, split.hash_b);
  // A block from a copy of its rows alone (where the copy starts says which factors apply).
  const auto block = row_blocks(scaled, block_bytes)[1];
  const auto [first_a, end_a] = stored_rows(scaled.a, block.first_row, block.rows);
  const std::span<const std::byte> rows_a(a.codes.data() + first_a, end_a - first_a);
  const auto [first_b, end_b] = stored_rows(scaled.b, block.first_row, block.rows);
  const std::span<const std::byte> rows_b(b.codes.data() + first_b, end_b - first_b);
  EXPECT_EQ(row_block_partial_of_rows(scaled, rows_a, rows_b, block).serialize(),
            row_block_partial(scaled, a.codes, b.codes, block).serialize());
}

TEST(BlockScales, HashesCoverTheCodesAndTheFactors) {
  const std::uint64_t rows = 300, cols = 260;
  const auto a = scaled_weight(rows, cols, rows, 6);
  auto changed = a;
  changed.scales.grid[4] *= 2;
  TensorKey key{Component::text, TensorRole::attn_o, 2};
  auto u = unit_over(rows, cols, Dtype::F8_E4M3, key);
  const auto codes_only = hash_unit(u, a.codes, a.codes);
  EXPECT_EQ(codes_only.a, codes_only.b);
  u.a.scales = &a.scales;
  u.b.scales = &a.scales;
  const auto same = hash_unit(u, a.codes, a.codes);
  EXPECT_EQ(same.a, same.b);        // equal codes and equal factors: equal values
  EXPECT_NE(same.a, codes_only.a);  // the factors are part of it
  u.b.scales = &changed.scales;
  const auto rescaled = execute_unit(u, a.codes, a.codes);
  EXPECT_EQ(rescaled.hash_a, same.a);
  EXPECT_NE(rescaled.hash_b, same.b);  // the same codes, one block's factor doubled
  EXPECT_LT(rescaled.stats.frac_value_equal, 1.0);
  for (const std::uint64_t block_bytes : {std::uint64_t{60'000}, kRowBlockBytes}) {
    const auto split = hash_unit(u, a.codes, a.codes, {}, block_bytes);
    EXPECT_EQ(split.a, execute_unit(u, a.codes, a.codes, {}, block_bytes).hash_a);
    EXPECT_NE(split.a, split.b);
  }
}

// A view of part of a tensor (an expert of a stacked tensor) hashes the factors of its own rows:
// its hash does not change when another expert's factors do.
TEST(BlockScales, AnExpertsHashCoversItsOwnFactors) {
  const std::uint64_t experts = 2, rows = 150, cols = 260;
  const auto w = scaled_weight(experts * rows, cols, rows, 8);  // two grid rows per expert
  ASSERT_EQ(w.scales.grid.size(), 4u * 3u);
  TensorKey key{Component::text, TensorRole::routed_expert, 1, 1};
  key.projection = Projection::up;
  auto u = unit_over(rows, cols, Dtype::F8_E4M3, key);
  u.a.offset = u.b.offset = rows * cols;  // expert 1
  u.a.scales = u.b.scales = &w.scales;
  const auto before = hash_unit(u, w.codes, w.codes);
  auto other_expert = w;
  other_expert.scales.grid[1 * 3 + 2] *= 2;  // expert 0's second grid row
  auto this_expert = w;
  this_expert.scales.grid[2 * 3 + 0] *= 2;  // expert 1's first grid row
  u.b.scales = &other_expert.scales;
  EXPECT_EQ(hash_unit(u, w.codes, w.codes).b, before.b);
  u.b.scales = &this_expert.scales;
  EXPECT_NE(hash_unit(u, w.codes, w.codes).b, before.b);
}

// The tensor scan's SD (the shape-free std curves) of a block-scaled weight is of its values; its
// sampled digest stays that of the codes (byte identity compares stored bytes).
TEST(BlockScales, TheScansSpreadIsOfTheValues) {
  const std::uint64_t rows = 400, cols = 300;
  const auto w = scaled_weight(rows, cols, 200, 7);
  const auto blocks = identity_blocks(w.codes.size());
  ASSERT_GT(blocks.offsets.size(), 1u);
  std::vector<std::byte> sampled;
  long double sum = 0, squares = 0, n = 0;
  for (const auto off : blocks.offsets) {
    sampled.insert(sampled.end(), w.codes.begin() + static_cast<long>(off),
                   w.codes.begin() + static_cast<long>(off + blocks.block_bytes));
    for (std::uint64_t i = off; i < off + blocks.block_bytes; ++i) {
      sum += w.values[i];
      squares += static_cast<long double>(w.values[i]) * w.values[i];
      n += 1;
    }
  }
  const double want = static_cast<double>(std::sqrt(squares / n - (sum / n) * (sum / n)));
  const auto of_values = sample_of_blocks(Dtype::F8_E4M3, w.codes.size(), sampled, &w.scales);
  const auto of_codes = sample_of_blocks(Dtype::F8_E4M3, w.codes.size(), sampled);
  EXPECT_NEAR(of_values.sampled_std, want, 1e-9 * want);
  EXPECT_GT(of_codes.sampled_std, 10 * want);  // codes fill E4M3's range, values are thousandths
  EXPECT_EQ(of_values.sampled_digest, of_codes.sampled_digest);
}

}  // namespace
}  // namespace lineage::stages
