#include "io/http_download.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "core/errors.hpp"
#include "io/http_client.hpp"
#include "io/sha256.hpp"

namespace lineage::io {
namespace {

namespace fs = std::filesystem;

std::uint64_t size_or_zero(const fs::path& p) {
  std::error_code ec;
  const auto n = fs::file_size(p, ec);
  return ec ? 0 : static_cast<std::uint64_t>(n);
}

void fsync_path(const fs::path& p, int flags) {
  const int fd = ::open(p.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

}  // namespace

DownloadResult download_file(HttpClient& client, const DownloadTarget& target) {
  DownloadResult result;
  fs::path part = target.path;
  part += kPartSuffix;
  std::error_code ec;
  const auto fail = [&](const std::string& reason, bool drop_partial) -> void {
    if (drop_partial) fs::remove(part, ec);
    throw InputError(target.url, reason);
  };

  if (target.size && fs::exists(target.path, ec) && size_or_zero(target.path) == *target.size &&
      (!target.sha256 || sha256_file_hex(target.path) == *target.sha256)) {
    result.already_complete = true;
    result.size = *target.size;
    result.sha256_checked = target.sha256.value_or("");
    return result;
  }

  std::optional<std::string> published_sha = target.sha256;
  std::optional<std::uint64_t> total = target.size;
  const int max_attempts = std::max(1, client.options().max_attempts);
  bool first = true;
  for (int attempt = 1;; ++attempt) {
    std::uint64_t have = size_or_zero(part);
    if (total && have > *total) {
      fs::remove(part, ec);
      have = 0;
    }
    if (first) result.resumed_at = have;
    first = false;
    if (total && have == *total) break;  // the partial file is complete: verify and rename below

    std::unique_ptr<std::FILE, decltype(&std::fclose)> out(std::fopen(part.c_str(), have ? "ab" : "wb"), &std::fclose);
    if (!out) throw InputError(part.string(), "cannot write the partial download");
    std::string error;
    bool started = false;
    const HttpClient::Sink sink = [&](const HttpResponse& r, std::string_view chunk) {
      if (r.status < 200 || r.status >= 300) return true;  // an error page: not written
      if (!started) {
        started = true;
        if (r.status == 206) {
          if (r.range_start.value_or(~0ull) != have) {
            error = "the server answered a range request from byte " + std::to_string(have) +
                    " with another range (Content-Range start " +
                    (r.range_start ? std::to_string(*r.range_start) : std::string("missing")) + ")";
            return false;
          }
        } else if (have > 0) {  // 200: the server ignores Range; start over
          if (std::fflush(out.get()) != 0 || ::ftruncate(fileno(out.get()), 0) != 0) {
            error = "cannot truncate " + part.string();
            return false;
          }
          have = 0;
        }
        const auto served = r.file_size();
        if (target.size && served && *served != *target.size) {
          error = "the server gives the file as " + std::to_string(*served) + " bytes, its header implies " +
                  std::to_string(*target.size) + " (a truncated or different file)";
          return false;
        }
        if (!total) total = served;
        if (r.sha256 && !published_sha) published_sha = r.sha256;
      }
      if (std::fwrite(chunk.data(), 1, chunk.size(), out.get()) != chunk.size()) {
        error = "cannot write " + part.string();
        return false;
      }
      result.received += chunk.size();
      return true;
    };
    const auto r = client.get(target.url, have, std::nullopt, sink);
    const bool flushed = std::fflush(out.get()) == 0;
    out.reset();
    if (!error.empty()) fail(error, error.find("the server gives") == 0);
    if (!flushed) throw InputError(part.string(), "cannot write the partial download");
    if (r.transport_error.empty() && r.status == 416) {
      // Asked from the end of a complete partial file whose size was not known yet.
      if (r.range_total && *r.range_total == have) {
        total = have;
        break;
      }
      fail("the server refuses byte " + std::to_string(have) + " of a file it gives as " +
               (r.range_total ? std::to_string(*r.range_total) : std::string("?")) + " bytes",
           true);
    }
    if (r.retryable()) {
      if (attempt >= max_attempts) {
        fail("download failed after " + std::to_string(attempt) + " attempts: " + r.describe() +
                 " (rerun lineage fetch to resume from " + std::to_string(size_or_zero(part)) + " bytes)",
             false);
      }
      backoff_sleep(attempt);
      continue;
    }
    if (!r.ok()) fail("cannot download: " + r.describe(), false);
    const auto now = size_or_zero(part);
    if (total && now < *total) {  // the body ended early without a transport error: resume
      if (attempt >= max_attempts) {
        fail("the server sent " + std::to_string(now) + " of " + std::to_string(*total) + " bytes after " +
                 std::to_string(attempt) + " attempts",
             false);
      }
      backoff_sleep(attempt);
      continue;
    }
    break;
  }

  result.size = size_or_zero(part);
  if (total && result.size != *total) {
    fail("received " + std::to_string(result.size) + " bytes, expected " + std::to_string(*total), true);
  }
  if (published_sha) {
    const auto got = sha256_file_hex(part);
    if (got != *published_sha) {
      fail("SHA-256 of the downloaded bytes is " + got + ", the server publishes " + *published_sha, true);
    }
    result.sha256_checked = got;
  }
  fsync_path(part, O_RDONLY);
  fs::rename(part, target.path, ec);
  if (ec) throw InputError(target.path.string(), "cannot rename the finished download into place: " + ec.message());
  fsync_path(target.path.parent_path().empty() ? fs::path(".") : target.path.parent_path(), O_RDONLY | O_DIRECTORY);
  return result;
}

}  // namespace lineage::io
