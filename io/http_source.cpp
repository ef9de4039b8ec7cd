#include "io/http_source.hpp"

#include <algorithm>
#include <cctype>

#include "core/errors.hpp"
#include "io/http_client.hpp"

namespace lineage::io {
namespace {

std::string url_path(const std::string& file) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : file) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

class HttpSource final : public ModelSource {
 public:
  HttpSource(std::string location, const RemoteOptions& options)
      : location_(std::move(location)), base_(remote_base_url(location_, options)), client_(options) {}
  [[nodiscard]] const std::string& location() const noexcept override { return location_; }
  /// The file's URL. Names come from the index (a stranger's text): every byte but unreserved
  /// characters and '/' is percent-encoded, so a name cannot add a query, a fragment, or a
  /// "%2e%2e" the server would decode into "..".
  [[nodiscard]] std::string where(const std::string& file) const override { return base_ + url_path(file); }
  [[nodiscard]] bool is_remote() const noexcept override { return true; }
  void check_folder() override {}
  [[nodiscard]] bool exists(const std::string& file) override {
    std::uint64_t total = 0;
    return read_range(file, 0, 1, total).has_value();
  }
  [[nodiscard]] std::optional<std::string> read_file(const std::string& file) override {
    check_name(file, location_);
    auto r = client_.get_bytes(where(file), std::nullopt, std::nullopt, kMaxRemoteSmallFile);
    if (absent(r)) return std::nullopt;
    if (r.aborted) throw InputError(where(file), "larger than " + std::to_string(kMaxRemoteSmallFile) + " bytes");
    if (!r.ok()) throw InputError(where(file), "cannot read: " + r.describe());
    if (r.content_length && *r.content_length != r.body.size()) {
      throw InputError(where(file), "received " + std::to_string(r.body.size()) + " bytes, Content-Length says " +
                                        std::to_string(*r.content_length));
    }
    return std::move(r.body);
  }
  [[nodiscard]] std::optional<std::string> read_range(const std::string& file, std::uint64_t offset,
                                                      std::uint64_t length, std::uint64_t& total_size) override {
    if (length == 0) throw InternalError("read_range of 0 bytes");
    check_name(file, location_);
    auto r = client_.get_bytes(where(file), offset, offset + length - 1, length);
    return range_answer(std::move(r), where(file), offset, length, total_size);
  }
  void check_name(const std::string& file, const std::string& named_by) const override {
    if (!is_plain_relative_name(file)) throw InputError(named_by, "file name '" + file + "' escapes the model folder");
  }
  [[nodiscard]] std::uint64_t bytes_transferred() const noexcept override { return client_.bytes_received(); }

 private:
  static bool absent(const HttpResponse& r) {
    return r.transport_error.empty() && (r.status == 404 || r.status == 410);
  }
  std::string location_;
  std::string base_;
  HttpClient client_;
};

}  // namespace

std::optional<std::string> range_answer(HttpResponse r, const std::string& url, std::uint64_t offset,
                                        std::uint64_t length, std::uint64_t& total_size) {
  if (r.transport_error.empty() && (r.status == 404 || r.status == 410)) return std::nullopt;
  if (r.transport_error.empty() && r.status == 416 && r.range_total) {  // range past the end
    total_size = *r.range_total;
    return std::string();
  }
  if (r.status == 200 || r.aborted) {
    throw InputError(url,
                     "the server ignores HTTP range requests (answered " + r.describe() +
                         " to a Range request): use `lineage fetch` to download the model",
                     {}, offset);
  }
  if (!r.ok()) throw InputError(url, "cannot read: " + r.describe(), {}, offset);
  if (!r.range_start || !r.range_total || *r.range_start != offset) {
    throw InputError(url, "the server answered a range request without a matching Content-Range", {}, offset);
  }
  const auto expect = std::min(length, *r.range_total - std::min(*r.range_total, offset));
  if (r.body.size() != expect) {
    throw InputError(url,
                     "received " + std::to_string(r.body.size()) + " bytes of a " + std::to_string(expect) +
                         "-byte range (file size " + std::to_string(*r.range_total) + ")",
                     {}, offset);
  }
  total_size = *r.range_total;
  return std::move(r.body);
}

std::unique_ptr<ModelSource> open_http_model(const std::string& location, const RemoteOptions& options) {
  return std::make_unique<HttpSource>(location, options);
}

}  // namespace lineage::io
