#include "stages/verdict/std_curves.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/tensor_key.hpp"
#include "stages/null/hidden_null.hpp"

namespace lineage::stages {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int kShuffles = 1000;

using Points = std::vector<std::pair<double, double>>;  // (normalised depth, value), by depth

/// z-normalises the values; false when they do not vary.
bool z_normalise(std::vector<double>& v) {
  const double n = static_cast<double>(v.size());
  const double mean = std::accumulate(v.begin(), v.end(), 0.0) / n;
  double ss = 0;
  for (double x : v) ss += (x - mean) * (x - mean);
  const double sd = std::sqrt(ss / n);
  if (!(sd > 1e-12 * std::max(1.0, std::fabs(mean)))) return false;
  for (double& x : v) x = (x - mean) / sd;
  return true;
}

/// Linear interpolation of the points at `count` evenly spaced depths in [0, 1] (ends held).
std::vector<double> interpolate(const Points& p, int count) {
  std::vector<double> out(static_cast<std::size_t>(count));
  for (int k = 0; k < count; ++k) {
    const double t = count > 1 ? static_cast<double>(k) / (count - 1) : 0.0;
    auto hi = std::lower_bound(p.begin(), p.end(), t, [](const auto& q, double x) { return q.first < x; });
    double v = 0;
    if (hi == p.begin()) {
      v = p.front().second;
    } else if (hi == p.end()) {
      v = p.back().second;
    } else {
      const auto lo = std::prev(hi);
      const double w = hi->first > lo->first ? (t - lo->first) / (hi->first - lo->first) : 0.0;
      v = lo->second + w * (hi->second - lo->second);
    }
    out[static_cast<std::size_t>(k)] = v;
  }
  return out;
}

/// The curve minus its least-squares straight line over its points.
std::vector<double> detrend(const std::vector<double>& y) {
  const double n = static_cast<double>(y.size());
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (std::size_t i = 0; i < y.size(); ++i) {
    const double x = static_cast<double>(i);
    sx += x, sy += y[i], sxx += x * x, sxy += x * y[i];
  }
  const double den = n * sxx - sx * sx;
  const double slope = den != 0 ? (n * sxy - sx * sy) / den : 0.0, icept = (sy - slope * sx) / n;
  std::vector<double> out(y.size());
  for (std::size_t i = 0; i < y.size(); ++i) out[i] = y[i] - (icept + slope * static_cast<double>(i));
  return out;
}

double pearson(const std::vector<double>& a, const std::vector<double>& b) {
  const double n = static_cast<double>(a.size());
  if (a.size() != b.size() || a.size() < 3) return kNaN;
  const double ma = std::accumulate(a.begin(), a.end(), 0.0) / n, mb = std::accumulate(b.begin(), b.end(), 0.0) / n;
  double sab = 0, saa = 0, sbb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  return saa > 0 && sbb > 0 ? sab / std::sqrt(saa * sbb) : kNaN;
}

int layer_count(const StdCurves& c) {
  int top = -1;
  for (const auto& [role, curve] : c) {
    if (!curve.empty()) top = std::max(top, curve.rbegin()->first);
  }
  return top + 1;
}

/// One role's curve as z-normalised points over normalised depth, with the model's layer l
/// read at relabel[l] (identity when empty). Empty when it has < 3 layers or does not vary.
Points points_of(const std::map<int, double>& curve, int layers, const std::vector<int>& relabel) {
  Points p;
  for (const auto& [l, v] : curve) {
    const int src = relabel.empty() ? l : relabel[static_cast<std::size_t>(l)];
    const auto it = curve.find(src);
    if (it == curve.end()) continue;
    p.emplace_back(layers > 1 ? static_cast<double>(l) / (layers - 1) : 0.0, it->second);
  }
  if (p.size() < 3) return {};
  std::vector<double> v;
  v.reserve(p.size());
  for (const auto& q : p) v.push_back(q.second);
  if (!z_normalise(v)) return {};
  for (std::size_t i = 0; i < p.size(); ++i) p[i].second = v[i];
  return p;
}

/// Concatenated curves of both models over the common roles: raw and detrended.
struct Concatenated {
  std::vector<std::string> roles;
  std::vector<double> a, b, a_detrended, b_detrended;
};

Concatenated concatenate(const StdCurves& sa, const StdCurves& sb, int points, const std::vector<int>& relabel_b) {
  Concatenated c;
  const int la = layer_count(sa), lb = layer_count(sb);
  for (const auto& [role, curve_a] : sa) {
    const auto it = sb.find(role);
    if (it == sb.end()) continue;
    const auto pa = points_of(curve_a, la, {}), pb = points_of(it->second, lb, relabel_b);
    if (pa.empty() || pb.empty()) continue;
    auto ya = interpolate(pa, points), yb = interpolate(pb, points);
    auto da = detrend(ya), db = detrend(yb);
    c.roles.push_back(role);
    c.a.insert(c.a.end(), ya.begin(), ya.end());
    c.b.insert(c.b.end(), yb.begin(), yb.end());
    // Each role weighs the same after its trend is gone (a flat residual stays flat).
    if (!z_normalise(da) || !z_normalise(db))
      std::fill(da.begin(), da.end(), 0.0), std::fill(db.begin(), db.end(), 0.0);
    c.a_detrended.insert(c.a_detrended.end(), da.begin(), da.end());
    c.b_detrended.insert(c.b_detrended.end(), db.begin(), db.end());
  }
  return c;
}

nlohmann::json num(double x) { return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(); }

}  // namespace

StdCurves std_curves_of(const std::vector<ScannedTensor>& tensors) {
  std::map<std::string, std::map<int, std::pair<double, int>>> sums;
  for (const auto& t : tensors) {
    if (!std::isfinite(t.sample.sampled_std)) continue;
    auto key = parse_tensor_key(t.key);
    if (key.component != Component::text || key.layer < 0 || key.kind != ParamKind::weight) continue;
    const int layer = key.layer;
    key.layer = key.expert = key.index = -1;
    auto& s = sums[to_string(key)][layer];
    s.first += t.sample.sampled_std;
    s.second += 1;
  }
  StdCurves out;
  for (const auto& [role, layers] : sums) {
    for (const auto& [l, s] : layers) out[role][l] = s.first / s.second;
  }
  return out;
}

StdCurveComparison compare_std_curves(const StdCurves& suspect, const StdCurves& other, std::uint64_t seed) {
  StdCurveComparison r;
  const int la = layer_count(suspect), lb = layer_count(other);
  r.points = std::max(la, lb);
  const auto c = concatenate(suspect, other, r.points, {});
  r.roles = c.roles;
  if (c.roles.empty()) {
    r.r = r.r_detrended = kNaN;
    return r;
  }
  const auto n = static_cast<std::size_t>(r.points);
  for (std::size_t i = 0; i < c.roles.size(); ++i) {
    const auto from = static_cast<std::ptrdiff_t>(i * n), to = static_cast<std::ptrdiff_t>((i + 1) * n);
    r.curves[c.roles[i]] = {{c.a.begin() + from, c.a.begin() + to}, {c.b.begin() + from, c.b.begin() + to}};
  }
  r.r = pearson(c.a, c.b);
  r.r_detrended = pearson(c.a_detrended, c.b_detrended);
  if (!std::isfinite(r.r_detrended)) return r;
  std::vector<int> label(static_cast<std::size_t>(lb));
  std::iota(label.begin(), label.end(), 0);
  Relabelling relabel(seed ^ (static_cast<std::uint64_t>(la) << 32) ^ static_cast<std::uint64_t>(lb));
  int as_high = 0;
  for (int k = 0; k < kShuffles; ++k) {
    relabel.shuffle(label);
    const auto s = concatenate(suspect, other, r.points, label);
    const double x = s.roles.size() == c.roles.size() ? pearson(s.a_detrended, s.b_detrended) : kNaN;
    as_high += !std::isfinite(x) || x >= r.r_detrended ? 1 : 0;
  }
  r.p_layer_shuffle = static_cast<double>(1 + as_high) / (kShuffles + 1);
  return r;
}

void rank_against_controls(StdCurveComparison& parent, const std::map<std::string, StdCurveComparison>& controls) {
  if (!parent.compared() || !std::isfinite(parent.r_detrended)) return;
  int as_high = 0, n = 0;
  for (const auto& [label, c] : controls) {
    if (!c.compared() || !std::isfinite(c.r_detrended)) continue;
    parent.control_r[label] = c.r_detrended;
    ++n;
    as_high += c.r_detrended >= parent.r_detrended ? 1 : 0;
  }
  if (n > 0) parent.p_controls = static_cast<double>(1 + as_high) / (1 + n);
}

nlohmann::json StdCurveComparison::to_json() const {
  nlohmann::json j{{"roles", roles},
                   {"points", points},
                   {"r", num(r)},
                   {"r_detrended", num(r_detrended)},
                   {"p_layer_shuffle", p_layer_shuffle},
                   {"support", "supporting only: never changes the verdict (METHODS §6)"},
                   {"method",
                    "per role, the sampled SD of each layer's tensor (experts averaged), z-normalised, interpolated "
                    "onto max(L_a, L_b) points of normalised depth; Pearson of the concatenated curves (r), and after "
                    "removing each curve's linear depth trend (r_detrended); p_layer_shuffle: 1000 relabellings of "
                    "the other model's layers (a stated null that ignores all but order)"}};
  nlohmann::json drawn = nlohmann::json::object();
  for (const auto& [role, ab] : curves) {
    nlohmann::json a = nlohmann::json::array(), b = nlohmann::json::array();
    for (const double x : ab.first) a.push_back(num(x));
    for (const double x : ab.second) b.push_back(num(x));
    drawn[role] = {{"suspect", a}, {"other", b}};
  }
  j["curves"] = drawn;
  if (!control_r.empty()) j["control_r_detrended"] = control_r;
  j["p_controls"] = p_controls ? nlohmann::json(*p_controls) : nlohmann::json();
  return j;
}

}  // namespace lineage::stages
