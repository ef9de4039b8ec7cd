#include "pipeline/evidence_record.hpp"

#include "core/errors.hpp"
#include "io/store/result_store.hpp"
#include "pipeline/store_lock.hpp"

namespace lineage::pipeline {

void record_evidence(const std::filesystem::path& path, const EvidenceItem& item) {
  // Read, change, replace: under the writer lock, so a concurrent compare or merge is not undone.
  const auto lock = lock_store(path);
  io::StoreContents store;
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    store = io::read_result_store(path);
  } else {
    store.run_id = "evidence-only";
    store.status = "complete";  // nothing to compute: no weight units were planned
    store.writers = {"local"};
  }
  auto items = store.evidence_json.empty() ? nlohmann::json::array() : nlohmann::json::parse(store.evidence_json);
  if (!items.is_array()) throw StoreError(path.string() + ": /evidence/json is not a JSON array");
  nlohmann::json j{{"kind", item.kind},
                   {"subject", item.subject},
                   {"support", item.support},
                   {"reading", item.reading},
                   {"result", item.result}};
  bool replaced = false;
  for (auto& existing : items) {
    if (existing.value("kind", "") == item.kind && existing.value("subject", "") == item.subject) {
      existing = j;
      replaced = true;
    }
  }
  if (!replaced) items.push_back(j);
  store.evidence_json = items.dump();
  io::write_result_store(path, store);
}

}  // namespace lineage::pipeline
