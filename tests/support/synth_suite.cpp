#include "support/synth_suite.hpp"

#include <map>
#include <memory>

#include "io/family_file.hpp"
#include "support/files.hpp"
#include "support/temp_dir.hpp"
#include "tools/synth/registry_expand.hpp"
#include "tools/synth/synth_style.hpp"
#include "tools/synth/write_suite.hpp"

namespace lineage::testing {

const std::filesystem::path& synth_suite(const std::string& style, bool realistic) {
  static std::map<std::pair<std::string, bool>, std::unique_ptr<TempDir>> suites;
  auto& slot = suites[{style, realistic}];
  if (!slot) {
    slot = std::make_unique<TempDir>();
    static const auto registry = io::load_family_registry(std::string(LINEAGE_SOURCE_DIR) + "/families");
    const auto s = tools::load_style(test_styles_dir(), style, {});
    tools::write_suite(slot->path(), s, 1, tools::make_expand(registry),
                       realistic ? tools::ValueModel::realistic : tools::ValueModel::iid);
  }
  return slot->path();
}

}  // namespace lineage::testing
