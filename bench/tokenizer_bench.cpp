// Loading and comparing real tokenizers: Llama 3's tokenizer.json (9.1 MB, 128k tokens, 280k
// merges) and cl100k (4.2 MB) from shared/data/tokenizers. Times read_tokenizer_file (parse +
// decode every token to bytes) and compare_tokenizers; prints the median of 5 runs.
// Not part of the test suite (see docs/benchmarks.md).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "io/tokenizer_file.hpp"
#include "stages/tokenizer/compare_tokenizers.hpp"

using namespace lineage;

namespace {

template <typename F>
double median_seconds(F&& f) {
  std::vector<double> t;
  for (int i = 0; i < 5; ++i) {
    const auto start = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(t.begin(), t.end());
  return t[2];
}

}  // namespace

int main() {
  const std::filesystem::path dir = std::string(LINEAGE_SOURCE_DIR_FOR_BENCH) + "/../shared/data/tokenizers";
  const auto llama3 = dir / "llama3" / "tokenizer.json";
  const auto cl100k = dir / "gpt35turbo" / "tokenizer.json";
  std::size_t tokens = 0;
  const double load = median_seconds([&] { tokens = io::read_tokenizer_file(llama3).vocab.size(); });
  std::printf("load llama3 tokenizer.json (%.1f MB, %zu tokens): %.3f s median of 5\n",
              static_cast<double>(std::filesystem::file_size(llama3)) / 1e6, tokens, load);
  const auto a = io::read_tokenizer_file(cl100k);
  const auto b = io::read_tokenizer_file(llama3);
  const double cmp = median_seconds([&] { (void)stages::compare_tokenizers(a, b); });
  std::printf("compare cl100k vs llama3: %.3f s median of 5\n", cmp);
  return 0;
}
