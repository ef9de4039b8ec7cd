#pragma once
/// @file tensor_key.hpp
/// The canonical key every tensor is classified into: (component, role, layer, expert,
/// projection, kind). The role list is closed (like llama.cpp's MODEL_TENSOR): family files name
/// roles from this enum and a family file that names anything else fails to load.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lineage {

/// Which sub-model a tensor belongs to. MTP (multi-token-prediction / nextn) blocks are their own
/// component because they must never be aligned with decoder layers (METHODS §1.2).
enum class Component : std::uint8_t { text, mtp, vision, audio, projector, other };

enum class TensorRole : std::uint8_t {
  // Token and position tables.
  embedding,
  lm_head,
  position_embedding,
  patch_embedding,
  special_embedding,  ///< learned stand-alone vectors (image_newline, view separators, queries)
  // Norms.
  final_norm,
  attn_norm,       ///< pre-attention norm (input_layernorm, ln_1, ln_attn, layer_norm1)
  mlp_norm,        ///< pre-MLP norm (post_attention_layernorm in Llama, ln_2, pre_feedforward)
  post_attn_norm,  ///< norm applied to the attention output (Gemma post_attention_layernorm)
  post_mlp_norm,   ///< norm applied to the MLP output (Gemma post_feedforward_layernorm)
  q_norm,
  k_norm,
  // Attention.
  attn_q,
  attn_k,
  attn_v,
  attn_o,
  attn_qkv,  ///< fused q/k/v (c_attn, query_key_value, qkv, Wqkv)
  attn_sinks,
  mla_q_a,
  mla_q_b,
  mla_kv_a,
  mla_kv_b,
  mla_q_a_norm,
  mla_kv_a_norm,
  attn_indexer,  ///< sparse-attention indexer weights (DeepSeek-V3.2 DSA and similar)
  linear_attn,   ///< linear-attention / state-space mixers (Gated DeltaNet); projection says which
  // Feed-forward.
  dense_mlp,
  router,
  router_bias,  ///< e_score_correction_bias and similar routing biases
  shared_expert,
  shared_expert_gate,
  routed_expert,
  // MTP-only glue (the MTP block's inner layers use the ordinary roles under Component::mtp).
  mtp_input_proj,   ///< eh_proj / input_proj: concatenated [embedding; hidden] -> hidden
  mtp_embed_norm,   ///< enorm / token_layernorm
  mtp_hidden_norm,  ///< hnorm / hidden_layernorm
  // Vision / audio building blocks that have no text analogue.
  conv,
  layer_scale,
  // Unclassified: never produced by a family file, only by the inventory for unclaimed names.
  other,
};

/// Which matrix of a role. none for single-matrix roles.
enum class Projection : std::uint8_t {
  none,
  gate,
  up,
  down,
  gate_up,  ///< fused gate+up; the family file's layout says how to split it
  in,
  out,
  q,
  k,
  v,
  qkv,
  z,
  a,
  b,
  h,
  w,
};

/// What the stored tensor is for its key: the weight itself, a bias, a quantisation scale
/// (weight_scale_inv, SCB), or quantisation metadata (weight_format).
enum class ParamKind : std::uint8_t { weight, bias, scale, quant_meta };

/// The canonical identity of one tensor (or one per-expert view of a fused tensor).
struct TensorKey {
  Component component = Component::text;
  TensorRole role = TensorRole::other;
  int layer = -1;   ///< -1 when the tensor is not per layer
  int expert = -1;  ///< -1 when the tensor is not per expert
  Projection projection = Projection::none;
  ParamKind kind = ParamKind::weight;
  int index = -1;  ///< sub-index for repeated blocks that are neither layer nor expert (stage, tower)

  friend bool operator==(const TensorKey&, const TensorKey&) = default;
  // clang-tidy 14 reads the defaulted <=>'s comparison with literal 0 as a null pointer.
  friend auto operator<=>(const TensorKey&, const TensorKey&) = default;  // NOLINT(modernize-use-nullptr)
};

/// Norm weights (γ vectors that start at 1): the roles where raw cosine is never evidence.
[[nodiscard]] bool is_norm_role(TensorRole role) noexcept;

[[nodiscard]] std::string_view to_string(Component c) noexcept;
[[nodiscard]] std::string_view to_string(TensorRole r) noexcept;
[[nodiscard]] std::string_view to_string(Projection p) noexcept;
[[nodiscard]] std::string_view to_string(ParamKind k) noexcept;

[[nodiscard]] std::optional<Component> parse_component(std::string_view s) noexcept;
[[nodiscard]] std::optional<TensorRole> parse_role(std::string_view s) noexcept;
[[nodiscard]] std::optional<Projection> parse_projection(std::string_view s) noexcept;
[[nodiscard]] std::optional<ParamKind> parse_param_kind(std::string_view s) noexcept;

/// Human- and machine-readable form, e.g. "text/routed_expert/L3/E17/gate" or
/// "vision/attn_q/L0:bias". Stable: used as a key in the result store.
[[nodiscard]] std::string to_string(const TensorKey& key);
/// The inverse of to_string ("text/routed_expert/L3/E5/up:bias"); unknown parts read as other /
/// none / weight, so a key from a newer store still parses.
[[nodiscard]] TensorKey parse_tensor_key(std::string_view s);
/// The key whose canonical text `s` is (to_string of the result gives `s` back), or nothing for
/// any other text, e.g. a raw tensor name.
[[nodiscard]] std::optional<TensorKey> parse_canonical_tensor_key(std::string_view s) noexcept;

struct TensorKeyHash {
  std::size_t operator()(const TensorKey& k) const noexcept;
};

}  // namespace lineage
