#pragma once
/// @file http_client.hpp
/// A small checked wrapper around one libcurl easy handle: GET with an optional byte range,
/// redirects followed, the auth token sent as a header (never logged), the body streamed to a
/// sink. Transport failures and HTTP statuses are reported in the response, not thrown, so that
/// callers decide what to retry (io/http_source.cpp, io/http_download.cpp).

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "io/model_source.hpp"

namespace lineage::io {

struct HttpResponse {
  long status = 0;                              ///< final HTTP status (after redirects); 0 if none
  std::string transport_error;                  ///< empty when the transfer completed
  bool aborted = false;                         ///< the sink asked to stop
  std::optional<std::uint64_t> range_start;     ///< Content-Range: bytes START-END/TOTAL
  std::optional<std::uint64_t> range_total;     ///< TOTAL (also from "bytes */TOTAL" on 416)
  std::optional<std::uint64_t> content_length;  ///< Content-Length of the final response
  std::optional<std::string> sha256;            ///< X-Linked-Etag or ETag holding 64 hex digits
  std::string body;                             ///< with get_bytes: the body (error pages cut short)
  [[nodiscard]] bool ok() const noexcept { return transport_error.empty() && status >= 200 && status < 300; }
  /// Worth retrying: a transport failure, 408, 429 or 5xx.
  [[nodiscard]] bool retryable() const noexcept;
  /// Total size of the file: the Content-Range total, else (status 200) the Content-Length.
  [[nodiscard]] std::optional<std::uint64_t> file_size() const noexcept;
  /// "HTTP 404" or the transport error, for messages.
  [[nodiscard]] std::string describe() const;
};

/// The response as its header lines describe it so far: curl passes them one at a time, and a
/// status line starts a new response (after a redirect). Apart from the transfer so that the
/// parsing of what a server sends can be fuzzed (tests/fuzz/fuzz_http_response.cpp).
struct ResponseHeaders {
  HttpResponse response;
  std::optional<std::string> linked_sha;  ///< X-Linked-Etag: survives redirects (HF sends it on the 302)
  std::optional<std::string> etag_sha;    ///< ETag of the latest response
  /// One header line as received ("Content-Range: bytes 0-9/100\r\n"); anything else is ignored.
  void apply(std::string_view line);
  /// The SHA-256 the headers claim: X-Linked-Etag, else ETag.
  [[nodiscard]] std::optional<std::string> sha256() const { return linked_sha ? linked_sha : etag_sha; }
};

class HttpClient {
 public:
  explicit HttpClient(RemoteOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  /// Body chunks of a 2xx response; return false to stop the transfer.
  using Sink = std::function<bool(const HttpResponse& headers, std::string_view chunk)>;

  /// One GET of `url`, bytes [from, to] (inclusive; `to` nullopt: to the end; `from` nullopt:
  /// no Range header). No retries.
  HttpResponse get(const std::string& url, std::optional<std::uint64_t> from, std::optional<std::uint64_t> to,
                   const Sink& sink);

  /// GET into memory, at most `max_bytes` of body (more: the transfer is stopped and `aborted`
  /// set), retried with backoff while retryable.
  HttpResponse get_bytes(const std::string& url, std::optional<std::uint64_t> from, std::optional<std::uint64_t> to,
                         std::uint64_t max_bytes);

  [[nodiscard]] const RemoteOptions& options() const noexcept { return options_; }
  /// Body bytes received by this client so far.
  [[nodiscard]] std::uint64_t bytes_received() const noexcept { return bytes_received_; }

 private:
  RemoteOptions options_;
  void* curl_ = nullptr;  ///< CURL*, kept for connection reuse
  std::uint64_t bytes_received_ = 0;
};

/// Sleeps before retry `attempt` (1, 2, ...): 0.25 s doubled each time, at most 8 s.
void backoff_sleep(int attempt);

}  // namespace lineage::io
