#include "io/atomic_file.hpp"

#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

#include "core/errors.hpp"

namespace lineage::io {

AtomicFile::AtomicFile(std::filesystem::path target) : target_(std::move(target)) {
  std::string tmpl = target_.string() + ".tmp-XXXXXX";
  const int fd = mkstemp(tmpl.data());
  if (fd < 0) {
    throw InputError(target_.string(), std::string("cannot create file: ") + std::strerror(errno));
  }
  temp_ = tmpl;
  file_ = fdopen(fd, "wb");
  if (!file_) {
    ::close(fd);
    std::filesystem::remove(temp_);
    throw InputError(target_.string(), "cannot open temporary file");
  }
}

AtomicFile::~AtomicFile() {
  if (file_) {
    std::fclose(file_);
    std::error_code ec;
    std::filesystem::remove(temp_, ec);
  }
}

void AtomicFile::write(std::span<const std::byte> bytes) {
  if (!file_) throw InternalError("AtomicFile::write after commit");
  if (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size()) {
    throw InputError(target_.string(), std::string("write failed: ") + std::strerror(errno));
  }
}

void AtomicFile::write(std::string_view text) {
  write(std::span<const std::byte>(reinterpret_cast<const std::byte*>(text.data()), text.size()));
}

void AtomicFile::commit() {
  if (!file_) throw InternalError("AtomicFile::commit twice");
  const bool ok = std::fflush(file_) == 0 && ::fsync(fileno(file_)) == 0;
  std::fclose(file_);
  file_ = nullptr;
  std::error_code ec;
  if (ok) std::filesystem::rename(temp_, target_, ec);
  if (!ok || ec) {
    std::filesystem::remove(temp_, ec);
    throw InputError(target_.string(), "cannot finish writing (disk full or not writable?)");
  }
}

void write_text_file(const std::filesystem::path& path, std::string_view text) {
  AtomicFile f(path);
  f.write(text);
  f.commit();
}

}  // namespace lineage::io
