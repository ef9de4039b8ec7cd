#include "io/model_source.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/errors.hpp"
#include "io/http_source.hpp"

namespace lineage::io {
namespace {

namespace fs = std::filesystem;

class LocalSource final : public ModelSource {
 public:
  explicit LocalSource(fs::path dir) : dir_(std::move(dir)), location_(dir_.string()) {}
  [[nodiscard]] const std::string& location() const noexcept override { return location_; }
  [[nodiscard]] std::string where(const std::string& file) const override { return (dir_ / file).string(); }
  [[nodiscard]] bool is_remote() const noexcept override { return false; }
  void check_folder() override {
    if (!fs::is_directory(dir_)) throw InputError(dir_.string(), "not a folder");
  }
  [[nodiscard]] bool exists(const std::string& file) override {
    std::error_code ec;
    return fs::exists(dir_ / file, ec);
  }
  [[nodiscard]] std::optional<std::string> read_file(const std::string& file) override {
    const auto p = dir_ / file;
    if (!exists(file)) return std::nullopt;
    std::ifstream in(p, std::ios::binary);
    if (!in) throw InputError(p.string(), "cannot read file");
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }
  [[nodiscard]] std::optional<std::string> read_range(const std::string& file, std::uint64_t offset,
                                                      std::uint64_t length, std::uint64_t& total_size) override {
    const auto p = dir_ / file;
    const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) return std::nullopt;
      throw InputError(p.string(), std::string("cannot open: ") + std::strerror(errno));
    }
    struct Closer {
      int fd;
      ~Closer() { ::close(fd); }
    } closer{fd};
    total_size = static_cast<std::uint64_t>(::lseek(fd, 0, SEEK_END));
    if (offset >= total_size) return std::string();
    std::string out(std::min(length, total_size - offset), '\0');
    std::uint64_t got = 0;
    while (got < out.size()) {
      const auto r = ::pread(fd, out.data() + got, out.size() - got, static_cast<off_t>(offset + got));
      if (r <= 0) throw InputError(p.string(), "cannot read", {}, offset + got);
      got += static_cast<std::uint64_t>(r);
    }
    return out;
  }
  [[nodiscard]] bool escapes(const std::string& file) const override {
    if (!is_plain_relative_name(file)) return true;
    std::error_code ec;
    const auto root = fs::weakly_canonical(dir_, ec);
    const auto target = fs::weakly_canonical(dir_ / fs::path(file), ec);
    return target.string().rfind(root.string() + "/", 0) != 0;  // e.g. a symlink pointing elsewhere
  }

 private:
  fs::path dir_;
  std::string location_;
};

}  // namespace

bool is_plain_relative_name(const std::string& file) {
  const fs::path rel(file);
  if (file.empty() || rel.is_absolute()) return false;
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
