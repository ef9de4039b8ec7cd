// verdict_text: the verdicts' JSON written an MLP's neuron matching at a time is the whole
// object's dump() byte for byte, and its table is the object's (compare stores and prints these).
#include <gtest/gtest.h>

#include <numeric>
#include <random>
#include <sstream>
#include <string>

#include "pipeline/verdict_report.hpp"
#include "stages/execute/unit_stats.hpp"

namespace lineage::pipeline {
namespace {

/// One pair (0 vs 1) with the gate, up and down units of two layers' dense MLPs: layer 0's
/// neurons matched in place, layer 1's permuted alike in all three projections. With
/// `second_pair`, also 0 vs 2 with layer 0's MLP only, in place.
io::StoreContents store_with_neuron_matchings(bool second_pair = false) {
  io::StoreContents c;
  c.models.resize(second_pair ? 3 : 2);
  c.models[0].label = "suspect";
  c.models[1].label = "parent";
  if (second_pair) c.models[2].label = "other";
  c.stat_names = stages::unit_stat_names();
  std::vector<std::uint64_t> sampled(64), permuted(256);
  std::iota(sampled.begin(), sampled.end(), 100u);
  std::iota(permuted.begin(), permuted.end(), 0u);
  std::shuffle(permuted.begin(), permuted.end(), std::mt19937(5));
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> unit_interval(0.0, 1.0);
  std::uint64_t id = 0;
  for (int model_b = 1; model_b < static_cast<int>(c.models.size()); ++model_b) {
    for (int layer = 0; layer < 3 - model_b; ++layer) {
      for (const char* projection : {"gate", "up", "down"}) {
        const auto key = parse_tensor_key("text/dense_mlp/L" + std::to_string(layer) + "/" + projection);
        const bool down = std::string(projection) == "down";
        c.units.push_back({id, UnitKind::same_key, key, key, "a.weight", "b.weight", 0, model_b, layer, layer, -1,
                           down ? 64u : 256u, down ? 256u : 64u});
        std::vector<std::uint64_t> other(64);
        for (std::size_t k = 0; k < 64; ++k) other[k] = layer == 0 ? sampled[k] : permuted[sampled[k]];
        stages::UnitStats st;
        st.elements = std::uint64_t{256} * 64;
        st.pearson = unit_interval(rng);  // digits that a float printer can get wrong
        st.cosine = unit_interval(rng);
        st.rel_l2 = unit_interval(rng);
        st.frac_value_equal = 0;
        st.neuron_sampled = 64;
        st.neuron_in_place = layer == 0 ? 64 : 0;
        st.neuron.observed = 0.8 + 0.1 * unit_interval(rng);
        st.neuron.null_sd = 0.01 * unit_interval(rng);
        st.neuron.p = 1e-9;
        c.done_ids.push_back(id);
        stages::append_stat_columns(c.stats, st);
        c.hash_a.push_back(2 * id + 1);
        c.hash_b.push_back(2 * id + 2);
        c.neuron_matches.put(id, sampled, other);
        ++id;
      }
    }
  }
  c.status = "complete";
  return c;
}

TEST(VerdictText, IsTheWholeObjectsDumpAndTable) {
  const auto store = store_with_neuron_matchings();
  const auto object = verdicts_from_store(store);
  ASSERT_EQ(object["pairs"].size(), 1u);
  ASSERT_EQ(object["pairs"][0]["neuron_matching"].size(), 2u);
  const auto text = verdict_text(store);
  EXPECT_EQ(std::string_view(text.json), object.dump());
  std::ostringstream table;
  print_verdict_table(object, table);
  EXPECT_EQ(text.table, table.str());
  EXPECT_NE(text.table.find("2 MLPs matched, 1 of them permuted"), std::string::npos) << text.table;
}

TEST(VerdictText, EachPairsCountsAreItsOwn) {
  const auto store = store_with_neuron_matchings(true);
  const auto object = verdicts_from_store(store);
  ASSERT_EQ(object["pairs"].size(), 2u);
  const auto text = verdict_text(store);
  EXPECT_EQ(std::string_view(text.json), object.dump());
  std::ostringstream table;
  print_verdict_table(object, table);
  EXPECT_EQ(text.table, table.str());
  const auto parent = text.table.find("2 of 2 MLPs matched, 1 of them permuted");
  const auto other = text.table.find("1 of 1 MLPs matched, 0 of them permuted");
  ASSERT_NE(parent, std::string::npos) << text.table;
  ASSERT_NE(other, std::string::npos) << text.table;
  EXPECT_LT(parent, other) << "the pairs in (suspect, other) order";
}

TEST(VerdictText, AStoreWithoutWeightsIsTheObjectsDumpToo) {
  io::StoreContents store;
  store.evidence_json = R"([{"kind":"tokenizer","subject":"vocabulary","support":"none","reading":"disjoint"}])";
  const auto object = verdicts_from_store(store);
  const auto text = verdict_text(store);
  EXPECT_EQ(std::string_view(text.json), object.dump());
  std::ostringstream table;
  print_verdict_table(object, table);
  EXPECT_EQ(text.table, table.str());
  EXPECT_NE(text.table.find("no weight comparison in this store"), std::string::npos) << text.table;
}

}  // namespace
}  // namespace lineage::pipeline
