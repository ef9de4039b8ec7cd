#pragma once
/// @file hidden_null.hpp
/// The permutation null of one comparison unit, from the data itself (METHODS §4.3).
///
/// Two models trained independently share no labelling of their hidden (residual, neuron,
/// expert, latent) dimensions: any relabelling of B's hidden axis is as likely as the identity.
/// Their tensors do share structure that is not about labels (token-frequency row norms, a mean
/// direction, low rank, outlier dimensions), which is why an analytic 1/sqrt(n) null calls unrelated
/// trained models "derived". So the test statistic is computed per hidden unit and the null
/// permutes only the hidden axis; the other axis (tokens, rotary head dimensions) stays paired,
/// because models with one tokenizer or one RoPE layout legitimately share structure along it.
///
/// Statistic (matrices): the hidden-matched correlation h = mean over hidden units j of
/// corr(A_j, B_j), each unit a vector over the observation axis. Standardising each unit bounds
/// what one outlier dimension can contribute. Vectors (norm weights, router biases) use the
/// Spearman correlation of their coordinates. Both are computed on sampled rows, so the null costs
/// a small fraction of the pass.

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "core/tensor_key.hpp"
#include "stages/null/sample_products.hpp"

namespace lineage::stages {

/// Which axis of a unit's 2-D view is exchangeable under independence.
enum class NullAxis : std::uint8_t {
  none,  ///< no axis known to be exchangeable (e.g. rotary q/k biases): no permutation null
  rows,  ///< rows are hidden units (o_proj, down projections, vectors stored as a column)
  cols,  ///< columns are hidden units (embeddings, q/k/v, gate/up, routers, vectors as a row)
};

[[nodiscard]] const char* to_string(NullAxis a) noexcept;

/// The exchangeable axis of a tensor with this key and logical shape [rows, cols] ([out, in]).
[[nodiscard]] NullAxis null_axis(const TensorKey& key, std::uint64_t rows, std::uint64_t cols) noexcept;

struct NullOptions {
  // The sample: at least 2^15 elements (or the whole unit), 1/32 of a large unit, at most 2^20.
  // With K relabellings the null costs about K x sample multiply-adds against the pass's ~10
  // operations per element, so K = 100 and 1/32 keep it a small fraction of the pass
  // (docs/benchmarks.md), while K = 100 still fits the tail's SD to within ~7%.
  std::uint64_t min_elements = 1u << 15;
  std::uint64_t max_elements = 1u << 20;
  std::uint64_t fraction_denominator = 32;
  int permutations = 100;
  std::uint64_t basis_units = 96;            ///< hidden units of the basis test (its cost is their square)
  std::uint64_t seed = 0x6c696e65616765ULL;  ///< "lineage"; the same for every model and layer
  /// The joint test (HiddenNull::joint): h under this many relabellings shared by every unit
  /// with the same hidden axis length; 0 computes none. It costs this many times the sample's
  /// multiply-adds, so the caller asks for it only for small units, whose own test lacks power.
  int joint_relabellings = 0;
};

/// Relabellings of the joint test for units of `joint_relabellings` whose hidden axis has this
/// length: the same for every unit, layer and model (seeded by the length alone).
inline constexpr int kJointRelabellings = 200;
/// Units of at most this many elements get the joint test's relabellings (compare): their own
/// h null has an SD of at least 1/256, so a weak derivation shows only pooled over a family.
inline constexpr std::uint64_t kJointMaxElements = std::uint64_t{1} << 16;

/// The rows of a [rows, cols] unit that the null reads. Keyed by the unit's role group (layer,
/// expert and model excluded, METHODS §3), so both models and every layer read the same rows and
/// cross-layer baselines see the same sample. Ascending; every row when the unit is small.
/// How many rows sample_rows chooses (arithmetic only: the planner needs the count on every
/// rank at start-up, not the hashed row set).
[[nodiscard]] std::uint64_t sample_row_count(std::uint64_t rows, std::uint64_t cols, const NullOptions& options = {});

/// The `count` indices of [0, n) with the smallest XXH3 under `salt`, ascending (all of them when
/// count >= n): a sample fixed by n, count and salt alone, so every rank, layer and model that
/// asks with the same salt reads the same indices. sample_rows and neuron matching use it.
[[nodiscard]] std::vector<std::uint64_t> hash_chosen(std::uint64_t n, std::uint64_t count, std::uint64_t salt);

/// Centres v[0, n) and scales it to unit length, in double; non-finite values count as zero.
/// False when it is (numerically) constant: it is then all zero. The permutation null and
/// neuron matching both standardise with it.
/// (`isa`: the instruction set to run; every one gives the same bits.)
bool standardise(float* v, std::size_t n, NullIsa isa = widest_null_isa());

/// standardise applied to every column of the row-major rows x cols matrix `m`, the results
/// written transposed (column c at out[c * rows, (c + 1) * rows)) and varies[c] its return value:
/// the same bits as standardise on a copy of each column, computed over the rows in one sweep for
/// all columns at once (the permutation null's units along the columns are short vectors, where
/// one call each was mostly loop overhead).
void standardise_columns(const float* m, std::uint64_t rows, std::uint64_t cols, float* out, bool* varies,
                         NullIsa isa = widest_null_isa());

[[nodiscard]] std::vector<std::uint64_t> sample_rows(const TensorKey& key, std::uint64_t rows, std::uint64_t cols,
                                                     const NullOptions& options = {});

/// One permutation test: the observed statistic against its values under K relabellings.
struct PermutationTest {
  double observed = 0;      ///< NaN when undefined
  double null_mean = 0;     ///< mean of the statistic over permutations
  double null_sd = 0;       ///< SD of the statistic over permutations
  std::uint64_t units = 0;  ///< hidden units that took part
  int permutations = 0;     ///< 0: the null's moments are exact over all relabellings (h)
  int exceed = 0;           ///< permutations whose statistic reached the observed one
  double p = 1;             ///< one-sided p-value (see permutation_p; the normal tail for exact moments)
};

/// The two tests of one unit.
/// - hidden: h, the hidden-matched correlation (Spearman for vectors): same hidden unit, same
///   position along the other axis. Defeated by a permutation of the other axis (experts,
///   neurons, heads).
/// - basis: g, the correlation of the two models' hidden x hidden correlation matrices (each
///   computed over the other axis, so a permutation of neurons, experts or heads leaves it
///   unchanged). It asks whether both matrices live in one hidden basis, which independently
///   trained models do not share. Matrices only; at most 96 hidden units (hash-chosen).
struct HiddenNull {
  NullAxis axis = NullAxis::none;
  std::uint64_t observations = 0;  ///< length of each hidden unit's vector
  PermutationTest hidden;
  PermutationTest basis;
  /// The joint test's material (NullOptions::joint_relabellings): h after each of K fixed
  /// relabellings of B's hidden axis, the k-th the same permutation for every unit whose axis
  /// has the same length (joint_relabelling). Summed over the units of a family (one role across
  /// layers: one hidden basis in each model, e.g. the residual stream), they give the null of the
  /// family's summed h under one relabelling of the whole model, with the units' dependence
  /// included; the verdict pools small units that way (docs/methods.md). Empty when not asked.
  std::vector<float> joint;
};

/// The k-th relabelling of the joint test for a hidden axis of `length` units (a permutation of
/// 0..length-1; k counts from 0).
[[nodiscard]] std::vector<std::uint32_t> joint_relabelling(std::uint64_t length, int k);

/// One-sided p-value of a permutation test: (1 + exceed) / (K + 1) when some permutation reached
/// the observed value; otherwise the fitted tail, a Student t with K - 1 degrees of freedom at
/// (observed - mean) / sd, capped at 1 / (K + 1), so that p-values below what K permutations can
/// show come from the fitted tail (METHODS §4.3).
[[nodiscard]] double permutation_p(double observed, double mean, double sd, int permutations, int exceed);

/// A permutation test from its observed value and the statistic under each relabelling: mean,
/// SD, how many reached the observed value, and permutation_p.
[[nodiscard]] PermutationTest permutation_test(double observed, const std::vector<double>& null);

/// A fixed stream of relabellings: Fisher–Yates shuffles drawn from splitmix64, the same on every
/// platform (the p-values must not depend on the standard library's distributions).
class Relabelling {
 public:
  explicit Relabelling(std::uint64_t seed) : state_(seed) {}
  /// Shuffles `order` in place.
  template <typename T>
  void shuffle(std::vector<T>& order) {
    for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[below(i)]);
  }
  /// Uniform in [0, n), by rejection (no modulo bias).
  std::uint64_t below(std::uint64_t n);

 private:
  std::uint64_t next();
  std::uint64_t state_;
};

/// Runs the test on sampled rows of both sides.
/// @param[in] a, b  the sampled rows, row-major [sample_rows, cols], same shape
/// @param[in] seed  the permutation stream (derive it from the unit's key so reruns agree)
[[nodiscard]] HiddenNull hidden_null(std::span<const float> a, std::span<const float> b, std::uint64_t sample_rows,
                                     std::uint64_t cols, NullAxis axis, std::uint64_t seed,
                                     const NullOptions& options = {});

}  // namespace lineage::stages
