#include "pipeline/verdict_report.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <functional>
#include <iomanip>
#include <map>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "core/errors.hpp"
#include "io/json_text.hpp"
#include "pipeline/layer_alignment_report.hpp"
#include "stages/verdict/neuron_evidence.hpp"
#include "stages/verdict/sketch_evidence.hpp"
#include "stages/verdict/store_evidence.hpp"
#include "stages/verdict/store_verdicts.hpp"
#include "stages/verdict/verdict.hpp"

namespace lineage::pipeline {
namespace {

nlohmann::json nonfinite_json(const stages::NonFiniteCounts& n) {
  return {{"elements", n.elements},
          {"suspect", n.suspect},
          {"other", n.other},
          {"mismatch", n.mismatch},
          {"finite_share", n.finite_share()}};
}

/// Evidence beside the weights as the JSON items the report shows, with the stage's note on how
/// it bears on the verdict.
nlohmann::json context_for(const nlohmann::json& evidence, stages::VerdictClass overall) {
  nlohmann::json c{{"items", nlohmann::json::array()}};
  std::vector<stages::BesideEvidence> typed;
  for (const auto& e : evidence) {
    c["items"].push_back({{"kind", e["kind"]}, {"support", e["support"]}, {"reading", e["reading"]}});
    typed.push_back(
        {e.value("kind", std::string()), e.value("support", std::string()), e.value("reading", std::string())});
  }
  c["note"] = stages::context_note(typed, overall);
  return c;
}

nlohmann::json summary_json(const std::optional<stages::ValueSummary>& s) {
  if (!s) return nullptr;
  return {{"n", s->n}, {"mean", s->mean}, {"sd", s->sd}, {"min", s->min}, {"max", s->max}};
}

nlohmann::json num(double x) { return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(nullptr); }

/// Expert matching from the experts' sketches, one entry per layer (stages/verdict/sketch_evidence).
nlohmann::json sketch_matching_json(const stages::LayerSketchMatching& l) {
  const auto& m = l.matching;
  const auto nums = [](const std::vector<double>& v) {
    nlohmann::json a = nlohmann::json::array();
    for (double x : v) a.push_back(num(x));
    return a;
  };
  nlohmann::json j = {{"layer", l.layer},
                      {"projections", l.projections},
                      {"suspect_to_other", m.match},
                      {"score", nums(m.score)},
                      {"margin", nums(m.margin)},
                      {"matched_mean", num(m.matched_mean)},
                      {"null_mean", num(m.null_mean)},
                      {"null_sd", num(m.null_sd)},
                      {"permutations", m.permutations},
                      {"p_value", num(m.p)},
                      {"in_place", m.in_place},
                      {"unmatched_suspect", m.unmatched_suspect},
                      {"unmatched_other", m.unmatched_other}};
  if (l.has_router) {
    j["router"] = {{"own_matching", l.router_match},
                   {"agreement", l.router_agreement},
                   {"agreement_p", num(l.router_agreement_p)},
                   {"mean_corr_in_place", num(l.router_in_place)},
                   {"mean_corr_reordered", num(l.router_reordered)}};
  }
  return j;
}

/// The distance matrix and its lineage tree, when the stage draws one.
void add_distance_matrix(nlohmann::json& out, const stages::DistanceMatrix& d) {
  if (d.models.size() < 2) return;
  nlohmann::json matrix = nlohmann::json::array();
  for (const auto& row : d.distance) {
    nlohmann::json r = nlohmann::json::array();
    for (double x : row) r.push_back(std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(nullptr));
    matrix.push_back(r);
  }
  out["distance"] = {{"models", d.models},
                     {"matrix", matrix},
                     {"definition", "1 − median Pearson of the pair's same-key units"},
                     {"missing_pairs", d.missing_pairs}};
  if (const auto tree = stages::lineage_tree(d)) {
    out["tree"] = {{"newick", tree->newick()},
                   {"drawing", tree->drawing()},
                   {"method", "neighbour-joining"},
                   {"svg", tree->svg("lineage tree (neighbour-joining over 1 − median same-key Pearson)")}};
  }
}

/// One MLP's neuron matching as the verdict JSON gives it.
nlohmann::json neuron_entry_json(const stages::MlpNeuronMatching& m) {
  nlohmann::json projections = nlohmann::json::array();
  for (const auto& x : m.projections) {
    projections.push_back({{"projection", x.projection},
                           {"neurons", x.neurons},
                           {"sampled", x.sampled},
                           {"in_place", x.in_place},
                           {"matched_corr", num(x.matched_corr)},
                           {"null_sd", num(x.null_sd)},
                           {"p_value", num(x.p)},
                           {"margin", num(x.margin)},
                           {"other_neurons", x.other_neurons}});
  }
  return {{"role", m.role},
          {"layer", m.layer},
          {"expert", m.expert},
          {"matched", m.matched},
          {"permuted", m.permuted},
          {"p_value", num(m.p)},
          {"matched_corr", num(m.matched_corr)},
          {"in_place_share", num(m.in_place_share)},
          {"sampled", m.sampled},
          {"agree", m.agree},
          {"agreement_p", num(m.agreement_p)},
          {"suspect_neurons", m.projections.front().suspect_neurons},
          {"recovered", m.recovered},
          {"projections", projections}};
}

/// The pair's neuron matchings of one pairing, each MLP's whole entry.
nlohmann::json neuron_matching_json(const io::StoreContents& store, int suspect, int other,
                                    stages::NeuronPairing pairing) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& m : stages::neuron_matchings(store, suspect, other, 1e-6, pairing)) {
    list.push_back(neuron_entry_json(m));
  }
  return list;
}

/// How many MLPs a pairing's neuron matching holds, how many matched and how many of those
/// were permuted: all the printed table reads of it (print_verdict_table).
struct NeuronCounts {
  std::size_t mlps = 0, matched = 0, permuted = 0;
};

/// Appends the neuron matching list as neuron_matching_json(...).dump() writes it, one MLP's
/// JSON at a time, and returns what the printed table counts of it.
NeuronCounts dump_neuron_matching(io::SpilledText& out, const io::StoreContents& store, int suspect, int other,
                                  stages::NeuronPairing pairing) {
  NeuronCounts counts;
  out += '[';
  for (const auto& m : stages::neuron_matchings(store, suspect, other, 1e-6, pairing)) {
    if (counts.mlps++ > 0) out += ',';
    counts.matched += m.matched ? 1 : 0;
    counts.permuted += m.permuted ? 1 : 0;
    out += std::string_view(neuron_entry_json(m).dump());
  }
  out += ']';
  return counts;
}

/// The list print_verdict_table counts, in place of the MLPs' whole entries: `matched` MLPs of
/// `mlps`, the first `permuted` of them permuted.
nlohmann::json neuron_counts_json(const NeuronCounts& counts) {
  nlohmann::json list = nlohmann::json::array();
  for (std::size_t i = 0; i < counts.mlps; ++i) {
    list.push_back({{"matched", i < counts.matched}, {"permuted", i < counts.permuted}});
  }
  return list;
}

/// Whether the pairs' neuron matchings hold each MLP's whole entry, or a null that verdict_text
/// replaces (it writes the whole entries into the text one at a time, counting them for the table).
enum class NeuronEntries { whole, placeholder };

nlohmann::json verdicts_object(const io::StoreContents& store, NeuronEntries neurons) {
  const auto beside =
      store.evidence_json.empty() ? nlohmann::json::array() : nlohmann::json::parse(store.evidence_json);
  if (store.units.empty()) {
    // A store holding only tokenizer / architecture / behaviour evidence.
    return {{"pairs", nlohmann::json::array()},
            {"evidence", beside},
            {"overall_without_weights",
             {{"overall", "inconclusive"},
              {"reason",
               "only evidence beside the weights (tokenizer, architecture, behaviour): never sufficient on "
               "its own (METHODS §10.4); compare the weights"},
              {"context", context_for(beside, stages::VerdictClass::inconclusive)}}}};
  }
  auto by_pair = stages::evidence_by_pair(store);
  // The distance matrix reads the evidence the verdicts then consume.
  const auto distances = stages::distance_matrix(store, by_pair);
  const auto label_of = [&](int i) {
    return static_cast<std::size_t>(i) < store.models.size() ? store.models[static_cast<std::size_t>(i)].label
                                                             : std::string();
  };
  nlohmann::json out{{"pairs", nlohmann::json::array()}};
  for (const auto& result : stages::pair_verdicts(store, std::move(by_pair))) {
    const auto& v = result.verdict;
    const int suspect = result.suspect, other = result.other;
    nlohmann::json p{{"suspect", store.models[static_cast<std::size_t>(suspect)].path},
                     {"suspect_label", store.models[static_cast<std::size_t>(suspect)].label},
                     {"model_a", suspect},
                     {"model_b", other},
                     {"other", static_cast<std::size_t>(other) < store.models.size() ? store.models[other].path : ""},
                     {"other_label", label_of(other)},
                     {"overall", stages::to_string(v.overall)},
                     {"kind", v.kind},
                     {"reason", v.reason},
                     {"p_value", num(v.p_value)},
                     {"reused_components", v.reused_components},
                     {"screen", v.screen}};
    p["nonfinite"] = nonfinite_json(v.nonfinite);
    p["kinds"] = nlohmann::json::array();
    for (const auto& k : v.kinds) {
      p["kinds"].push_back({{"kind", k.kind}, {"evidence", k.evidence}, {"p_value", num(k.p_value)}});
    }
    if (!v.layer_map.empty()) {
      p["layer_map"] = {{"suspect_to_other", v.layer_map},
                        {"margin", v.layer_map_margin},
                        {"method",
                         "per suspect layer, the other model's layer whose norm vectors correlate best "
                         "(Spearman); -1 where the best does not stand out by 3 null SDs"}};
    }
    p["layer_alignment"] = layer_alignment_json(v.layer_alignment);
    for (const auto& c : v.components) {
      p["components"].push_back({{"component", c.component},
                                 {"verdict", stages::to_string(c.verdict)},
                                 {"kind", c.kind},
                                 {"reason", c.reason},
                                 {"same_key_units", c.same_key_units},
                                 {"baseline_units", c.baseline_units},
                                 {"tested_units", c.tested_units},
                                 {"tests", c.tests},
                                 {"joint_tests", c.joint_tests},
                                 {"median_basis_corr", num(c.median_basis_corr)},
                                 {"significant_units", c.significant_units},
                                 {"median_pearson", num(c.median_pearson)},
                                 {"median_hidden_corr", num(c.median_hidden_corr)},
                                 {"effect", num(c.effect)},
                                 {"null_mean", num(c.null_mean)},
                                 {"null_sd", num(c.null_sd)},
                                 {"z", num(c.z)},
                                 {"p_value", num(c.p_value)},
                                 {"p_fisher", num(c.p_fisher)},
                                 {"cross_layer_null", c.cross_layer_null},
                                 {"hidden_significant", c.hidden_significant},
                                 {"basis_significant", c.basis_significant},
                                 {"cross_role_units", c.cross_role_units},
                                 {"cross_role_significant", c.cross_role_significant},
                                 {"powered", c.powered},
                                 {"frac_beyond_null", num(c.frac_beyond_null)},
                                 {"median_rel_l2", num(c.median_rel_l2)},
                                 {"median_frac_equal", num(c.median_frac_equal)},
                                 {"frac_bytes_equal", num(c.frac_bytes_equal)},
                                 {"nonfinite", nonfinite_json(c.nonfinite)},
                                 {"too_few_finite", c.too_few_finite}});
    }
    // Expert matching by router rows, per layer where both routers were kept whole.
    p["expert_matching"] = nlohmann::json::array();
    for (const auto& [layer, m] : stages::router_matchings(store, suspect, other)) {
      p["expert_matching"].push_back({{"layer", layer},
                                      {"suspect_to_other", m.match},
                                      {"score", m.score},
                                      {"margin", m.margin},
                                      {"matched_mean", num(m.matched_mean)},
                                      {"null_mean", num(m.null_mean)},
                                      {"null_sd", num(m.null_sd)},
                                      {"p_value", num(m.p)},
                                      {"in_place", m.in_place},
                                      {"unmatched_other", m.unmatched_other}});
    }
    p["expert_sketch_matching"] = nlohmann::json::array();
    for (const auto& l : stages::sketch_matchings(store, suspect, other)) {
      p["expert_sketch_matching"].push_back(sketch_matching_json(l));
    }
    // Neuron matching per MLP (gate/up rows, down columns), on the suspect's sampled neurons:
    // against the same MLP of the other model, and (upcycling) each expert against its dense MLP.
    if (neurons == NeuronEntries::whole) {
      p["neuron_matching"] = neuron_matching_json(store, suspect, other, stages::NeuronPairing::same_role);
      p["upcycling_neuron_matching"] =
          neuron_matching_json(store, suspect, other, stages::NeuronPairing::expert_to_dense);
    } else {
      p["neuron_matching"] = p["upcycling_neuron_matching"] = nullptr;
    }
    if (result.controls) {
      const auto& cal = *result.controls;
      p["controls"] = {{"component", cal.backbone},        {"parent_effect", num(cal.parent_effect)},
                       {"best_control", cal.best_control}, {"best_control_effect", num(cal.best_control_effect)},
                       {"margin", num(cal.margin)},        {"margin_sds", num(cal.margin_sds)},
                       {"stands_out", cal.stands_out},     {"note", cal.note}};
    }
    if (result.byte_identity.scanned) p["byte_identity"] = result.byte_identity.to_json();
    if (!result.outliers.vectors.empty()) p["outlier_fingerprint"] = result.outliers.to_json();
    if (result.std_curves.compared()) p["std_curves"] = result.std_curves.to_json();
    if (!beside.empty() && p["other_label"] == "parent") p["context"] = context_for(beside, v.overall);
    out["pairs"].push_back(std::move(p));
  }
  out["evidence"] = beside;
  add_distance_matrix(out, distances);
  return out;
}

}  // namespace

nlohmann::json verdicts_from_store(const io::StoreContents& store) {
  return verdicts_object(store, NeuronEntries::whole);
}

VerdictText verdict_text(const io::StoreContents& store) {
  auto object = verdicts_object(store, NeuronEntries::placeholder);
  VerdictText text;
  // The neuron matchings are computed once here: written into the text, then only counted in
  // the object the table is printed from.
  std::vector<std::pair<NeuronCounts, NeuronCounts>> counts;
  const auto write_pairs = [&](io::SpilledText& out) {
    out += '[';
    for (const auto& p : object["pairs"]) {
      if (!counts.empty()) out += ',';
      auto& [same_role, expert_to_dense] = counts.emplace_back();
      const int suspect = p["model_a"].get<int>(), other = p["model_b"].get<int>();
      const auto neurons = [&](stages::NeuronPairing pairing, NeuronCounts& n) {
        return [&store, suspect, other, pairing, &n](io::SpilledText& o) {
          n = dump_neuron_matching(o, store, suspect, other, pairing);
        };
      };
      io::append_json_object(
          out, p,
          {{"neuron_matching", neurons(stages::NeuronPairing::same_role, same_role)},
           {"upcycling_neuron_matching", neurons(stages::NeuronPairing::expert_to_dense, expert_to_dense)}});
    }
    out += ']';
  };
  if (object.contains("pairs") && !object["pairs"].empty()) {
    io::append_json_object(text.json, object, {{"pairs", write_pairs}});
    for (std::size_t i = 0; i < counts.size(); ++i) {
      auto& p = object["pairs"][i];
      p["neuron_matching"] = neuron_counts_json(counts[i].first);
      p["upcycling_neuron_matching"] = neuron_counts_json(counts[i].second);
    }
  } else {
    io::append_json_object(text.json, object, {});
  }
  std::ostringstream table;
  print_verdict_table(object, table);
  text.table = std::move(table).str();
  return text;
}

nlohmann::json summaries_from_store(const io::StoreContents& store) {
  nlohmann::json out = nlohmann::json::object();
  const auto label = [&](int i) {
    return static_cast<std::size_t>(i) < store.models.size() ? store.models[static_cast<std::size_t>(i)].label
                                                             : std::to_string(i);
  };
  for (const auto& pair : stages::layer_summaries(store)) {
    nlohmann::json g = nlohmann::json::object();
    for (const auto& r : pair.roles) {
      nlohmann::json pearson = nlohmann::json::array(), cosine = nlohmann::json::array(), rel = nlohmann::json::array();
      for (std::size_t i = 0; i < r.layers.size(); ++i) {
        pearson.push_back(num(r.pearson[i]));
        cosine.push_back(num(r.cosine[i]));
        rel.push_back(num(r.rel_l2[i]));
      }
      g[r.role] = {{"layers", r.layers},
                   {"pearson", pearson},
                   {"cosine", cosine},
                   {"rel_l2", rel},
                   {"pearson_summary", summary_json(r.pearson_summary)},
                   {"null_pearson", summary_json(r.null_pearson)}};
    }
    // Keyed by the other model's label; pairs whose first model is not model 0 (merged stores)
    // by "label_a vs label_b".
    out[pair.model_a == 0 ? label(pair.model_b) : label(pair.model_a) + " vs " + label(pair.model_b)] = g;
  }
  return out;
}

void print_verdict_table(const nlohmann::json& verdicts, std::ostream& out) {
  if (verdicts.contains("overall_without_weights")) {
    const auto& o = verdicts["overall_without_weights"];
    out << "no weight comparison in this store\n  overall: " << o["overall"].get<std::string>() << " — "
        << o["reason"].get<std::string>() << "\n";
  }
  if (verdicts.contains("evidence") && !verdicts["evidence"].empty()) {
    out << "evidence beside the weights:\n";
    for (const auto& e : verdicts["evidence"]) {
      out << "  " << e["kind"].get<std::string>() << " (" << e["subject"].get<std::string>()
          << "): " << e["support"].get<std::string>() << " — " << e["reading"].get<std::string>() << "\n";
    }
    out << "\n";
  }
  const auto print_matrix = [&] {
    if (!verdicts.contains("distance")) return;
    const auto& d = verdicts["distance"];
    if (d["models"].size() < 3) return;
    out << "distance matrix (" << d["definition"].get<std::string>() << "):\n";
    std::size_t w = 8;
    for (const auto& m : d["models"]) w = std::max(w, m.get<std::string>().size() + 2);
    out << "  " << std::string(w, ' ');
    for (const auto& m : d["models"]) out << std::setw(static_cast<int>(w)) << m.get<std::string>();
    out << "\n";
    for (std::size_t i = 0; i < d["models"].size(); ++i) {
      out << "  " << std::left << std::setw(static_cast<int>(w)) << d["models"][i].get<std::string>() << std::right;
      for (const auto& x : d["matrix"][i]) {
        std::ostringstream c;
        if (x.is_null()) {
          c << "-";
        } else {
          c << std::fixed << std::setprecision(4) << x.get<double>();
        }
        out << std::setw(static_cast<int>(w)) << c.str();
      }
      out << "\n";
    }
    if (!d["missing_pairs"].empty()) out << "  (no tree: pairs never compared: " << d["missing_pairs"].dump() << ")\n";
    if (verdicts.contains("tree")) {
      out << "\nlineage tree (neighbour-joining):\n"
          << verdicts["tree"]["drawing"].get<std::string>()
          << "newick: " << verdicts["tree"]["newick"].get<std::string>() << "\n";
    }
    out << "\n";
  };
  for (const auto& p : verdicts["pairs"]) {
    out << "suspect " << p["suspect"].get<std::string>() << "\n  vs " << p["other_label"].get<std::string>() << " "
        << p["other"].get<std::string>() << "\n";
    out << "  overall: " << p["overall"].get<std::string>();
    if (!p["kind"].get<std::string>().empty()) out << " (" << p["kind"].get<std::string>() << ")";
    out << " — " << p["reason"].get<std::string>() << "\n";
    if (p.contains("context")) out << "  beside the weights: " << p["context"]["note"].get<std::string>() << "\n";
    out << "\n";
    if (p.contains("p_value") && !p["p_value"].is_null()) {
      std::ostringstream pv;
      pv << std::setprecision(2) << p["p_value"].get<double>();
      out << "  p-value (Holm over components): " << pv.str() << "\n";
    }
    if (p.contains("controls")) out << "  controls: " << p["controls"]["note"].get<std::string>() << "\n";
    if (p.contains("nonfinite") &&
        (p["nonfinite"]["suspect"].get<std::uint64_t>() > 0 || p["nonfinite"]["other"].get<std::uint64_t>() > 0)) {
      const auto& nf = p["nonfinite"];
      out << "  non-finite values: " << nf["suspect"].get<std::uint64_t>() << " in the suspect, "
          << nf["other"].get<std::uint64_t>() << " in the other model, " << nf["mismatch"].get<std::uint64_t>()
          << " differing, of " << nf["elements"].get<std::uint64_t>() << " compared\n";
    }
    for (const auto& k : p.value("kinds", nlohmann::json::array())) {
      out << "  kind " << k["kind"].get<std::string>() << ": " << k["evidence"].get<std::string>() << "\n";
    }
    for (const auto& m : p.value("expert_matching", nlohmann::json::array())) {
      std::ostringstream line;
      line << std::setprecision(2) << "  experts of layer " << m["layer"].get<int>()
           << " (router rows): " << m["suspect_to_other"].dump() << ", " << m["in_place"].get<int>()
           << " in place, matched " << m["matched_mean"].get<double>() << " vs null " << m["null_mean"].get<double>()
           << ", p " << m["p_value"].get<double>();
      out << line.str() << "\n";
    }
    for (const auto& m : p.value("expert_sketch_matching", nlohmann::json::array())) {
      std::ostringstream line;
      line << std::setprecision(2) << "  experts of layer " << m["layer"].get<int>()
           << " (sketches): " << m["suspect_to_other"].dump() << ", " << m["in_place"].get<int>()
           << " in place, none for other " << m["unmatched_other"].dump() << ", matched "
           << m["matched_mean"].get<double>() << " vs null " << m["null_mean"].get<double>() << ", p "
           << m["p_value"].get<double>();
      out << line.str() << "\n";
    }
    // Neuron matchings: against the same MLP, and each expert against the other's dense MLP.
    for (const auto& [field, what, unit, moved] :
         {std::tuple{"neuron_matching", "neurons (gate/up/down matched on sampled neurons)", "MLPs", "permuted"},
          std::tuple{"upcycling_neuron_matching", "neurons of experts against the other's dense MLP", "experts",
                     "shuffled"}}) {
      const auto nm = p.value(field, nlohmann::json::array());
      if (nm.empty()) continue;
      int permuted = 0, matched = 0;
      for (const auto& m : nm) {
        permuted += m["permuted"].get<bool>() ? 1 : 0;
        matched += m["matched"].get<bool>() ? 1 : 0;
      }
      out << "  " << what << ": " << matched << " of " << nm.size() << " " << unit << " matched, " << permuted
          << " of them " << moved << "\n";
    }
    out << "  " << std::left << std::setw(16) << "component" << std::setw(14) << "verdict" << std::right << std::setw(7)
        << "units" << std::setw(10) << "pearson" << std::setw(9) << "h" << std::setw(9) << "null sd" << std::setw(9)
        << "z" << std::setw(10) << "p" << std::setw(9) << "rel_l2" << std::setw(8) << "equal"
        << "\n";
    for (const auto& c : p["components"]) {
      auto pval = [](const nlohmann::json& comp) {
        if (!comp.contains("p_value") || comp["p_value"].is_null()) return std::string("-");
        std::ostringstream o;
        o << std::setprecision(2) << comp["p_value"].get<double>();
        return o.str();
      };
      auto f = [](const nlohmann::json& x, int prec) {
        if (x.is_null()) return std::string("-");
        std::ostringstream o;
        o << std::fixed << std::setprecision(prec) << x.get<double>();
        return o.str();
      };
      out << "  " << std::left << std::setw(16) << c["component"].get<std::string>() << std::setw(14)
          << c["verdict"].get<std::string>() << std::right << std::setw(7) << c["same_key_units"].get<std::size_t>()
          << std::setw(10) << f(c["median_pearson"], 4) << std::setw(9) << f(c.value("effect", nlohmann::json()), 3)
          << std::setw(9) << f(c["null_sd"], 4) << std::setw(9) << f(c["z"], 1) << std::setw(10) << pval(c)
          << std::setw(9) << f(c["median_rel_l2"], 4) << std::setw(8) << f(c["median_frac_equal"], 3) << "\n";
    }
    out << "\n";
  }
  print_matrix();
}

}  // namespace lineage::pipeline
