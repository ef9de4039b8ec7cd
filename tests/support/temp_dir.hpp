#pragma once
/// @file temp_dir.hpp
/// A unique temporary directory for one test, removed (recursively) when it goes out of scope.

#include <filesystem>

namespace lineage::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace lineage::testing
