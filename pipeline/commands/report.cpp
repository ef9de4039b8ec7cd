#include <boost/program_options.hpp>
#include <ctime>
#include <filesystem>
#include <iostream>

#include "core/errors.hpp"
#include "io/atomic_file.hpp"
#include "io/store/result_store.hpp"
#include "pipeline/commands/commands.hpp"
#include "pipeline/commands/parse_options.hpp"
#include "pipeline/report_document.hpp"

namespace lineage::pipeline::commands {

int report(const std::vector<std::string>& args) {
  namespace po = boost::program_options;
  CommandLine command_line(
      "report",
      "lineage report RUN.h5 --out DIR\n\n"
      "Writes DIR/index.html (one self-contained page: inline SVG plots, no network, no scripts)\n"
      "and DIR/report.md with its figures in DIR/figures/: models, verdicts, components, per-layer\n"
      "curves, layer x layer heatmaps, expert matchings and the evidence beside the weights.\n\noptions",
      "exit codes: 0 ok, 2 usage, 3 output folder not writable, 5 unreadable or incomplete store\n");
  command_line.options()("out,o", po::value<std::string>(), "output folder (created)");
  command_line.hidden()("store", po::value<std::string>());
  const auto parsed = command_line.parse(args, {{"store", 1}});
  if (!parsed) return 0;  // --help
  const auto& vm = *parsed;
  if (!vm.count("store")) throw UsageError("report: RUN.h5 is required");
  if (!vm.count("out")) throw UsageError("report: --out DIR is required");
  const auto store_path = vm["store"].as<std::string>();
  const auto store = io::read_result_store(store_path);
  if (store.status != "complete") {
    throw StoreError(store_path + ": the run is not complete (" + std::to_string(store.done_ids.size()) + "/" +
                     std::to_string(store.units.size()) + " units); finish it with lineage compare --resume");
  }
  const std::filesystem::path dir = vm["out"].as<std::string>();
  std::error_code ec;
  std::filesystem::create_directories(dir / "figures", ec);
  if (ec) throw InputError(dir.string(), "cannot create the report folder: " + ec.message());
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &utc);
  const auto files = build_report(store, store_path, date);
  // Figures first, the page last: a reader who finds index.html finds everything it names.
  // Readable by others (a report is for publishing): the atomic writer's temporary files are 0600.
  const auto write = [](const std::filesystem::path& path, const std::string& text) {
    io::write_text_file(path, text);
    std::error_code perm_ec;
    std::filesystem::permissions(path,
                                 std::filesystem::perms::owner_read | std::filesystem::perms::owner_write |
                                     std::filesystem::perms::group_read | std::filesystem::perms::others_read,
                                 perm_ec);
  };
  for (const auto& [name, svg] : files.figures) write(dir / "figures" / name, svg);
  write(dir / "report.md", files.markdown);
  write(dir / "index.html", files.html);
  std::cout << (dir / "index.html").string() << "\n";
  return 0;
}

}  // namespace lineage::pipeline::commands
