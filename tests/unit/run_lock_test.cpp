#include "io/run_lock.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "core/errors.hpp"
#include "io/store/result_store.hpp"

namespace lineage::io {
namespace {

namespace fs = std::filesystem;

fs::path fresh_dir(const std::string& name) {
  const auto d = fs::temp_directory_path() / ("lineage_run_lock_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

TEST(RunLock, ASecondWriterIsRefusedNamingTheHolderUntilTheFirstLetsGo) {
  const auto d = fresh_dir("refuse");
  const auto store = d / "run.h5";
  {
    const RunLock first(store, "host h1 pid 11 Slurm job 42");
    EXPECT_EQ(first.path(), d / "run.h5.lock");
    try {
      const RunLock second(store, "host h2 pid 22");
      FAIL() << "second writer not refused";
    } catch (const StoreError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("another run is writing this store"), std::string::npos) << what;
      EXPECT_NE(what.find("held by host h1 pid 11 Slurm job 42"), std::string::npos) << what;
      EXPECT_EQ(e.exit_code(), ExitCode::store);
    }
  }
  // Released (and the holder line cleared): the next writer gets it.
  const RunLock again(store, "host h3 pid 33");
  std::ifstream in(d / "run.h5.lock");
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "host h3 pid 33");
  fs::remove_all(d);
}

TEST(RunLock, AMissingFolderIsAStoreErrorNamingIt) {
  const auto d = fresh_dir("missing");
  try {
    const RunLock lock(d / "nope" / "run.h5", "x");
    FAIL() << "no error";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("does not exist"), std::string::npos) << e.what();
  }
  fs::remove_all(d);
}

TEST(RunLock, StaleTemporaryStoresAreRemovedAndNothingElse) {
  const auto d = fresh_dir("stale");
  for (const auto* name :
       {"run.h5.tmp-Ab12Cd", "run.h5.tmp-zzzzzz", "run.h5.tmp-toolong1", "run.h5", "other.h5.tmp-Ab12Cd"})
    std::ofstream(d / name) << "x";
  const auto removed = remove_stale_store_temporaries(d / "run.h5");
  EXPECT_EQ(removed.size(), 2u);
  EXPECT_FALSE(fs::exists(d / "run.h5.tmp-Ab12Cd"));
  EXPECT_FALSE(fs::exists(d / "run.h5.tmp-zzzzzz"));
  EXPECT_TRUE(fs::exists(d / "run.h5.tmp-toolong1"));
  EXPECT_TRUE(fs::exists(d / "run.h5"));
  EXPECT_TRUE(fs::exists(d / "other.h5.tmp-Ab12Cd"));
  fs::remove_all(d);
}

}  // namespace
}  // namespace lineage::io
