#include "core/errors.hpp"

#include <utility>

namespace lineage {
namespace {

std::string input_message(const std::string& file, const std::string& reason, const std::string& tensor,
                          std::optional<std::uint64_t> offset) {
  std::string m = file.empty() ? std::string("<input>") : file;
  m += ":";
  if (!tensor.empty()) m += " tensor '" + tensor + "'";
  if (offset) m += " at byte " + std::to_string(*offset);
  if (!tensor.empty() || offset) m += ":";
  m += " " + reason;
  return m;
}

}  // namespace

InputError::InputError(std::string file, std::string reason, std::string tensor, std::optional<std::uint64_t> offset)
    : Error(input_message(file, reason, tensor, offset)),
      file_(std::move(file)),
      reason_(std::move(reason)),
      tensor_(std::move(tensor)),
      offset_(offset) {}

ConfigError::ConfigError(std::string key_path, const std::string& reason)
    : Error(key_path + ": " + reason), key_path_(std::move(key_path)) {}

}  // namespace lineage
