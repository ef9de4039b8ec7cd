#include "core/tensor_key.hpp"

#include <array>
#include <cctype>
#include <exception>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace lineage {
namespace {

template <typename E, std::size_t N>
using NameTable = std::array<std::pair<E, std::string_view>, N>;

constexpr NameTable<Component, 6> kComponents{{
    {Component::text, "text"},
    {Component::mtp, "mtp"},
    {Component::vision, "vision"},
    {Component::audio, "audio"},
    {Component::projector, "projector"},
    {Component::other, "other"},
}};

constexpr NameTable<TensorRole, 38> kRoles{{
    {TensorRole::embedding, "embedding"},
    {TensorRole::lm_head, "lm_head"},
    {TensorRole::position_embedding, "position_embedding"},
    {TensorRole::patch_embedding, "patch_embedding"},
    {TensorRole::special_embedding, "special_embedding"},
    {TensorRole::final_norm, "final_norm"},
    {TensorRole::attn_norm, "attn_norm"},
    {TensorRole::mlp_norm, "mlp_norm"},
    {TensorRole::post_attn_norm, "post_attn_norm"},
    {TensorRole::post_mlp_norm, "post_mlp_norm"},
    {TensorRole::q_norm, "q_norm"},
    {TensorRole::k_norm, "k_norm"},
    {TensorRole::attn_q, "attn_q"},
    {TensorRole::attn_k, "attn_k"},
    {TensorRole::attn_v, "attn_v"},
    {TensorRole::attn_o, "attn_o"},
    {TensorRole::attn_qkv, "attn_qkv"},
    {TensorRole::attn_sinks, "attn_sinks"},
    {TensorRole::mla_q_a, "mla_q_a"},
    {TensorRole::mla_q_b, "mla_q_b"},
    {TensorRole::mla_kv_a, "mla_kv_a"},
    {TensorRole::mla_kv_b, "mla_kv_b"},
    {TensorRole::mla_q_a_norm, "mla_q_a_norm"},
    {TensorRole::mla_kv_a_norm, "mla_kv_a_norm"},
    {TensorRole::attn_indexer, "attn_indexer"},
    {TensorRole::linear_attn, "linear_attn"},
    {TensorRole::dense_mlp, "dense_mlp"},
    {TensorRole::router, "router"},
    {TensorRole::router_bias, "router_bias"},
    {TensorRole::shared_expert, "shared_expert"},
    {TensorRole::shared_expert_gate, "shared_expert_gate"},
    {TensorRole::routed_expert, "routed_expert"},
    {TensorRole::mtp_input_proj, "mtp_input_proj"},
    {TensorRole::mtp_embed_norm, "mtp_embed_norm"},
    {TensorRole::mtp_hidden_norm, "mtp_hidden_norm"},
    {TensorRole::conv, "conv"},
    {TensorRole::layer_scale, "layer_scale"},
    {TensorRole::other, "other"},
}};
static_assert(kRoles.size() == static_cast<std::size_t>(TensorRole::other) + 1, "every TensorRole needs a name");

constexpr NameTable<Projection, 16> kProjections{{
    {Projection::none, "none"},
    {Projection::gate, "gate"},
    {Projection::up, "up"},
    {Projection::down, "down"},
    {Projection::gate_up, "gate_up"},
    {Projection::in, "in"},
    {Projection::out, "out"},
    {Projection::q, "q"},
    {Projection::k, "k"},
    {Projection::v, "v"},
    {Projection::qkv, "qkv"},
    {Projection::z, "z"},
    {Projection::a, "a"},
    {Projection::b, "b"},
    {Projection::h, "h"},
    {Projection::w, "w"},
}};

constexpr NameTable<ParamKind, 4> kKinds{{
    {ParamKind::weight, "weight"},
    {ParamKind::bias, "bias"},
    {ParamKind::scale, "scale"},
    {ParamKind::quant_meta, "quant_meta"},
}};
static_assert(kProjections.size() == static_cast<std::size_t>(Projection::w) + 1);
static_assert(kComponents.size() == static_cast<std::size_t>(Component::other) + 1);

template <typename E, std::size_t N>
std::string_view name_of(const NameTable<E, N>& table, E value) noexcept {
  for (const auto& [e, name] : table) {
    if (e == value) return name;
  }
  return "?";
}

template <typename E, std::size_t N>
std::optional<E> parse(const NameTable<E, N>& table, std::string_view s) noexcept {
  for (const auto& [e, name] : table) {
    if (name == s) return e;
  }
  return std::nullopt;
}

}  // namespace

bool is_norm_role(TensorRole role) noexcept {
  switch (role) {
    case TensorRole::final_norm:
    case TensorRole::attn_norm:
    case TensorRole::mlp_norm:
    case TensorRole::post_attn_norm:
    case TensorRole::post_mlp_norm:
    case TensorRole::q_norm:
    case TensorRole::k_norm:
    case TensorRole::mla_q_a_norm:
    case TensorRole::mla_kv_a_norm:
    case TensorRole::mtp_embed_norm:
    case TensorRole::mtp_hidden_norm:
      return true;
    default:
      return false;
  }
}

std::string_view to_string(Component c) noexcept { return name_of(kComponents, c); }
std::string_view to_string(TensorRole r) noexcept { return name_of(kRoles, r); }
std::string_view to_string(Projection p) noexcept { return name_of(kProjections, p); }
std::string_view to_string(ParamKind k) noexcept { return name_of(kKinds, k); }

std::optional<Component> parse_component(std::string_view s) noexcept { return parse(kComponents, s); }
std::optional<TensorRole> parse_role(std::string_view s) noexcept { return parse(kRoles, s); }
std::optional<Projection> parse_projection(std::string_view s) noexcept { return parse(kProjections, s); }
std::optional<ParamKind> parse_param_kind(std::string_view s) noexcept { return parse(kKinds, s); }

std::string to_string(const TensorKey& key) {
  std::string s;
  s.reserve(48);
  s += to_string(key.component);
  s += '/';
  s += to_string(key.role);
  if (key.index >= 0) s += "/I" + std::to_string(key.index);
  if (key.layer >= 0) s += "/L" + std::to_string(key.layer);
  if (key.expert >= 0) s += "/E" + std::to_string(key.expert);
  if (key.projection != Projection::none) {
    s += '/';
    s += to_string(key.projection);
  }
  if (key.kind != ParamKind::weight) {
    s += ':';
    s += to_string(key.kind);
  }
  return s;
}

std::size_t TensorKeyHash::operator()(const TensorKey& k) const noexcept {
  std::uint64_t h = static_cast<std::uint64_t>(k.component);
  h = h * 131 + static_cast<std::uint64_t>(k.role);
  h = h * 131 + static_cast<std::uint64_t>(k.projection);
  h = h * 131 + static_cast<std::uint64_t>(k.kind);
  h = h * 1000003 + static_cast<std::uint64_t>(k.layer + 1);
  h = h * 1000003 + static_cast<std::uint64_t>(k.expert + 1);
  h = h * 1000003 + static_cast<std::uint64_t>(k.index + 1);
  return std::hash<std::uint64_t>{}(h);
}

TensorKey parse_tensor_key(std::string_view s) {
  TensorKey k;
  std::vector<std::string> parts;
  std::string cur;
  std::string kind;
  const auto colon = s.find(':');
  const std::string body(colon == std::string_view::npos ? s : s.substr(0, colon));
  if (colon != std::string_view::npos) kind = std::string(s.substr(colon + 1));
  for (char c : body) {
    if (c == '/') {
      parts.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  parts.push_back(cur);
  if (parts.size() >= 2) {
    k.component = parse_component(parts[0]).value_or(Component::other);
    k.role = parse_role(parts[1]).value_or(TensorRole::other);
  }
  for (std::size_t i = 2; i < parts.size(); ++i) {
    const auto& p = parts[i];
    if (p.size() > 1 && (p[0] == 'L' || p[0] == 'E' || p[0] == 'I') && std::isdigit(static_cast<unsigned char>(p[1]))) {
      const int v = std::stoi(p.substr(1));
      (p[0] == 'L' ? k.layer : p[0] == 'E' ? k.expert : k.index) = v;
    } else {
      k.projection = parse_projection(p).value_or(Projection::none);
    }
  }
  if (!kind.empty()) k.kind = parse_param_kind(kind).value_or(ParamKind::weight);
  return k;
}

std::optional<TensorKey> parse_canonical_tensor_key(std::string_view s) noexcept {
  try {
    auto k = parse_tensor_key(s);
    if (to_string(k) == s) return k;
  } catch (const std::exception&) {
    // A number out of int's range ("L99999999999"): not a canonical key.
  }
  return std::nullopt;
}

}  // namespace lineage
