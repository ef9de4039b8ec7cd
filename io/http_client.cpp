#include "io/http_client.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <mutex>
#include <thread>

#include "core/errors.hpp"
#include "core/version.hpp"

namespace lineage::io {
namespace {

std::once_flag curl_init_once;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

std::optional<std::uint64_t> parse_u64(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::uint64_t v = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    if (__builtin_mul_overflow(v, 10u, &v) || __builtin_add_overflow(v, static_cast<unsigned>(c - '0'), &v))
      return std::nullopt;
  }
  return v;
}

/// 64 hex digits (lower-cased) inside an ETag value such as "abc..." or W/"abc...".
std::optional<std::string> sha256_of_etag(std::string v) {
  if (v.rfind("W/", 0) == 0) v = v.substr(2);
  v.erase(std::remove(v.begin(), v.end(), '"'), v.end());
  if (v.size() != 64 || !std::all_of(v.begin(), v.end(), [](unsigned char c) { return std::isxdigit(c); }))
    return std::nullopt;
  return lower(v);
}

struct Transfer {
  ResponseHeaders headers;
  const HttpClient::Sink* sink = nullptr;
  std::uint64_t* counter = nullptr;
  CURL* handle = nullptr;
};

std::size_t on_header(char* data, std::size_t size, std::size_t n, void* user) {
  static_cast<Transfer*>(user)->headers.apply(std::string_view(data, size * n));
  return size * n;
}

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user) {
  auto& t = *static_cast<Transfer*>(user);
  const auto bytes = size * n;
  *t.counter += bytes;
  if (!t.sink || !*t.sink) return bytes;
  if (t.headers.response.status == 0) curl_easy_getinfo(t.handle, CURLINFO_RESPONSE_CODE, &t.headers.response.status);
  if (!(*t.sink)(t.headers.response, std::string_view(data, bytes))) {
    t.headers.response.aborted = true;
    return 0;  // CURLE_WRITE_ERROR stops the transfer
  }
  return bytes;
}

template <typename T>
void set(CURL* c, CURLoption opt, T value) {
  if (const auto rc = curl_easy_setopt(c, opt, value); rc != CURLE_OK) {
    throw InternalError(std::string("curl_easy_setopt: ") + curl_easy_strerror(rc));
  }
}

}  // namespace

void ResponseHeaders::apply(std::string_view line) {
  if (line.rfind("HTTP/", 0) == 0) {  // a new response (after a redirect or 100-continue)
    response.range_start.reset();
    response.range_total.reset();
    response.content_length.reset();
    etag_sha.reset();
    response.status = 0;  // on_body asks the handle for the final status
    return;
  }
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) return;
  const auto key = lower(trim(line.substr(0, colon)));
  const auto value = trim(line.substr(colon + 1));
  if (key == "content-length") {
    response.content_length = parse_u64(value);
  } else if (key == "content-range") {
    // "bytes START-END/TOTAL" or "bytes */TOTAL"
    const auto sp = value.find(' ');
    const auto slash = value.find('/');
    if (sp != std::string::npos && slash != std::string::npos && slash > sp) {
      response.range_total = parse_u64(std::string_view(value).substr(slash + 1));
      const auto spec = value.substr(sp + 1, slash - sp - 1);
      if (const auto dash = spec.find('-'); dash != std::string::npos) {
        response.range_start = parse_u64(std::string_view(spec).substr(0, dash));
      }
    }
  } else if (key == "x-linked-etag") {
    linked_sha = sha256_of_etag(value);
  } else if (key == "etag") {
    etag_sha = sha256_of_etag(value);
  }
}

bool HttpResponse::retryable() const noexcept {
  if (aborted) return false;
  if (!transport_error.empty()) return true;
  return status == 408 || status == 429 || status >= 500;
}

std::optional<std::uint64_t> HttpResponse::file_size() const noexcept {
  if (range_total) return range_total;
  if (status == 200) return content_length;
  return std::nullopt;
}

std::string HttpResponse::describe() const {
  if (!transport_error.empty()) return transport_error;
  return "HTTP " + std::to_string(status);
}

HttpClient::HttpClient(RemoteOptions options) : options_(std::move(options)) {
  std::call_once(curl_init_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  curl_ = curl_easy_init();
  if (!curl_) throw InternalError("curl_easy_init failed");
}

HttpClient::~HttpClient() { curl_easy_cleanup(static_cast<CURL*>(curl_)); }

HttpResponse HttpClient::get(const std::string& url, std::optional<std::uint64_t> from, std::optional<std::uint64_t> to,
                             const Sink& sink) {
  auto* c = static_cast<CURL*>(curl_);
  curl_easy_reset(c);
  Transfer t;
  t.sink = &sink;
  t.counter = &bytes_received_;
  t.handle = c;
  char error[CURL_ERROR_SIZE] = {0};
  set(c, CURLOPT_URL, url.c_str());
  set(c, CURLOPT_FOLLOWLOCATION, 1L);
  set(c, CURLOPT_MAXREDIRS, 10L);
  // A server is a stranger too: neither the URL nor a redirect may switch to file://, ftp:// ...
  set(c, CURLOPT_PROTOCOLS_STR, "http,https");
  set(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  set(c, CURLOPT_NOSIGNAL, 1L);
  set(c, CURLOPT_CONNECTTIMEOUT, options_.connect_timeout_s);
  set(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  set(c, CURLOPT_LOW_SPEED_TIME, options_.stall_timeout_s);
  set(c, CURLOPT_ERRORBUFFER, error);
  const std::string agent = std::string("lineage/") + kVersion;
  set(c, CURLOPT_USERAGENT, agent.c_str());
  // No transparent decompression: byte ranges and sizes refer to the stored file.
  set(c, CURLOPT_HTTP_CONTENT_DECODING, 0L);
  std::string range;
  if (from) {
    range = std::to_string(*from) + "-" + (to ? std::to_string(*to) : std::string());
    set(c, CURLOPT_RANGE, range.c_str());
  }
  struct Headers {
    curl_slist* list = nullptr;
    ~Headers() { curl_slist_free_all(list); }
  } headers;
  std::string auth;
  if (options_.token) {
    // curl sends a custom Authorization header only to the first host, not after a redirect to
    // another one (the CDN of an LFS file), unless CURLOPT_UNRESTRICTED_AUTH is set.
    auth = "Authorization: Bearer " + *options_.token;
    headers.list = curl_slist_append(headers.list, auth.c_str());
    set(c, CURLOPT_HTTPHEADER, headers.list);
  }
  set(c, CURLOPT_HEADERFUNCTION, on_header);
  set(c, CURLOPT_HEADERDATA, &t);
  set(c, CURLOPT_WRITEFUNCTION, on_body);
  set(c, CURLOPT_WRITEDATA, &t);
  const auto rc = curl_easy_perform(c);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  t.headers.response.status = status;
  if (rc != CURLE_OK && !t.headers.response.aborted) {
    t.headers.response.transport_error =
        std::string(curl_easy_strerror(rc)) + (error[0] ? std::string(": ") + error : "");
  }
  t.headers.response.sha256 = t.headers.sha256();
  return t.headers.response;
}

HttpResponse HttpClient::get_bytes(const std::string& url, std::optional<std::uint64_t> from,
                                   std::optional<std::uint64_t> to, std::uint64_t max_bytes) {
  for (int attempt = 1;; ++attempt) {
    std::string body;
    const Sink sink = [&](const HttpResponse&, std::string_view chunk) {
      if (body.size() + chunk.size() > max_bytes) return false;
      body.append(chunk);
      return true;
    };
    auto r = get(url, from, to, sink);
    r.body = std::move(body);
    if (!r.retryable() || attempt >= options_.max_attempts) return r;
    backoff_sleep(attempt);
  }
}

void backoff_sleep(int attempt) {
  const auto ms = std::min<long long>(8000, 250LL << std::min(attempt - 1, 10));
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

}  // namespace lineage::io
