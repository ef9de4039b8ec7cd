#include "pipeline/stop_signal.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "core/errors.hpp"
#include "io/safetensors_file.hpp"
#include "io/safetensors_writer.hpp"

namespace lineage::pipeline {
namespace {

TEST(StopSignal, UsrOneAndTermSetTheFlagInsteadOfKilling) {
  install_stop_handlers();
  reset_stop_request();
  EXPECT_FALSE(stop_requested());
  std::raise(SIGUSR1);
  EXPECT_TRUE(stop_requested());
  EXPECT_EQ(stop_signal_number(), SIGUSR1);
  reset_stop_request();
  std::raise(SIGTERM);
  EXPECT_EQ(stop_signal_number(), SIGTERM);
  reset_stop_request();
  restore_stop_handlers();
}

extern "C" void some_library_handler(int) {}

// compare installs the handlers before MPI starts and again after it: a handler a library put in
// place in between (PMIx, UCX) is replaced, and restoring puts back the one found first.
TEST(StopSignal, InstallingAgainReplacesAHandlerSetInBetween) {
  struct sigaction before {};
  sigaction(SIGUSR1, nullptr, &before);
  install_stop_handlers();
  struct sigaction library {};
  library.sa_handler = some_library_handler;
  sigemptyset(&library.sa_mask);
  sigaction(SIGUSR1, &library, nullptr);
  install_stop_handlers();
  reset_stop_request();
  std::raise(SIGUSR1);
  EXPECT_TRUE(stop_requested());
  reset_stop_request();
  restore_stop_handlers();
  struct sigaction after {};
  sigaction(SIGUSR1, nullptr, &after);
  EXPECT_EQ(after.sa_handler, before.sa_handler);
}

// Ctrl-C twice ends the process at once (a rank stuck in MPI's start-up never polls the flag);
// Slurm's USR1 and then TERM at the limit, or TERM twice, only ask for the checkpoint.
TEST(StopSignal, ASecondInterruptEndsTheProcessAtOnce) {
  const std::string style = GTEST_FLAG_GET(death_test_style);
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        install_stop_handlers();
        reset_stop_request();
        std::raise(SIGINT);
        if (!stop_requested()) std::_Exit(3);  // the first only sets the flag
        std::raise(SIGINT);
        std::_Exit(4);
      },
      ::testing::KilledBySignal(SIGINT), "");
  GTEST_FLAG_SET(death_test_style, style);
  install_stop_handlers();
  reset_stop_request();
  for (const int sig : {SIGUSR1, SIGTERM, SIGTERM, SIGUSR1}) std::raise(sig);
  EXPECT_EQ(stop_signal_number(), SIGUSR1);
  reset_stop_request();
  std::raise(SIGTERM);
  std::raise(SIGINT);  // after another signal: the first Ctrl-C, which only sets the flag
  EXPECT_EQ(stop_signal_number(), SIGINT);
  reset_stop_request();
  restore_stop_handlers();
}

}  // namespace
}  // namespace lineage::pipeline

namespace lineage::pipeline {
namespace {

// A shard cut while it is mapped: the length check of SafetensorsFile::range reports it as an
// input error; a cut after that check faults (SIGBUS) on the read, which the guard turns into one
// clear line naming the files and exit code 3 instead of a silent crash. The sanitizer build runs it
// too: ASan handles SIGBUS (handle_sigbus=1) but lets a program install its own handler in its
// place (allow_user_segv_handler, on by default), as lineage itself does.
TEST(BusErrorGuard, AShardCutWhileMappedIsAnInputErrorOrExitThreeNeverASilentCrash) {
  const auto dir = std::filesystem::temp_directory_path() / ("lineage_sigbus_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = dir / "m.safetensors";
  io::write_safetensors(path, {{"w", Dtype::F32, {65536}, std::vector<std::byte>(std::size_t{65536} * 4)}});
  {
    const io::SafetensorsFile f(path);
    const auto e = io::read_safetensors_header(path).tensors.front();
    std::filesystem::resize_file(path, 64);
    EXPECT_THROW((void)f.range(e.data_begin, e.data_end), InputError);
  }
  std::filesystem::remove(path);
  io::write_safetensors(path, {{"w", Dtype::F32, {65536}, std::vector<std::byte>(std::size_t{65536} * 4)}});
  EXPECT_EXIT(
      {
        install_bus_error_handler(2);
        const io::SafetensorsFile f(path);
        const auto e = io::read_safetensors_header(path).tensors.front();
        const auto bytes = f.range(e.data_begin, e.data_end);  // checked while whole
        set_files_being_read(path.string(), path.string());
        std::filesystem::resize_file(path, 64);  // cut after the check
        volatile std::byte last = bytes[bytes.size() - 1];
        (void)last;
        std::exit(0);
      },
      ::testing::ExitedWithCode(3), "rank 2: .*m.safetensors: a model file was truncated while being read");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace lineage::pipeline
