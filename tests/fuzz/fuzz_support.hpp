#pragma once
/// @file fuzz_support.hpp
/// Shared by the libFuzzer targets (built only with -DLINEAGE_FUZZ=ON and clang, see
/// scripts/fuzz.sh). A target feeds one input to one reader of outside data. A lineage::Error
/// is the reader doing its job; any other exception would reach the CLI as exit 1 "internal
/// error", so it is a finding and aborts; crashes, hangs and large allocations are libFuzzer's.

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "core/errors.hpp"

namespace lineage::fuzz {

/// A folder of this process's own for the whole run (inputs that are files go there); under
/// $TMPDIR, which scripts/fuzz.sh points at a folder it removes.
inline const std::filesystem::path& work_dir() {
  static const std::filesystem::path dir = [] {
    auto d = std::filesystem::temp_directory_path() / ("lineage-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

inline std::filesystem::path write_input(const std::string& name, const std::uint8_t* data, std::size_t size) {
  const auto p = work_dir() / name;
  std::ofstream(p, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return p;
}

template <typename Fn>
int run(Fn&& fn) {
  try {
    fn();
  } catch (const lineage::Error&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz: exception other than lineage::Error (exit 1 in the CLI): %s\n", e.what());
    std::abort();
  }
  return 0;
}

}  // namespace lineage::fuzz
