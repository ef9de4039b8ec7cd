// What a remote server sends, as the remote reader parses it: header lines one by one
// (io::ResponseHeaders, as curl hands them over, redirects included), then the answer to a range
// request judged against the request (io::range_answer), and the first line as a remote location
// (io::remote_base_url, is_plain_relative_name). Input: header lines up to an empty line, then the
// body; the status is the number after the last "HTTP/..." line's first space.
#include <algorithm>

#include "fuzz_support.hpp"
#include "io/http_client.hpp"
#include "io/http_source.hpp"
#include "io/model_source.hpp"

namespace {

long status_of(std::string_view line) {
  const auto sp = line.find(' ');
  if (sp == std::string_view::npos) return 0;
  long status = 0;
  for (std::size_t i = sp + 1; i < line.size() && i < sp + 4 && line[i] >= '0' && line[i] <= '9'; ++i)
    status = status * 10 + (line[i] - '0');
  return status;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return lineage::fuzz::run([&] {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    lineage::io::ResponseHeaders headers;
    long status = 0;
    std::size_t pos = 0;
    const auto first_line = in.substr(0, std::min(in.find('\n'), in.size()));
    while (pos < in.size()) {
      const auto nl = in.find('\n', pos);
      const auto line = in.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos + 1);
      pos += line.size();
      if (line == "\n" || line == "\r\n") break;
      headers.apply(line);
      if (line.rfind("HTTP/", 0) == 0) status = status_of(line);
    }
    auto r = headers.response;
    r.status = status;
    r.sha256 = headers.sha256();
    r.body = std::string(in.substr(pos));
    (void)r.ok();
    (void)r.retryable();
    (void)r.file_size();
    (void)r.describe();
    // Requests the reader makes: a header probe, the whole body, and one where the server says.
    const std::uint64_t from = r.range_start.value_or(0);
    for (const auto& [offset, length] : {std::pair<std::uint64_t, std::uint64_t>{0, 1},
                                         {0, r.body.size() + 1},
                                         {from, std::max<std::uint64_t>(r.body.size(), 1)}}) {
      try {
        std::uint64_t total = 0;
        (void)lineage::io::range_answer(r, "https://fuzz.invalid/m/x.safetensors", offset, length, total);
      } catch (const lineage::Error&) {
      }
    }
    const std::string location(first_line);
    (void)lineage::io::is_plain_relative_name(location);
    if (lineage::io::is_remote_location(location)) (void)lineage::io::remote_base_url(location, {});
  });
}
