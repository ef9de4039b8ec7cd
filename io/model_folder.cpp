#include "io/model_folder.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/errors.hpp"

namespace lineage::io {
namespace {

namespace fs = std::filesystem;

bool is_within(const fs::path& p, const fs::path& root) {
  const auto r = root.string();
  const auto s = p.string();
  return s.size() > r.size() && s.compare(0, r.size(), r) == 0 && (r.back() == '/' || s[r.size()] == '/');
}

}  // namespace

fs::path resolve_in_model_folder(const fs::path& dir, const std::string& name, const fs::path& reported_by) {
  const fs::path rel(name);
  bool bad = name.empty() || rel.is_absolute() || name.find('\0') != std::string::npos;
  for (const auto& part : rel) bad = bad || part == "..";
  if (bad) throw InputError(reported_by.string(), "file name '" + name + "' escapes the model folder");
  std::error_code ec;
  const auto root = fs::weakly_canonical(fs::absolute(dir, ec), ec);
  auto target = fs::weakly_canonical(fs::absolute(dir / rel, ec), ec);
  if (ec) throw InputError(reported_by.string(), "'" + name + "': cannot resolve the path: " + ec.message());
  if (is_within(target, root)) return target;
  // The Hugging Face cache: <repo>/snapshots/<rev>/<name> -> ../../blobs/<hash> of that repo.
  const auto snapshots = root.parent_path();
  if (snapshots.filename() == "snapshots" && target.parent_path() == snapshots.parent_path() / "blobs") return target;
  throw InputError(reported_by.string(), "'" + name + "' escapes the model folder (through a symlink to elsewhere)");
}

int open_regular_file(const fs::path& path, std::uint64_t& size) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw InputError(path.string(), std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw InputError(path.string(), "not a regular file (a FIFO, device or folder is refused)");
  }
  // Back to blocking reads for a regular file (O_NONBLOCK has no effect on them, but be plain).
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) (void)::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  size = static_cast<std::uint64_t>(st.st_size);
  return fd;
}

void require_regular_file(const fs::path& path) {
  std::uint64_t size = 0;
  ::close(open_regular_file(path, size));
}

std::string read_regular_file(const fs::path& path, std::uint64_t max_bytes) {
  std::uint64_t size = 0;
  const int fd = open_regular_file(path, size);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  if (size > max_bytes) {
    throw InputError(path.string(), "file is " + std::to_string(size) + " bytes, above the " +
                                        std::to_string(max_bytes) + "-byte limit for this kind of file");
  }
  std::string text(static_cast<std::size_t>(size), '\0');
  std::uint64_t got = 0;
  while (got < size) {
    const auto r = ::pread(fd, text.data() + got, size - got, static_cast<off_t>(got));
    if (r < 0) throw InputError(path.string(), std::string("cannot read: ") + std::strerror(errno), {}, got);
    if (r == 0) break;  // shrank while reading
    got += static_cast<std::uint64_t>(r);
  }
  text.resize(static_cast<std::size_t>(got));
  return text;
}

}  // namespace lineage::io
