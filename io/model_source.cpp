#include "io/model_source.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/errors.hpp"
#include "io/http_source.hpp"
#include "io/json_text.hpp"
#include "io/model_folder.hpp"

namespace lineage::io {
namespace {

namespace fs = std::filesystem;

/// A local folder: every name goes through io/model_folder.hpp's resolver (inside the folder
/// after symlinks, or the Hugging Face cache's blobs) and only regular files are read.
class LocalSource final : public ModelSource {
 public:
  explicit LocalSource(fs::path dir) : dir_(std::move(dir)), location_(dir_.string()) {}
  [[nodiscard]] const std::string& location() const noexcept override { return location_; }
  [[nodiscard]] std::string where(const std::string& file) const override { return (dir_ / file).string(); }
  [[nodiscard]] bool is_remote() const noexcept override { return false; }
  void check_folder() override {
    std::error_code ec;
    if (!fs::is_directory(dir_, ec)) throw InputError(dir_.string(), "not a folder");
  }
  [[nodiscard]] bool exists(const std::string& file) override {
    // symlink_status: a dangling link is present (and refused when resolved), not absent.
    std::error_code ec;
    return fs::exists(fs::symlink_status(dir_ / file, ec));
  }
  [[nodiscard]] std::optional<std::string> read_file(const std::string& file) override {
    if (!exists(file)) return std::nullopt;
    return read_regular_file(resolve_in_model_folder(dir_, file, dir_), kMaxJsonFileBytes);
  }
  [[nodiscard]] std::optional<std::string> read_range(const std::string& file, std::uint64_t offset,
                                                      std::uint64_t length, std::uint64_t& total_size) override {
    if (!exists(file)) return std::nullopt;
    const auto p = resolve_in_model_folder(dir_, file, dir_);
    const RegularFile opened(p);
    total_size = opened.size();
    if (offset >= total_size) return std::string();
    std::string out(static_cast<std::size_t>(std::min(length, total_size - offset)), '\0');
    out.resize(opened.read_at(out.data(), out.size(), offset));  // shrank while reading: fewer bytes
    return out;
  }
  void check_name(const std::string& file, const std::string& named_by) const override {
    (void)resolve_in_model_folder(dir_, file, named_by);
  }

 private:
  fs::path dir_;
  std::string location_;
};

}  // namespace

bool is_plain_relative_name(const std::string& file) {
  const fs::path rel(file);
  if (file.empty() || rel.is_absolute() || file.find('\0') != std::string::npos) return false;
  for (const auto& part : rel) {
    if (part == "..") return false;
  }
  return true;
}

bool is_remote_location(const std::string& location) {
  return location.rfind("http://", 0) == 0 || location.rfind("https://", 0) == 0 || location.rfind("hf://", 0) == 0;
}

std::string remote_base_url(const std::string& location, const RemoteOptions& options) {
  std::string base;
  if (location.rfind("hf://", 0) == 0) {
    auto repo = location.substr(5);
    std::string revision = "main";
    if (const auto at = repo.find('@'); at != std::string::npos) {
      revision = repo.substr(at + 1);
      repo = repo.substr(0, at);
    }
    while (!repo.empty() && repo.back() == '/') repo.pop_back();
    const auto slash = repo.find('/');
    if (repo.empty() || revision.empty() || slash == std::string::npos || slash == 0 || slash + 1 == repo.size() ||
        repo.find('/', slash + 1) != std::string::npos) {
      throw InputError(location, "not a model location: hf:// takes ORG/NAME[@REVISION]");
    }
    auto endpoint = options.hf_endpoint;
    while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
    base = endpoint + "/" + repo + "/resolve/" + revision + "/";
  } else {
    base = location;
    const auto host = base.find("://") + 3;
    if (base.size() <= host || base[host] == '/') throw InputError(location, "not a model location: no host in URL");
    if (base.back() != '/') base += '/';
  }
  return base;
}

std::unique_ptr<ModelSource> open_local_model(const fs::path& dir) { return std::make_unique<LocalSource>(dir); }

std::unique_ptr<ModelSource> open_model(const std::string& location, const RemoteOptions& options) {
  if (is_remote_location(location)) return open_http_model(location, options);
  return open_local_model(location);
}

}  // namespace lineage::io
