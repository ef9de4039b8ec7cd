#include "tools/synth/scenarios.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "core/errors.hpp"
#include "tools/synth/byte_bpe_tokenizer.hpp"
#include "tools/synth/counter_rng.hpp"
#include "tools/synth/generate_model.hpp"

namespace lineage::tools {
namespace {

std::uint64_t config_int(const nlohmann::json& config, const std::string& key) {
  if (!config.contains(key) || !config.at(key).is_number_integer()) {
    throw ConfigError("config.json:" + key, "synth needs an integer here");
  }
  return config.at(key).get<std::uint64_t>();
}

nlohmann::json base_provenance(const std::string& scenario, const SynthStyle& style, std::uint64_t seed) {
  return {{"generator", "lineage synth"}, {"scenario", scenario},     {"style", style.name},
          {"family", style.family},       {"variant", style.variant}, {"seed", seed}};
}

const SynthTensor* find_key(const SynthModel& m, const TensorKey& key) {
  for (const auto& t : m.tensors) {
    if (t.spec.key == key) return &t;
  }
  return nullptr;
}

SynthTensor* find_key(SynthModel& m, const TensorKey& key) {
  for (auto& t : m.tensors) {
    if (t.spec.key == key) return &t;
  }
  return nullptr;
}

double rms(const std::vector<float>& v) {
  double s = 0;
  for (const float x : v) s += static_cast<double>(x) * x;
  return v.empty() ? 0.0 : std::sqrt(s / static_cast<double>(v.size()));
}

/// A seeded permutation of 0..n-1 (Fisher-Yates over counter draws).
std::vector<int> permutation(const CounterRng& rng, int n, std::uint64_t stream) {
  std::vector<int> p(static_cast<std::size_t>(n));
  std::iota(p.begin(), p.end(), 0);
  for (int i = n - 1; i > 0; --i) {
    const auto j =
        static_cast<int>(rng.bits(stream * 65536 + static_cast<std::uint64_t>(i)) % static_cast<std::uint64_t>(i + 1));
    std::swap(p[static_cast<std::size_t>(i)], p[static_cast<std::size_t>(j)]);
  }
  return p;
}

/// Copies every tensor of `to` whose key and shape exist in `from`.
void copy_matching(const SynthModel& from, SynthModel& to) {
  for (auto& t : to.tensors) {
    const auto* src = find_key(from, t.spec.key);
    if (src && src->spec.shape == t.spec.shape) t.values = src->values;
  }
}

/// Per-expert block of a stacked tensor, or the whole tensor for a per-expert one.
std::uint64_t expert_block(const SynthTensor& t) {
  return t.spec.layout.stacked ? element_count(t.spec.shape) / t.spec.shape.at(0) : t.values.size();
}

std::vector<int> moe_layers(const SynthModel& m) {
  std::vector<int> layers;
  for (const auto& t : m.tensors) {
    if (t.spec.key.role == TensorRole::router && t.spec.key.kind == ParamKind::weight) {
      layers.push_back(t.spec.key.layer);
    }
  }
  std::sort(layers.begin(), layers.end());
  layers.erase(std::unique(layers.begin(), layers.end()), layers.end());
  return layers;
}

// ---- finetune / continued pre-training -------------------------------------------------------

SynthModel perturb(const std::string& scenario, const ScenarioInputs& in, double early_rel, double late_rel,
                   double late_keep) {
  SynthModel m = *in.base;
  const auto layers = config_int(m.config, in.style->layers_key);
  nlohmann::json per_layer = nlohmann::json::array();
  for (std::uint64_t l = 0; l < layers; ++l) {
    const double f = layers > 1 ? static_cast<double>(l) / static_cast<double>(layers - 1) : 0.0;
    per_layer.push_back({{"layer", l},
                         {"relative_update", early_rel + (late_rel - early_rel) * f},
                         {"untouched_fraction", late_keep * f}});
  }
  for (auto& t : m.tensors) {
    const double f = (t.spec.key.layer >= 0 && layers > 1)
                         ? static_cast<double>(t.spec.key.layer) / static_cast<double>(layers - 1)
                         : 0.5;
    const double rel = early_rel + (late_rel - early_rel) * f;
    const double keep = late_keep * f;
    // Norm weights move relative to their spread around the mean, not to their ~1.0 magnitude.
    double scale = rms(t.values);
    if (is_norm_role(t.spec.key.role)) scale = 0.1;
    const CounterRng trng(in.seed, scenario + ":" + t.spec.name);
    for (std::uint64_t i = 0; i < t.values.size(); ++i) {
      if (trng.uniform(2 * i) < keep) continue;
      t.values[i] += static_cast<float>(rel * scale * trng.normal(2 * i + 1));
    }
    round_to_bf16(t.values);
  }
  m.provenance = base_provenance(scenario, *in.style, in.seed);
  m.provenance["parent"] = in.parent_name;
  m.provenance["expected_class"] = scenario == "finetune" ? "DERIVED: fine-tune" : "DERIVED: continued pre-training";
  m.provenance["parameters"] = {{"relative_update_first_layer", early_rel},
                                {"relative_update_last_layer", late_rel},
                                {"untouched_fraction_last_layer", late_keep},
                                {"non_layer_tensors", "midpoint of the two"}};
  m.provenance["layers"] = per_layer;
  m.provenance["changed"] = "every tensor (elementwise: see layers)";
  return m;
}

// ---- permuted ---------------------------------------------------------------------------------

void permute_rows(std::vector<float>& v, std::uint64_t cols, const std::vector<int>& p) {
  const auto old = v;
  for (std::size_t r = 0; r < p.size(); ++r) {
    std::copy_n(old.begin() + static_cast<std::ptrdiff_t>(static_cast<std::uint64_t>(p[r]) * cols), cols,
                v.begin() + static_cast<std::ptrdiff_t>(r * cols));
  }
}

void permute_cols(std::vector<float>& v, std::uint64_t cols, const std::vector<int>& p) {
  const auto old = v;
  const std::uint64_t rows = v.size() / cols;
  for (std::uint64_t r = 0; r < rows; ++r) {
    for (std::size_t c = 0; c < p.size(); ++c) {
      v[r * cols + c] = old[r * cols + static_cast<std::uint64_t>(p[c])];
    }
  }
}

SynthModel permuted(const ScenarioInputs& in) {
  SynthModel m = *in.base;
  const CounterRng rng(in.seed, "permuted");
  nlohmann::json layers_json = nlohmann::json::array();
  bool neurons_permuted = false;
  for (const int layer : moe_layers(m)) {
    TensorKey rk;
    rk.role = TensorRole::router;
    rk.layer = layer;
    auto* router = find_key(m, rk);
    const auto experts = static_cast<int>(router->spec.shape.at(0));
    const auto perm = permutation(rng, experts, static_cast<std::uint64_t>(layer));
    permute_rows(router->values, router->values.size() / static_cast<std::uint64_t>(experts), perm);
    nlohmann::json neuron_perms = nlohmann::json::object();
    for (auto& t : m.tensors) {
      const auto& k = t.spec.key;
      if (k.layer != layer) continue;
      if (k.role == TensorRole::router_bias) permute_rows(t.values, 1, perm);
      if (k.role == TensorRole::routed_expert && t.spec.layout.stacked) {
        permute_rows(t.values, expert_block(t), perm);
      }
    }
    // Per-expert tensors: new expert e takes old expert perm[e]'s tensors (swap values by key),
    // then its hidden neurons are permuted consistently in gate/up rows and down columns.
    std::map<TensorKey, std::vector<float>> old_values;
    for (const auto& t : m.tensors) {
      if (t.spec.key.layer == layer && t.spec.key.role == TensorRole::routed_expert && !t.spec.layout.stacked) {
        old_values[t.spec.key] = t.values;
      }
    }
    for (auto& t : m.tensors) {
      auto k = t.spec.key;
      if (k.layer != layer || k.role != TensorRole::routed_expert || t.spec.layout.stacked) continue;
      const int e = k.expert;
      k.expert = perm[static_cast<std::size_t>(e)];
      t.values = old_values.at(k);
      if (t.spec.layout.transposed) continue;
      const std::string name = "L" + std::to_string(layer) + "E" + std::to_string(e);
      if (k.projection == Projection::gate || k.projection == Projection::up) {
        const auto rows = static_cast<int>(t.spec.shape.at(0));
        const auto sigma = permutation(rng, rows, 1000 + static_cast<std::uint64_t>(layer * 4096 + e));
        permute_rows(t.values, t.spec.shape.at(1), sigma);
        neuron_perms[name] = sigma;
        neurons_permuted = true;
      } else if (k.projection == Projection::down) {
        const auto cols = static_cast<int>(t.spec.shape.at(1));
        const auto sigma = permutation(rng, cols, 1000 + static_cast<std::uint64_t>(layer * 4096 + e));
        permute_cols(t.values, t.spec.shape.at(1), sigma);
      }
    }
    layers_json.push_back({{"layer", layer}, {"expert_permutation", perm}, {"neuron_permutations", neuron_perms}});
  }
  m.shards = in.base->shards;
  m.provenance = base_provenance("permuted", *in.style, in.seed);
  m.provenance["parent"] = in.parent_name;
  m.provenance["expected_class"] = "DERIVED: obfuscated";
  m.provenance["parameters"] = {{"meaning",
                                 "new expert e = parent expert expert_permutation[e]; router rows permuted alike; "
                                 "new hidden neuron j of expert e = parent neuron neuron_permutations[LlEe][j] "
                                 "(gate/up rows, down columns); the model computes the same function"},
                                {"neurons_permuted", neurons_permuted}};
  m.provenance["layers"] = layers_json;
  return m;
}

// ---- upcycled ---------------------------------------------------------------------------------

/// The dense parent's MLP projection `proj` of `layer` (HF [out, in]); null if it has none.
const SynthTensor* dense_mlp(const SynthModel& parent, int layer, Projection proj) {
  TensorKey k;
  k.role = TensorRole::dense_mlp;
  k.layer = layer;
  k.projection = proj;
  return find_key(parent, k);
}

/// Sparse upcycling: every routed expert starts as the dense parent's MLP of its layer. With
/// `permute_neurons`, each expert's hidden neurons are also shuffled (gate/up rows and down
/// columns alike, one permutation per expert), as upcycling recipes that shuffle before
/// splitting do: each expert still computes its dense MLP, but no element sits where it was.
SynthModel upcycled(const ScenarioInputs& in, bool permute_neurons) {
  const std::string name = permute_neurons ? "upcycled_permuted" : "upcycled";
  if (!in.dense_parent) throw ConfigError("synth", name + " needs a dense parent model");
  const auto& parent = *in.dense_parent;
  // New tensors (routers, shared experts) are drawn with the scenario's seed; a realistic
  // parent's residual structure (outlier dimensions, norm profiles) carries over, since they
  // are trained on the parent's residual stream.
  const auto specs = in.expand(in.style->family, in.base->config, in.style->variant);
  const ModelStructure structure =
      model_structure(parent.provenance.value("seed", std::uint64_t{0}), residual_width(specs));
  SynthModel m = generate_model(specs, in.base->config, in.seed, config_int(in.base->config, in.style->vocab_key),
                                value_model_of(parent), &structure);
  m.tokenizer = parent.tokenizer;
  copy_matching(parent, m);
  const double noise = 0.002;  // ~10% of the weights' RMS: visible, but experts stay close
  nlohmann::json copied_experts = nlohmann::json::array();
  const CounterRng neuron_rng(in.seed, "upcycle-neurons");
  // New neuron j of expert e in layer l is the dense MLP's neuron sigma[j] (identity unless permuting).
  const auto neuron_order = [&](int layer, std::uint64_t expert, std::uint64_t neurons) {
    if (!permute_neurons) {
      std::vector<int> id(neurons);
      std::iota(id.begin(), id.end(), 0);
      return id;
    }
    return permutation(neuron_rng, static_cast<int>(neurons), static_cast<std::uint64_t>(layer) * 4096 + expert);
  };
  for (auto& t : m.tensors) {
    const auto& k = t.spec.key;
    if (k.role != TensorRole::routed_expert) continue;
    const CounterRng rng(in.seed, "upcycle-noise:" + t.spec.name);
    bool done = false;
    if (!t.spec.layout.stacked && !t.spec.layout.transposed) {
      const auto* src = dense_mlp(parent, k.layer, k.projection);
      if (src && src->spec.shape == t.spec.shape && src->spec.shape.size() == 2) {
        const auto rows = src->spec.shape[0], cols = src->spec.shape[1];
        const bool down = k.projection == Projection::down;
        const auto sigma = neuron_order(k.layer, static_cast<std::uint64_t>(std::max(k.expert, 0)), down ? cols : rows);
        for (std::uint64_t r = 0; r < rows; ++r) {
          for (std::uint64_t c = 0; c < cols; ++c) {
            const std::uint64_t sr = down ? r : static_cast<std::uint64_t>(sigma[r]);
            const std::uint64_t sc = down ? static_cast<std::uint64_t>(sigma[c]) : c;
            const std::uint64_t i = r * cols + c;
            t.values[i] = src->values[sr * cols + sc] + static_cast<float>(noise * rng.normal(i));
          }
        }
        done = true;
      }
    } else if (t.spec.layout.stacked && t.spec.shape.size() == 3) {
      // Stored [E, a, b]; HF per-expert matrix is [a, b] or its transpose. A fused gate_up
      // HF matrix stacks gate and up rows (interleaved or concatenated).
      const auto a = t.spec.shape[1], b = t.spec.shape[2];
      const bool fused = k.projection == Projection::gate_up;
      const auto* g = dense_mlp(parent, k.layer, fused ? Projection::gate : k.projection);
      const auto* u = fused ? dense_mlp(parent, k.layer, Projection::up) : nullptr;
      const std::uint64_t hf_rows = t.spec.layout.transposed ? b : a;
      const std::uint64_t hf_cols = t.spec.layout.transposed ? a : b;
      const bool ok = g && (!fused || u) && g->spec.shape.size() == 2 && g->spec.shape[1] == hf_cols &&
                      g->spec.shape[0] * (fused ? 2 : 1) == hf_rows;
      if (ok) {
        const std::uint64_t inter = g->spec.shape[0];
        const bool down = k.projection == Projection::down;
        for (std::uint64_t e = 0; e < t.spec.shape[0]; ++e) {
          const auto sigma = neuron_order(k.layer, e, down ? hf_cols : inter);
          for (std::uint64_t r = 0; r < a; ++r) {
            for (std::uint64_t c = 0; c < b; ++c) {
              const std::uint64_t hr = t.spec.layout.transposed ? c : r;
              const std::uint64_t hc = t.spec.layout.transposed ? r : c;
              const SynthTensor* src = g;
              std::uint64_t row = hr;
              if (fused) {
                const bool interleaved = t.spec.layout.gate_up == StorageLayout::GateUp::interleaved;
                const bool is_up = interleaved ? (hr % 2 == 1) : (hr >= inter);
                row = interleaved ? hr / 2 : (is_up ? hr - inter : hr);
                src = is_up ? u : g;
              }
              const std::uint64_t i = (e * a + r) * b + c;
              const std::uint64_t src_row = down ? row : static_cast<std::uint64_t>(sigma[row]);
              const std::uint64_t src_col = down ? static_cast<std::uint64_t>(sigma[hc]) : hc;
              t.values[i] = src->values[src_row * hf_cols + src_col] + static_cast<float>(noise * rng.normal(i));
            }
          }
        }
        done = true;
      }
    }
    round_to_bf16(t.values);
    if (done) copied_experts.push_back(t.spec.name);
  }
  m.provenance = base_provenance(name, *in.style, in.seed);
  m.provenance["parent"] = in.dense_parent_name;
  m.provenance["expected_class"] = "DERIVED: upcycled";
  m.provenance["parameters"] = {
      {"expert_noise_sigma", noise}, {"dense_family", in.style->dense_family}, {"neurons_permuted", permute_neurons}};
  if (permute_neurons) {
    m.provenance["neuron_permutations"] =
        "per expert: permutation(CounterRng(seed, \"upcycle-neurons\"), neurons, layer * 4096 + expert); new "
        "neuron j = the dense MLP's neuron sigma[j] (gate/up rows, down columns)";
  }
  m.provenance["copied"] = "attention, norms, embeddings, lm_head: exact copies of the dense parent";
  m.provenance["experts_from_dense_mlp"] = copied_experts;
  m.provenance["random"] = "routers, shared experts (new)";
  return m;
}

// ---- expert pruning ---------------------------------------------------------------------------

SynthModel expert_pruned(const ScenarioInputs& in) {
  const auto& style = *in.style;
  const auto experts = static_cast<int>(config_int(in.base->config, style.experts_key));
  const int keep = std::max(1, experts * 3 / 4);
  auto order = permutation(CounterRng(in.seed, "expert_pruned"), experts, 0);
  std::vector<int> kept(order.begin(), order.begin() + keep);
  std::sort(kept.begin(), kept.end());
  nlohmann::json config = in.base->config;
  config[style.experts_key] = keep;
  if (!style.top_k_key.empty() && config.contains(style.top_k_key)) {
    config[style.top_k_key] = std::min<int>(config[style.top_k_key].get<int>(), keep);
  }
  SynthModel m;
  m.config = config;
  m.tokenizer = in.base->tokenizer;
  for (const auto& spec : in.expand(style.family, config, style.variant)) {
    SynthTensor t{spec, {}};
    const auto& k = spec.key;
    TensorKey src_key = k;
    if (k.role == TensorRole::routed_expert && !spec.layout.stacked) {
      src_key.expert = kept.at(static_cast<std::size_t>(k.expert));
    }
    const auto* src = find_key(*in.base, src_key);
    if (!src) throw InternalError("synth: no base tensor for " + spec.name);
    const bool subset_rows = (k.role == TensorRole::router || k.role == TensorRole::router_bias ||
                              (k.role == TensorRole::routed_expert && spec.layout.stacked));
    if (subset_rows) {
      const std::uint64_t block = src->values.size() / src->spec.shape.at(0);
      for (const int e : kept) {
        const auto begin = src->values.begin() + static_cast<std::ptrdiff_t>(static_cast<std::uint64_t>(e) * block);
        t.values.insert(t.values.end(), begin, begin + static_cast<std::ptrdiff_t>(block));
      }
    } else {
      t.values = src->values;
    }
    if (t.values.size() != element_count(spec.shape)) {
      throw InternalError("synth: pruned size mismatch for " + spec.name);
    }
    m.tensors.push_back(std::move(t));
  }
  m.provenance = base_provenance("expert_pruned", style, in.seed);
  m.provenance["parent"] = in.parent_name;
  m.provenance["expected_class"] = "DERIVED: expert-/width-/depth-pruned";
  m.provenance["parameters"] = {{"experts_before", experts}, {"experts_after", keep}};
  m.provenance["kept_experts"] = kept;  // new expert i = parent expert kept[i], in every MoE layer
  return m;
}

// ---- depth up-scaling -------------------------------------------------------------------------

SynthModel depth_upscaled(const ScenarioInputs& in) {
  const auto& style = *in.style;
  const auto layers = static_cast<int>(config_int(in.base->config, style.layers_key));
  const int n = std::max(1, layers / 4);
  // SOLAR: two copies of the stack; drop the last n layers of the first and the first n of the
  // second, so layers [n, L-n) appear twice.
  std::vector<int> source;
  source.reserve(static_cast<std::size_t>(2 * layers - 2 * n));
  for (int i = 0; i < layers - n; ++i) source.push_back(i);
  for (int i = n; i < layers; ++i) source.push_back(i);
  nlohmann::json config = in.base->config;
  config[style.layers_key] = source.size();
  // Per-layer lists in the config (layer_types, ...) follow their layers.
  for (auto& [key, value] : config.items()) {
    if (value.is_array() && value.size() == static_cast<std::size_t>(layers)) {
      nlohmann::json remapped = nlohmann::json::array();
      for (const int s : source) remapped.push_back(value[static_cast<std::size_t>(s)]);
      value = remapped;
    }
  }
  SynthModel m;
  m.config = config;
  m.tokenizer = in.base->tokenizer;
  for (const auto& spec : in.expand(style.family, config, style.variant)) {
    TensorKey src_key = spec.key;
    if (src_key.layer >= 0) src_key.layer = source.at(static_cast<std::size_t>(src_key.layer));
    const auto* src = find_key(*in.base, src_key);
    if (!src || src->spec.shape != spec.shape) {
      throw InternalError("synth: no matching base tensor for " + spec.name);
    }
    m.tensors.push_back({spec, src->values});
  }
  m.provenance = base_provenance("depth_upscaled", style, in.seed);
  m.provenance["parent"] = in.parent_name;
  m.provenance["expected_class"] = "DERIVED: depth up-scaled";
  m.provenance["parameters"] = {{"layers_before", layers}, {"layers_after", source.size()}, {"dropped_per_copy", n}};
  m.provenance["layer_source"] = source;  // new layer i = parent layer layer_source[i], exactly
  return m;
}

// ---- vocabulary extension ---------------------------------------------------------------------

std::vector<stages::ExpectedTensor> base_specs(const SynthModel& m) {
  std::vector<stages::ExpectedTensor> specs;
  specs.reserve(m.tensors.size());
  for (const auto& t : m.tensors) specs.push_back(t.spec);
  return specs;
}

SynthModel vocab_extended(const ScenarioInputs& in) {
  const auto& style = *in.style;
  const auto vocab = config_int(in.base->config, style.vocab_key);
  const std::uint64_t added = 64;
  nlohmann::json config = in.base->config;
  config[style.vocab_key] = vocab + added;
  SynthModel m;
  m.config = config;
  m.tokenizer = in.base->tokenizer;
  extend_tokenizer(m.tokenizer, in.seed, added);
  nlohmann::json extended = nlohmann::json::array();
  const bool realistic = value_model_of(*in.base) == ValueModel::realistic;
  const ModelStructure structure =
      model_structure(in.base->provenance.value("seed", std::uint64_t{0}), residual_width(base_specs(*in.base)));
  for (const auto& spec : in.expand(style.family, config, style.variant)) {
    const auto* src = find_key(*in.base, spec.key);
    if (!src) throw InternalError("synth: no base tensor for " + spec.name);
    SynthTensor t{spec, src->values};
    if (src->spec.shape != spec.shape) {
      // Rows appended to a vocab-indexed table: base rows unchanged, new rows ~ the table's
      // own distribution (what resize_token_embeddings + training gives).
      // Realistic: the base's own structure (mean direction, column factors, outlier
      // dimensions, the frequency law continued), new rows drawn with the scenario's seed.
      auto fresh =
          realistic ? realistic_values(spec, structure, in.seed ^ 0x5eedu) : generate_values(spec, in.seed ^ 0x5eedu);
      std::copy(src->values.begin(), src->values.end(), fresh.begin());
      t.values = std::move(fresh);
      extended.push_back(spec.name);
    }
    m.tensors.push_back(std::move(t));
  }
  m.provenance = base_provenance("vocab_extended", style, in.seed);
  m.provenance["parent"] = in.parent_name;
  m.provenance["expected_class"] = "DERIVED: vocabulary-extended";
  m.provenance["parameters"] = {{"vocab_before", vocab}, {"vocab_after", vocab + added}};
  m.provenance["extended_tensors"] = extended;
  return m;
}

/// vocab_extended, then the whole vocabulary re-sorted by token text (what merging two
/// vocabularies and writing the result in sorted order does): every base token keeps its bytes
/// and its row, but nearly every id changes and the new tokens land among the old ones. Row i
/// against row i then compares different tokens; only the token map pairs them again.
/// Special tokens stay at the end, in their order.
SynthModel vocab_remapped(const ScenarioInputs& in) {
  SynthModel m = vocab_extended(in);
  const auto total = m.tokenizer.tokens.size();
  // order[new id] = id in the appended layout.
  std::vector<std::size_t> order, specials;
  for (std::size_t id = 0; id < total; ++id) (m.tokenizer.special[id] ? specials : order).push_back(id);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t x, std::size_t y) { return m.tokenizer.tokens[x] < m.tokenizer.tokens[y]; });
  order.insert(order.end(), specials.begin(), specials.end());
  std::size_t same_id = 0;
  for (std::size_t id = 0; id < total; ++id) same_id += order[id] == id ? 1 : 0;
  SynthTokenizer tok = m.tokenizer;
  for (std::size_t id = 0; id < total; ++id) {
    tok.tokens[id] = m.tokenizer.tokens[order[id]];
    tok.special[id] = m.tokenizer.special[order[id]];
  }
  m.tokenizer = std::move(tok);
  for (auto& t : m.tensors) {
    if (t.spec.key.role != TensorRole::embedding && t.spec.key.role != TensorRole::lm_head) continue;
    const auto rows = t.spec.shape[0], cols = element_count(t.spec.shape) / std::max<std::uint64_t>(rows, 1);
    if (rows != total) throw InternalError("synth: " + t.spec.name + " rows differ from the vocabulary");
    std::vector<float> moved(t.values.size());
    for (std::size_t id = 0; id < total; ++id) {
      std::copy_n(t.values.begin() + static_cast<std::ptrdiff_t>(order[id] * cols), cols,
                  moved.begin() + static_cast<std::ptrdiff_t>(id * cols));
    }
    t.values = std::move(moved);
  }
  const auto parameters = m.provenance["parameters"];
  const auto extended = m.provenance["extended_tensors"];
  m.provenance = base_provenance("vocab_remapped", *in.style, in.seed);
  m.provenance["parent"] = in.parent_name;
  m.provenance["expected_class"] = "DERIVED: vocabulary-extended";
  m.provenance["parameters"] = parameters;
  m.provenance["parameters"]["ids_kept"] = same_id;
  m.provenance["parameters"]["order"] = "sorted by token text, specials last";
  m.provenance["extended_tensors"] = extended;
  return m;
}

// ---- identical / independent / partial reuse -------------------------------------------------

SynthModel identical(const ScenarioInputs& in) {
  SynthModel m = *in.base;
  std::reverse(m.tensors.begin(), m.tensors.end());
  m.shards = in.base->shards + 1;
  m.provenance = base_provenance("identical", *in.style, in.seed);
  m.provenance["parent"] = in.parent_name;
  m.provenance["expected_class"] = "IDENTICAL";
  m.provenance["parameters"] = {{"shards", m.shards}, {"tensor_order", "reversed"}};
  return m;
}

SynthModel independent(const ScenarioInputs& in, const std::string& scenario) {
  if (in.seed == in.base->provenance.value("seed", in.seed + 1)) {
    throw ConfigError("--seed", scenario + " needs a seed different from the base model's");
  }
  const auto& style = *in.style;
  const auto specs = in.expand(style.family, in.base->config, style.variant);
  const auto values = value_model_of(*in.base);
  SynthModel m = generate_model(specs, in.base->config, in.seed, config_int(in.base->config, style.vocab_key), values);
  m.provenance = base_provenance(scenario, style, in.seed);
  if (values == ValueModel::realistic) {
    m.provenance["structure"] = structure_provenance(values, model_structure(in.seed, residual_width(specs)));
  }
  m.provenance["parent"] = in.parent_name;
  m.provenance["expected_class"] = "INDEPENDENT";
  return m;
}

bool is_attention_role(TensorRole r) {
  switch (r) {
    case TensorRole::attn_q:
    case TensorRole::attn_k:
    case TensorRole::attn_v:
    case TensorRole::attn_o:
    case TensorRole::attn_qkv:
    case TensorRole::attn_sinks:
    case TensorRole::q_norm:
    case TensorRole::k_norm:
    case TensorRole::mla_q_a:
    case TensorRole::mla_q_b:
    case TensorRole::mla_kv_a:
    case TensorRole::mla_kv_b:
    case TensorRole::mla_q_a_norm:
    case TensorRole::mla_kv_a_norm:
      return true;
    default:
      return false;
  }
}

SynthModel partial_reuse(const ScenarioInputs& in) {
  SynthModel m = independent(in, "partial_reuse");
  nlohmann::json copied = nlohmann::json::array();
  for (auto& t : m.tensors) {
    const auto r = t.spec.key.role;
    if (is_attention_role(r) || r == TensorRole::embedding) {
      const auto* src = find_key(*in.base, t.spec.key);
      if (src && src->spec.shape == t.spec.shape) {
        t.values = src->values;
        copied.push_back(t.spec.name);
      }
    }
  }
  m.tokenizer = in.base->tokenizer;  // reusing the embedding means reusing its token ids
  m.provenance["expected_class"] = "PARTIAL REUSE (per component)";
  m.provenance["copied_components"] = {"attention (all layers)", "embedding", "tokenizer"};
  m.provenance["copied"] = copied;
  m.provenance["independent"] = "everything else (seed " + std::to_string(in.seed) + ")";
  return m;
}

}  // namespace

const std::vector<std::string>& scenario_names() {
  static const std::vector<std::string> kNames = {
      "identical",      "finetune",       "continued_pretrain", "permuted",    "upcycled",       "expert_pruned",
      "depth_upscaled", "vocab_extended", "partial_reuse",      "independent", "vocab_remapped", "upcycled_permuted"};
  return kNames;
}

ValueModel value_model_of(const SynthModel& m) {
  return m.provenance.is_object() && m.provenance.value("values", "") == "realistic" ? ValueModel::realistic
                                                                                     : ValueModel::iid;
}

namespace {
/// Marks a fresh model's provenance with its value model (i.i.d. models keep their historical
/// provenance.json, byte for byte).
void record_values(SynthModel& m, ValueModel values, std::uint64_t seed,
                   const std::vector<stages::ExpectedTensor>& specs) {
  if (values != ValueModel::realistic) return;
  m.provenance["values"] = to_string(values);
  m.provenance["structure"] = structure_provenance(values, model_structure(seed, residual_width(specs)));
}
}  // namespace

SynthModel make_base(const SynthStyle& style, std::uint64_t seed, const ExpandFn& expand, ValueModel values) {
  const auto specs = expand(style.family, style.config, style.variant);
  SynthModel m = generate_model(specs, style.config, seed, config_int(style.config, style.vocab_key), values);
  m.provenance = base_provenance("base", style, seed);
  m.provenance["parent"] = nullptr;
  record_values(m, values, seed, specs);
  return m;
}

SynthModel make_dense_parent(const SynthStyle& style, std::uint64_t seed, const ExpandFn& expand, ValueModel values) {
  if (style.dense_family.empty()) {
    throw ConfigError("style " + style.name, "has no dense_parent (needed by upcycled)");
  }
  const auto specs = expand(style.dense_family, style.dense_config, "");
  SynthModel m =
      generate_model(specs, style.dense_config, seed, config_int(style.dense_config, style.vocab_key), values);
  m.provenance = base_provenance("dense_parent", style, seed);
  m.provenance["family"] = style.dense_family;
  m.provenance["variant"] = "";
  m.provenance["parent"] = nullptr;
  record_values(m, values, seed, specs);
  return m;
}

SynthModel make_scenario(const std::string& scenario, const ScenarioInputs& in) {
  if (!in.style || !in.base || !in.expand) throw InternalError("synth: incomplete scenario inputs");
  SynthModel m;
  if (scenario == "identical") {
    m = identical(in);
  } else if (scenario == "finetune") {
    m = perturb(scenario, in, 0.02, 0.005, 0.9);
  } else if (scenario == "continued_pretrain") {
    m = perturb(scenario, in, 0.3, 0.15, 0.0);
  } else if (scenario == "permuted") {
    m = permuted(in);
  } else if (scenario == "upcycled" || scenario == "upcycled_permuted") {
    m = upcycled(in, scenario == "upcycled_permuted");
  } else if (scenario == "expert_pruned") {
    m = expert_pruned(in);
  } else if (scenario == "depth_upscaled") {
    m = depth_upscaled(in);
  } else if (scenario == "vocab_extended") {
    m = vocab_extended(in);
  } else if (scenario == "partial_reuse") {
    m = partial_reuse(in);
  } else if (scenario == "vocab_remapped") {
    m = vocab_remapped(in);
  } else if (scenario == "independent") {
    m = independent(in, "independent");
  } else {
    std::string known;
    for (const auto& s : scenario_names()) known += (known.empty() ? "" : ", ") + s;
    throw ConfigError("--scenario", "unknown scenario '" + scenario + "' (known: " + known + ")");
  }
  if (m.shards < 2) m.shards = 2;
  m.provenance["base_seed"] = in.base->provenance.value("seed", 0);
  const SynthModel& origin = scenario.rfind("upcycled", 0) == 0 ? *in.dense_parent : *in.base;
  if (value_model_of(origin) == ValueModel::realistic) m.provenance["values"] = "realistic";
  return m;
}

}  // namespace lineage::tools
