#include "io/store/store_check.hpp"

#include "core/errors.hpp"
#include "io/checkpoint_listing.hpp"
#include "io/store/model_fingerprint.hpp"
#include "io/store/result_store.hpp"

namespace lineage::io {

StoreCheck check_result_store(const std::filesystem::path& path, const std::vector<std::filesystem::path>& model_dirs) {
  StoreReadOptions options;
  options.verify_checksums = false;  // counted below, row by row
  const auto c = read_result_store(path, options);
  StoreCheck r;
  r.schema_version = c.schema_version;
  r.units = c.units.size();
  r.results = c.done_ids.size();
  r.superseded = c.superseded_ids.size();
  r.complete = c.status == "complete" && units_missing(c) == 0;
  if (!r.complete) {
    r.problems.push_back("incomplete: " + std::to_string(r.results) + " of " + std::to_string(r.units) +
                         " units have results" +
                         (r.superseded ? " and " + std::to_string(r.superseded) + " are superseded" : std::string()) +
                         " (status " + c.status + ")");
  }
  r.has_checksums = c.schema_version >= 2;
  if (r.has_checksums) {
    for (std::size_t i = 0; i < c.units.size(); ++i) r.bad_units += unit_checksum(c.units[i]) != c.unit_checksums[i];
    for (std::size_t k = 0; k < c.done_ids.size(); ++k) r.bad_rows += result_row_checksum(c, k) != c.row_checksums[k];
    if (r.bad_units) r.problems.push_back(std::to_string(r.bad_units) + " unit rows fail their checksum");
    if (r.bad_rows) r.problems.push_back(std::to_string(r.bad_rows) + " result rows fail their checksum");
  }
  if (!model_dirs.empty() && model_dirs.size() != c.models.size()) {
    throw UsageError("check: " + std::to_string(model_dirs.size()) + " model folders given, the store has " +
                     std::to_string(c.models.size()) + " inputs");
  }
  for (std::size_t m = 0; m < c.models.size(); ++m) {
    const auto& stored = c.models[m];
    StoreCheck::Model out{stored.label, model_dirs.empty() ? stored.path : model_dirs[m].string(), "", true};
    std::error_code ec;
    if (!std::filesystem::is_directory(out.path, ec)) {
      out.outcome = "not present";
      out.ok = model_dirs.empty();  // a folder named on the command line must exist
      if (!out.ok) r.problems.push_back(stored.label + ": " + out.path + " is not a folder");
      r.models.push_back(out);
      continue;
    }
    try {
      const auto listing = list_checkpoint(out.path, false);
      const auto now = fingerprint_model(stored.label, out.path, listing.shard_files);
      if (now.fingerprint() == stored.fingerprint()) {
        out.outcome = "matches";
      } else {
        std::string what = "changed since the run";
        if (now.shard_files != stored.shard_files) {
          what += " (other shard files)";
        } else {
          for (std::size_t s = 0; s < now.shard_files.size(); ++s) {
            if (now.shard_sizes[s] != stored.shard_sizes[s] || now.header_hashes[s] != stored.header_hashes[s]) {
              what += " (" + now.shard_files[s] + ")";
              break;
            }
          }
        }
        out.outcome = what;
        out.ok = false;
      }
    } catch (const InputError& e) {
      out.outcome = std::string("unreadable: ") + e.what();
      out.ok = false;
    }
    if (!out.ok) r.problems.push_back(stored.label + " (" + out.path + "): " + out.outcome);
    r.models.push_back(out);
  }
  return r;
}

}  // namespace lineage::io
