#include "stages/verdict/outlier_fingerprint.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <set>

#include "core/tensor_key.hpp"
#include "io/dtype_decode.hpp"
#include "stages/pair/comparison_unit.hpp"

namespace lineage::stages {
namespace {

std::uint16_t bf16(float x) { return io::float_to_bf16(x); }

/// An initial value of a norm weight (1.0, or 0.0 for zero-centred norms): never evidence.
bool init_value(std::uint16_t bits) {
  const float v = io::bf16_to_float(bits);
  return v == 1.0f || v == 0.0f;
}

/// The k indices farthest from the vector's median (ties by index), leaving out initial values
/// and coordinates at the median itself.
std::vector<std::size_t> extremes(std::span<const float> v, std::size_t k) {
  std::vector<float> sorted(v.begin(), v.end());
  std::nth_element(sorted.begin(), sorted.begin() + static_cast<long>(sorted.size() / 2), sorted.end());
  const double med = sorted[sorted.size() / 2];
  std::vector<std::size_t> idx;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (std::isfinite(v[i]) && !init_value(bf16(v[i])) && std::fabs(v[i] - med) > 0) idx.push_back(i);
  }
  const auto n = std::min(k, idx.size());
  std::partial_sort(idx.begin(), idx.begin() + static_cast<long>(n), idx.end(), [&](std::size_t x, std::size_t y) {
    const double dx = std::fabs(v[x] - med), dy = std::fabs(v[y] - med);
    return dx != dy ? dx > dy : x < y;
  });
  idx.resize(n);
  return idx;
}

}  // namespace

std::size_t outlier_count(std::size_t d) noexcept { return std::clamp<std::size_t>(d / 16, 4, 32); }

double poisson_binomial_tail(const std::vector<double>& p, std::size_t x) {
  if (x == 0) return 1.0;
  // dp[j], j < x: P(exactly j so far); dp[x]: P(at least x so far).
  std::vector<double> dp(x + 1, 0.0);
  dp[0] = 1.0;
  for (double q : p) {
    q = std::clamp(q, 0.0, 1.0);
    dp[x] += dp[x - 1] * q;
    for (std::size_t j = x - 1; j > 0; --j) dp[j] = dp[j] * (1 - q) + dp[j - 1] * q;
    dp[0] *= 1 - q;
  }
  return std::min(1.0, dp[x]);
}

OutlierCoincidences outlier_coincidences(std::span<const float> a, std::span<const float> b) {
  OutlierCoincidences c;
  c.dim = a.size();
  if (a.size() != b.size() || a.size() < 16) return c;
  c.k = outlier_count(a.size());
  std::map<std::uint16_t, std::size_t> count_a, count_b;
  for (float x : a) ++count_a[bf16(x)];
  for (float x : b) ++count_b[bf16(x)];
  const double d = static_cast<double>(a.size());
  const auto top_a = extremes(a, c.k), top_b = extremes(b, c.k);
  std::set<std::size_t> seen;
  // A's outliers: B's value at the index is a draw from B's values under the null; then B's.
  for (const auto& [top, self, other_counts] : {std::tuple{&top_a, a, &count_b}, std::tuple{&top_b, b, &count_a}}) {
    for (const auto i : *top) {
      if (!seen.insert(i).second) continue;
      const auto bits = bf16(self[i]);
      const auto it = other_counts->find(bits);
      const double chance = it == other_counts->end() ? 0.0 : static_cast<double>(it->second) / d;
      ++c.trials;
      c.chance.push_back(chance);
      c.expected += chance;
      c.matches += bf16(a[i]) == bf16(b[i]) ? 1 : 0;
    }
  }
  c.p = poisson_binomial_tail(c.chance, c.matches);
  return c;
}

nlohmann::json OutlierFingerprint::to_json() const {
  nlohmann::json per = nlohmann::json::array();
  for (const auto& v : vectors) {
    per.push_back({{"key", v.key},
                   {"layer", v.layer},
                   {"dim", v.dim},
                   {"k", v.k},
                   {"trials", v.trials},
                   {"matches", v.matches},
                   {"expected", v.expected},
                   {"p_value", v.p}});
  }
  nlohmann::json per_layer = nlohmann::json::array();
  for (const auto& l : layers) {
    per_layer.push_back({{"layer", l.layer},
                         {"vectors", l.vectors},
                         {"trials", l.trials},
                         {"matches", l.matches},
                         {"expected", l.expected},
                         {"p_value", l.p}});
  }
  return {{"vectors", per},
          {"layers", per_layer},
          {"trials", trials},
          {"matches", matches},
          {"expected", expected},
          {"p_value", p},
          {"method",
           "top-k coordinates by |v - median| of each model's norm vector (k = d/16 in [4, 32], initial values 1 and "
           "0 left out); a match is the same BF16 value at the same index; p = Poisson-binomial tail with p_i = share "
           "of the other model's values equal to it (exchangeable dimensions under independence)"}};
}

OutlierFingerprint outlier_fingerprint(const io::StoreContents& store, int suspect, int other) {
  OutlierFingerprint f;
  std::vector<double> chance;
  for (const auto values : store.values) {
    if (values.id >= store.units.size()) continue;
    const auto& u = store.units[values.id];
    if (u.model_a != suspect || u.model_b != other || u.kind != UnitKind::same_key) continue;
    const auto& key = u.key_a;
    if (!is_norm_role(key.role)) continue;
    auto c = outlier_coincidences(values.a, values.b);
    if (c.trials == 0) continue;
    c.key = to_string(u.key_a);
    c.layer = u.layer_a;
    f.trials += c.trials;
    f.matches += c.matches;
    f.expected += c.expected;
    chance.insert(chance.end(), c.chance.begin(), c.chance.end());
    f.vectors.push_back(std::move(c));
  }
  std::sort(f.vectors.begin(), f.vectors.end(),
            [](const auto& x, const auto& y) { return std::tie(x.layer, x.key) < std::tie(y.layer, y.key); });
  f.p = poisson_binomial_tail(chance, f.matches);
  std::map<int, std::pair<OutlierLayer, std::vector<double>>> by_layer;
  for (const auto& c : f.vectors) {
    auto& [l, p] = by_layer[c.layer];
    l.layer = c.layer;
    ++l.vectors;
    l.trials += c.trials;
    l.matches += c.matches;
    l.expected += c.expected;
    p.insert(p.end(), c.chance.begin(), c.chance.end());
  }
  for (auto& [layer, lp] : by_layer) {
    lp.first.p = poisson_binomial_tail(lp.second, lp.first.matches);
    f.layers.push_back(lp.first);
  }
  return f;
}

}  // namespace lineage::stages
