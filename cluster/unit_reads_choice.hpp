#pragma once
/// @file unit_reads_choice.hpp
/// `--read-units auto`: which of the two ways of reading a unit's bytes (UnitReads::copy, by pread
/// as the pass reaches them, or UnitReads::map, through the files' mapping) costs a rank less CPU
/// time per byte on this machine, found by trying both on its first units. The results are the same
/// bit for bit either way, so the choice changes only the time: on one virtual machine mapping cost
/// 40% more than copying (each page-table update is costly there), on another 14% less (the copy
/// was a quarter of the pass; docs/benchmarks.md).
///
/// The trial alternates the two ways within each kind of unit (the caller's key: a role, a kind),
/// so that both see the same mix of units, on units of at least `min_trial_bytes`, where the pass's
/// fixed costs do not drown the difference. The first unit read each way is not counted: it pays
/// for what later units reuse (the copy's buffers growing, the files' first mapping). After
/// `trials_per_way` counted units each, the cheaper way per byte (over all the trial's units) is
/// kept for the rest of the run; mapping must cost less than (1 - kMapMargin) of copying, or the
/// copy, which keeps no pages mapped, stays, for every unit. During the trial, units too small to
/// count are copied; a rank whose trial does not end (too few units large enough) goes on
/// alternating on those that count.

#include <cstdint>
#include <map>
#include <optional>

#include "core/run_config.hpp"

namespace lineage::cluster {

class UnitReadsChoice {
 public:
  /// Mapping must cost less than this fraction below copying to be chosen.
  static constexpr double kMapMargin = 0.05;
  static constexpr std::uint64_t kMinTrialBytes = std::uint64_t{1} << 20;
  static constexpr int kTrialsPerWay = 6;

  /// `asked`: copy or map are kept as they are (no trial); automatic starts the trial.
  explicit UnitReadsChoice(UnitReads asked, std::uint64_t min_trial_bytes = kMinTrialBytes,
                           int trials_per_way = kTrialsPerWay);

  /// How to read the next unit, of `bytes` bytes (both sides) and of kind `key`.
  [[nodiscard]] UnitReads next(std::uint64_t key, std::uint64_t bytes) const;
  /// Whether a unit read by next(key, bytes) is part of the trial: then its CPU time is to be
  /// recorded.
  [[nodiscard]] bool in_trial(std::uint64_t bytes) const noexcept;
  /// The CPU time a trial unit took, read as `used` (what next() said); the first unit of each
  /// way only warms it up.
  void record(std::uint64_t key, UnitReads used, std::uint64_t bytes, double cpu_seconds);

  /// The way kept after the trial (copy or map), or nothing while it lasts (automatic only).
  [[nodiscard]] std::optional<UnitReads> chosen() const noexcept { return chosen_; }
  /// CPU seconds per GB of the trial's units read each way (0 before any).
  [[nodiscard]] double copy_seconds_per_gb() const noexcept { return per_gb(copy_); }
  [[nodiscard]] double map_seconds_per_gb() const noexcept { return per_gb(map_); }

 private:
  struct Cost {
    int units = 0;
    std::uint64_t bytes = 0;
    double seconds = 0;
  };
  static double per_gb(const Cost& c) noexcept {
    return c.bytes ? c.seconds / (static_cast<double>(c.bytes) / 1e9) : 0;
  }

  std::uint64_t min_trial_bytes_;
  int trials_per_way_;
  std::optional<UnitReads> chosen_;
  Cost copy_, map_;
  bool copy_warm_ = false, map_warm_ = false;
  /// Trial units of each key read by mapping minus those copied: the next one of the key is
  /// mapped when this is negative, copied otherwise, so each key alternates, copy first.
  std::map<std::uint64_t, int> lead_;
};

}  // namespace lineage::cluster
