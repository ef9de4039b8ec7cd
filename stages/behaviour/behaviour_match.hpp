#pragma once
/// @file behaviour_match.hpp
/// The black-box behaviour test of METHODS §9 [PROV]: how often the suspect's greedy output on
/// a prompt equals each candidate's (the parent and the controls), and whether the best
/// candidate matches significantly more often than every other one (pooled two-proportion
/// z-test, Fisher's exact test when a cell is below 5; Holm–Bonferroni at alpha). The paired
/// exact McNemar test on the same prompts is reported beside it. Never sufficient on its own
/// (distillation and shared data also make outputs agree, METHODS §10.4).

#include <string>
#include <vector>

#include "io/behaviour_outputs.hpp"

namespace lineage::stages {

struct BehaviourCandidate {
  std::string label;  ///< "parent", "control1", ...
  bool parent = false;
  io::ModelOutputs outputs;
};

struct CandidateRate {
  std::string label;
  std::string path;
  bool parent = false;
  std::uint64_t matches = 0;
  double rate = 0;
  double wilson_low = 0;
  double wilson_high = 0;
};

/// The best candidate against one other.
struct CandidateTest {
  std::string other;
  double z = 0;
  bool fisher = false;  ///< the unpaired p is Fisher's exact (a cell count below 5)
  double p = 1;         ///< unpaired: z-test or Fisher
  double p_holm = 1;
  std::uint64_t only_best = 0;   ///< prompts where the suspect matches the best candidate only
  std::uint64_t only_other = 0;  ///< ... the other candidate only
  double p_mcnemar = 1;
  double p_mcnemar_holm = 1;
  bool rejected = false;  ///< p_holm < alpha
};

struct BehaviourResult {
  std::uint64_t prompts = 0;  ///< prompts every model answered
  std::vector<std::string> notes;
  std::vector<CandidateRate> rates;  ///< parent first, then controls in the order given
  std::string best;
  bool best_is_parent = false;
  std::vector<CandidateTest> tests;  ///< best against each other candidate
  double alpha = 0.05;
  std::size_t controls = 0;
  double overall_p = 1;          ///< largest unpaired p (the reference's overall p)
  double overall_p_holm = 1;     ///< largest Holm-adjusted unpaired p
  double overall_p_mcnemar = 1;  ///< largest Holm-adjusted McNemar p
  /// derived_from_parent | not_significant | closest_is_control | too_few_controls | no_controls
  std::string conclusion;
  std::string reading;
};

/// @param[in] candidates  exactly one with parent = true, then the controls
/// @param[in] min_controls  the rubric's minimum (3); fewer gives too_few_controls
[[nodiscard]] BehaviourResult test_behaviour(const io::ModelOutputs& suspect,
                                             const std::vector<BehaviourCandidate>& candidates, double alpha = 0.05,
                                             std::size_t min_controls = 3);

}  // namespace lineage::stages
