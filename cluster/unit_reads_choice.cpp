#include "cluster/unit_reads_choice.hpp"

#include <algorithm>

namespace lineage::cluster {

UnitReadsChoice::UnitReadsChoice(UnitReads asked, std::uint64_t min_trial_bytes, int trials_per_way)
    : min_trial_bytes_(min_trial_bytes), trials_per_way_(std::max(1, trials_per_way)) {
  if (asked != UnitReads::automatic) chosen_ = asked;
}

bool UnitReadsChoice::in_trial(std::uint64_t bytes) const noexcept { return !chosen_ && bytes >= min_trial_bytes_; }

UnitReads UnitReadsChoice::next(std::uint64_t key, std::uint64_t bytes) const {
  if (chosen_) return *chosen_;
  if (!in_trial(bytes)) return UnitReads::copy;
  // A way that has its trial units already is not tried again: the other one catches up.
  if (copy_.units >= trials_per_way_) return UnitReads::map;
  if (map_.units >= trials_per_way_) return UnitReads::copy;
  const auto it = lead_.find(key);
  return it != lead_.end() && it->second < 0 ? UnitReads::map : UnitReads::copy;
}

void UnitReadsChoice::record(std::uint64_t key, UnitReads used, std::uint64_t bytes, double cpu_seconds) {
  if (chosen_ || used == UnitReads::automatic) return;
  lead_[key] += used == UnitReads::map ? 1 : -1;
  bool& warm = used == UnitReads::map ? map_warm_ : copy_warm_;
  if (!warm) {
    warm = true;
    return;
  }
  auto& cost = used == UnitReads::map ? map_ : copy_;
  ++cost.units;
  cost.bytes += bytes;
  cost.seconds += std::max(0.0, cpu_seconds);
  if (copy_.units >= trials_per_way_ && map_.units >= trials_per_way_) {
    chosen_ = per_gb(map_) < (1 - kMapMargin) * per_gb(copy_) ? UnitReads::map : UnitReads::copy;
  }
}

}  // namespace lineage::cluster
