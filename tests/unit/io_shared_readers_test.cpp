// The readers every file format shares: the YAML reader with its unknown-key check
// (io/detail/yaml_reader.hpp; family, run and catalogue files), the dotted JSON lookup
// (core/json_path.hpp), the whole-file reader and the journal naming rule.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "core/errors.hpp"
#include "core/json_path.hpp"
#include "io/detail/yaml_reader.hpp"
#include "io/journal/journal.hpp"
#include "io/model_folder.hpp"
#include "support/temp_dir.hpp"

namespace lineage {
namespace {

namespace fs = std::filesystem;

std::string message_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(YamlReader, UnknownKeysNameTheFileThePathAndTheKnownKeysInOrder) {
  const io::detail::YamlReader reader("/data/run.yaml");
  const auto node = YAML::Load("{slurm: {nodes: 2, nodse: 3}}");
  EXPECT_NO_THROW(reader.reject_unknown_keys(node, "", {"slurm"}));
  const auto m = message_of([&] { reader.reject_unknown_keys(node["slurm"], "slurm", {"time", "nodes"}); });
  EXPECT_NE(m.find("/data/run.yaml:slurm.nodse: unknown key (known: time, nodes)"), std::string::npos) << m;
  const auto top = message_of([&] { reader.reject_unknown_keys(node, "", {"suspect"}); });
  EXPECT_NE(top.find("/data/run.yaml:slurm: unknown key (known: suspect)"), std::string::npos) << top;
}

TEST(YamlReader, ANonMappingOrAKeyThatIsNotANameIsRefusedWhereItIs) {
  const io::detail::YamlReader reader("f.yaml");
  const auto list = YAML::Load("[1, 2]");
  EXPECT_NE(
      message_of([&] { reader.reject_unknown_keys(list, "", {"a"}); }).find("f.yaml:(top level): must be a mapping"),
      std::string::npos);
  EXPECT_NE(message_of([&] { reader.reject_unknown_keys(list, "", {"a"}, "(top)"); }).find("f.yaml:(top): must be"),
            std::string::npos);
  const auto odd = YAML::Load("{[1]: x}");
  EXPECT_NE(message_of([&] {
              reader.reject_unknown_keys(odd, "case", {"a"});
            }).find("f.yaml:case: has a key that is not a name"),
            std::string::npos);
}

TEST(YamlReader, LoadNamesTheFileAndTheLine) {
  testing::TempDir dir;
  const auto path = dir.path() / "bad.yaml";
  std::ofstream(path) << "a: 1\nb: [unclosed\n";
  const io::detail::YamlReader reader(path);
  EXPECT_NE(message_of([&] { (void)reader.load("cannot read"); }).find("malformed YAML"), std::string::npos);
  const io::detail::YamlReader missing(dir.path() / "none.yaml");
  EXPECT_NE(message_of([&] { (void)missing.load("cannot read this"); }).find("none.yaml: cannot read this"),
            std::string::npos);
}

TEST(JsonPath, FindsDottedKeysAndNothingThroughANonObject) {
  const auto j = nlohmann::json::parse(R"({"a": {"b": {"c": 3}}, "n": 1, "l": [1]})");
  ASSERT_NE(find_dotted(j, "a.b.c"), nullptr);
  EXPECT_EQ(*find_dotted(j, "a.b.c"), 3);
  EXPECT_TRUE(find_dotted(j, "a.b")->is_object());
  EXPECT_EQ(find_dotted(j, "a.x"), nullptr);
  EXPECT_EQ(find_dotted(j, "n.b"), nullptr);
  EXPECT_EQ(find_dotted(j, "l.0"), nullptr);
  EXPECT_EQ(find_dotted(j, "missing"), nullptr);
}

TEST(WholeFileReader, ReadsEveryByteAndRefusesWhatIsNotARegularFile) {
  testing::TempDir dir;
  const auto path = dir.path() / "t.txt";
  std::ofstream(path, std::ios::binary) << std::string("a\0b\nc", 5);
  EXPECT_EQ(io::read_regular_file(path), std::string("a\0b\nc", 5));
  EXPECT_THROW((void)io::read_regular_file(path, 4), InputError);
  EXPECT_THROW((void)io::read_regular_file(dir.path()), InputError);
  EXPECT_THROW((void)io::read_regular_file(dir.path() / "none"), InputError);
}

TEST(JournalNaming, OneFolderBesideTheStoreAndOneFilePerRankAndSession) {
  testing::TempDir dir;
  const auto store = dir.path() / "run.h5";
  EXPECT_EQ(io::journal_dir_of(store), dir.path() / "run.h5.journal");
  EXPECT_EQ(io::rank_journal_path(store, 3, "s1"), dir.path() / "run.h5.journal" / "r3-s1.jrn");
  EXPECT_TRUE(io::journal_files_of(store).empty());
  fs::create_directories(io::journal_dir_of(store));
  for (const auto* name : {"r1-s.jrn", "r0-s.jrn", "r10-s.jrn"}) std::ofstream(io::journal_dir_of(store) / name);
  const auto files = io::journal_files_of(store);
  ASSERT_EQ(files.size(), 3u);
  EXPECT_EQ(files[0].filename(), "r0-s.jrn");
  EXPECT_EQ(files[1].filename(), "r1-s.jrn");
  EXPECT_EQ(files[2].filename(), "r10-s.jrn");
}

}  // namespace
}  // namespace lineage
