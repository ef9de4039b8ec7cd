#include "stages/verdict/byte_identity_evidence.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include "core/tensor_key.hpp"

namespace lineage::stages {
namespace {

/// Pairs listed in verdict --json (the store keeps all of them).
constexpr std::size_t kListed = 1000;

std::string hex(std::uint64_t x) {
  static const char* digits = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, x >>= 4) s[static_cast<std::size_t>(i)] = digits[x & 0xf];
  return s;
}

bool known_role(const TensorKey& k) {
  return k.role != TensorRole::other && k.role != TensorRole::position_embedding && k.kind == ParamKind::weight;
}

std::string layer_moves_text(const std::map<std::pair<int, int>, std::size_t>& moved) {
  std::string s;
  for (const auto& [layers, n] : moved) {
    s += (s.empty() ? "" : ", ") + std::to_string(layers.first) + "<-" + std::to_string(layers.second) + " (" +
         std::to_string(n) + ")";
  }
  return s;
}

void rejoin_kind(PairVerdict& v) {
  if (v.kinds.empty()) return;
  v.kind.clear();
  for (const auto& k : v.kinds) v.kind += (v.kind.empty() ? "" : " + ") + k.kind;
}

}  // namespace

ByteIdentityEvidence byte_identity_of(const TensorScan& scan, int suspect, int other) {
  ByteIdentityEvidence e;
  e.cost = scan.cost;
  for (const auto& p : scan.pairs) {
    if (p.model_a != suspect || p.model_b != other) continue;
    e.scanned = true;
    e.candidates = p.candidates;
    e.identical = p.identical;
  }
  // A suspect tensor equal to the other's tensor of its own name stayed where it was, even when
  // it also equals other tensors (layers that were never trained apart): no move.
  std::set<std::string> in_place;
  for (const auto& t : e.identical) {
    if (t.same_name()) in_place.insert(t.tensor_a);
  }
  for (const auto& t : e.identical) {
    const auto a = parse_tensor_key(t.key_a), b = parse_tensor_key(t.key_b);
    e.known_roles += known_role(a) && known_role(b) ? 1 : 0;
    if (t.same_name()) continue;
    ++e.renamed;
    if (in_place.count(t.tensor_a)) continue;
    TensorKey la = a, lb = b;
    la.layer = lb.layer = -1;
    if (la == lb && a.layer >= 0 && b.layer >= 0 && a.layer != b.layer) ++e.moved[{a.layer, b.layer}];
    TensorKey ea = a, eb = b;
    ea.expert = eb.expert = -1;
    if (ea == eb && a.expert >= 0 && b.expert >= 0 && a.expert != b.expert) {
      ++e.experts_moved;
      ++e.expert_moves[{a.layer, a.expert, b.expert}];
    }
  }
  return e;
}

double ByteIdentityEvidence::p_value() const noexcept {
  return static_cast<double>(std::max<std::size_t>(candidates, 1)) * std::ldexp(1.0, -64);
}

void apply_byte_identity(const ByteIdentityEvidence& e, PairVerdict& v) {
  if (e.identical.empty()) return;
  const double p = e.p_value();
  const std::string count = std::to_string(e.identical.size()) + " non-trivial tensors byte-identical (" +
                            std::to_string(e.renamed) + " under another name)";
  if (!e.moved.empty()) {
    const std::string text = "byte-identical at another layer (suspect<-other (tensors)): " + layer_moves_text(e.moved);
    bool explained = false;
    for (auto& k : v.kinds) {
      if (k.kind != "depth_upscaled" && k.kind != "depth_pruned") continue;
      k.evidence += "; " + text;
      k.p_value = std::min(k.p_value, p);
      explained = true;
    }
    if (!explained && v.overall == VerdictClass::derived) {
      v.kinds.push_back({"permuted", "layers moved: " + text, p});
    }
  }
  if (e.experts_moved > 0) {
    const std::string text =
        std::to_string(e.experts_moved) + " expert tensors byte-identical under another expert index";
    // Experts renumbered by a pruning support expert_pruned; otherwise they were reordered.
    auto it = std::find_if(v.kinds.begin(), v.kinds.end(), [](const auto& k) { return k.kind == "expert_pruned"; });
    if (it == v.kinds.end())
      it = std::find_if(v.kinds.begin(), v.kinds.end(), [](const auto& k) { return k.kind == "permuted"; });
    if (it != v.kinds.end()) {
      it->evidence += "; " + text;
      it->p_value = std::min(it->p_value, p);
    } else if (v.overall == VerdictClass::derived) {
      v.kinds.push_back({"permuted", "experts moved: " + text, p});
    }
  }
  if ((v.overall == VerdictClass::independent || v.overall == VerdictClass::inconclusive) && e.known_roles > 0) {
    v.reason =
        count + ", a copy no chance explains; the other evidence said: " + to_string(v.overall) + " — " + v.reason;
    v.overall = VerdictClass::partial_reuse;
    v.reused_components.emplace_back("byte_identical_tensors");
    v.p_value = std::min(v.p_value, p);
  }
  if (v.overall == VerdictClass::derived || v.overall == VerdictClass::partial_reuse) rejoin_kind(v);
}

nlohmann::json ByteIdentityEvidence::to_json() const {
  nlohmann::json pairs = nlohmann::json::array();
  for (std::size_t i = 0; i < identical.size() && i < kListed; ++i) {
    const auto& t = identical[i];
    pairs.push_back({{"suspect_tensor", t.tensor_a},
                     {"other_tensor", t.tensor_b},
                     {"suspect_key", t.key_a},
                     {"other_key", t.key_b},
                     {"bytes", t.bytes},
                     {"xxh3", hex(t.hash)},
                     {"same_name", t.same_name()}});
  }
  nlohmann::json moves = nlohmann::json::array();
  for (const auto& [layers, n] : moved) {
    moves.push_back({{"suspect_layer", layers.first}, {"other_layer", layers.second}, {"tensors", n}});
  }
  nlohmann::json experts = nlohmann::json::array();
  for (const auto& [where, n] : expert_moves) {
    experts.push_back({{"layer", std::get<0>(where)},
                       {"suspect_expert", std::get<1>(where)},
                       {"other_expert", std::get<2>(where)},
                       {"tensors", n}});
  }
  const double pass = static_cast<double>(cost.pass_bytes);
  return {{"identical_tensors", identical.size()},
          {"p_value", identical.empty() ? nlohmann::json() : nlohmann::json(p_value())},
          {"renamed", renamed},
          {"listed", pairs.size()},
          {"pairs", pairs},
          {"layer_moves", moves},
          {"experts_moved", experts_moved},
          {"expert_moves", experts},
          {"candidates", candidates},
          {"cost",
           {{"sampled_bytes", cost.sampled_bytes},
            {"full_bytes_read", cost.full_bytes_read},
            {"full_hashes_reused", cost.full_hashes_reused},
            {"full_hashes_read", cost.full_hashes_read},
            {"pass_bytes", cost.pass_bytes},
            {"bytes_fraction_of_pass",
             pass > 0 ? nlohmann::json(static_cast<double>(cost.sampled_bytes + cost.full_bytes_read) / pass)
                      : nlohmann::json()},
            {"seconds", cost.seconds}}},
          {"method",
           "tier 1: 16 blocks of 4 KiB (at most 1/8 of the tensor) per non-trivial tensor (>= 4096 elements, >= 64 "
           "distinct values), at offsets set by its byte size; tier 2: XXH3 of both whole tensors for every pair of "
           "equal size, dtype and sampled "
           "digest (the compare pass's hash when a unit covered the tensor)"}};
}

}  // namespace lineage::stages
