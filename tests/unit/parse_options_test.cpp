// pipeline/commands/parse_options.hpp: what every subcommand's command line shares.
#include "pipeline/commands/parse_options.hpp"

#include <gtest/gtest.h>

#include <sstream>

#include "support/files.hpp"

namespace lineage::pipeline::commands {
namespace {

namespace po = boost::program_options;
using lineage::testing::error_of;

CommandLine demo_command_line() {
  CommandLine cl("demo", "lineage demo FILE\n\noptions", "exit codes: 0 ok, 2 usage\n");
  cl.options()("json", "machine-readable output");
  cl.hidden()("file", po::value<std::string>());
  return cl;
}

TEST(CommandLine, HelpPrintsTheOptionsThenTheExitCodesAndParsesNothing) {
  const auto cl = demo_command_line();
  std::ostringstream page;
  auto* old = std::cout.rdbuf(page.rdbuf());
  const auto parsed = cl.parse({"--help"}, {{"file", 1}});
  std::cout.rdbuf(old);
  EXPECT_FALSE(parsed.has_value());
  const auto text = page.str();
  EXPECT_EQ(text.rfind("lineage demo FILE\n\noptions:\n", 0), 0u) << text;
  EXPECT_NE(text.find("-h [ --help ]"), std::string::npos) << text;
  EXPECT_LT(text.find("--help"), text.find("--json")) << text;
  EXPECT_EQ(text.find("--file"), std::string::npos) << text;  // positionals stay out of the page
  EXPECT_TRUE(text.ends_with("machine-readable output\n\nexit codes: 0 ok, 2 usage\n")) << text;
}

TEST(CommandLine, ParsesPositionalsAndNamesTheCommandInUsageErrors) {
  const auto cl = demo_command_line();
  const auto vm = cl.parse({"a.h5", "--json"}, {{"file", 1}});
  ASSERT_TRUE(vm.has_value());
  EXPECT_EQ((*vm)["file"].as<std::string>(), "a.h5");
  EXPECT_EQ(vm->count("json"), 1u);
  EXPECT_EQ(error_of([&] { (void)cl.parse({"--bogus"}, {{"file", 1}}); }), "demo: unrecognised option '--bogus'");
  EXPECT_THROW((void)cl.parse({"a.h5", "b.h5"}, {{"file", 1}}), UsageError);
  // Without a positional description a stray word is passed over (what synth has always done).
  EXPECT_TRUE(cl.parse({"stray", "--json"}).has_value());
}

}  // namespace
}  // namespace lineage::pipeline::commands
