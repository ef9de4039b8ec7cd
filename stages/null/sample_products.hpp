#pragma once
/// @file sample_products.hpp
/// The one costly term of the permutation null's exact moments (hidden_null.cpp), sum D^2 with
/// D[i, k] = <x_i, y_k> over the valid hidden units' standardised vectors, as two kernels: by the
/// Grams of the observation axis when it is the shorter side, by D itself otherwise; and the
/// Gram of the units themselves (the basis test's correlation matrices).
///
/// All three are compiled per ISA with every lane doing the same operations in the same order and no
/// fused multiply-adds, so the result does not depend on the machine (as the pass's kernel).

#include <cstdint>
#include <span>
#include <vector>

namespace lineage::stages {

/// The instruction sets the null's kernels (these, and standardise in hidden_null.hpp) are compiled
/// for; every one gives the same bits.
enum class NullIsa : std::uint8_t { baseline, x86_64_v3, x86_64_v4 };

/// Those this machine runs, narrowest first (baseline always).
[[nodiscard]] std::vector<NullIsa> null_isas();

/// The widest of them: what the null uses.
[[nodiscard]] NullIsa widest_null_isa();

/// Of a kernel's three variants, the one compiled for `isa` (where the build has no per-ISA
/// variants, all three are the baseline's code and null_isas() offers only the baseline).
template <typename Fn>
[[nodiscard]] Fn null_variant(NullIsa isa, Fn baseline, Fn x86_64_v3, Fn x86_64_v4) noexcept {
  return isa == NullIsa::x86_64_v4 ? x86_64_v4 : isa == NullIsa::x86_64_v3 ? x86_64_v3 : baseline;
}

/// <X^T X, Y^T Y> = sum over p, q of Gx[p, q] Gy[p, q], where row n of X is the `obs` floats at
/// x + units[n] * obs (Y likewise from y). Each Gram entry sums the units in their order, 64 at a
/// time in float, those sums in double; the inner product of the Grams is summed in double.
[[nodiscard]] double gram_inner_product(const float* x, const float* y, std::span<const std::uint32_t> units,
                                        std::uint64_t obs, NullIsa isa = widest_null_isa());

/// The Gram G[i, j] = <x_i, x_j> of the rows named by `units` (as above), i and j below
/// units.size(), into `g` (row-major, units.size() squared, both triangles). Each entry sums the
/// observations' float products 64 at a time in float, those sums in double (the Grams of
/// gram_inner_product, here over the observation axis).
void row_gram(const float* x, std::span<const std::uint32_t> units, std::uint64_t obs, double* g,
              NullIsa isa = widest_null_isa());

/// sum over i, k of D[i, k]^2, D[i, k] = <x_i, y_k> of the rows named by `units` (as above), each
/// D entry a double sum of the exact float products in eight lanes (element r in lane r % 8)
/// added in a fixed order.
[[nodiscard]] double cross_product_squares(const float* x, const float* y, std::span<const std::uint32_t> units,
                                           std::uint64_t obs, NullIsa isa = widest_null_isa());

}  // namespace lineage::stages
