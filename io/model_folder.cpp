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

RegularFile::RegularFile(const fs::path& path) : path_(path) { fd_ = open_regular_file(path, size_); }

RegularFile::~RegularFile() { ::close(fd_); }

std::size_t RegularFile::read_at(void* out, std::size_t count, std::uint64_t offset) const {
  auto* bytes = static_cast<char*>(out);
  std::size_t got = 0;
  while (got < count) {
    const auto r = ::pread(fd_, bytes + got, count - got, static_cast<off_t>(offset + got));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) throw InputError(path_.string(), std::string("cannot read: ") + std::strerror(errno), {}, offset + got);
    if (r == 0) break;  // the end of the file
    got += static_cast<std::size_t>(r);
  }
  return got;
}

std::string read_regular_file(const fs::path& path, std::uint64_t max_bytes) {
  const RegularFile file(path);
  if (file.size() > max_bytes) {
    throw InputError(path.string(), "file is " + std::to_string(file.size()) + " bytes, above the " +
                                        std::to_string(max_bytes) + "-byte limit for this kind of file");
  }
  std::string text(static_cast<std::size_t>(file.size()), '\0');
  text.resize(file.read_at(text.data(), text.size(), 0));  // shorter if it shrank while being read
  return text;
}

}  // namespace lineage::io
