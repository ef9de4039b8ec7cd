#include <boost/program_options.hpp>
#include <iostream>

#include "core/errors.hpp"
#include "io/model_fetch.hpp"
#include "pipeline/commands/commands.hpp"
#include "pipeline/commands/parse_options.hpp"
#include "pipeline/environment.hpp"

namespace lineage::pipeline::commands {

int fetch(const std::vector<std::string>& args) {
  namespace po = boost::program_options;
  CommandLine command_line(
      "fetch",
      "lineage fetch URL DIR [--jobs N] [--quiet]\n\n"
      "Downloads a remote checkpoint (https://..., http://..., hf://ORG/NAME[@REVISION]) into DIR:\n"
      "config.json, tokenizer files, the index and every shard. Shards are written as FILE.part and\n"
      "renamed when complete; a rerun resumes them. Sizes are checked against each shard's header,\n"
      "SHA-256 against the server's 64-hex ETag / X-Linked-Etag or a FILE.sha256 file.\n\noptions",
      "exit codes: 0 ok, 2 usage, 3 server, network, size or checksum problem (rerun to resume)\n");
  command_line.options()("jobs,j", po::value<int>()->default_value(4), "shards downloaded at once")("quiet,q",
                                                                                                    "no line per file");
  command_line.hidden()("url", po::value<std::string>())("dir", po::value<std::string>());
  const auto parsed = command_line.parse(args, {{"url", 1}, {"dir", 1}});
  if (!parsed) return 0;  // --help
  const auto& vm = *parsed;
  if (!vm.count("url") || !vm.count("dir"))
    throw UsageError("fetch: URL and DIR are required (see lineage fetch --help)");
  const auto url = vm["url"].as<std::string>();
  if (!io::is_remote_location(url))
    throw UsageError("fetch: '" + url + "' is not an http://, https:// or hf:// location");
  const int jobs = vm["jobs"].as<int>();
  if (jobs < 1 || jobs > 64) throw UsageError("fetch: --jobs takes 1..64");
  io::FetchOptions o;
  o.remote = remote_options();
  o.parallel_files = jobs;
  const bool quiet = vm.count("quiet") > 0;
  o.on_file = [&](const io::FetchedFile& f) {
    if (quiet) return;
    std::cout << (f.already_complete ? "present " : "fetched ") << f.file << " (" << f.size << " bytes";
    if (f.resumed_at) std::cout << ", resumed at " << f.resumed_at;
    std::cout << (f.sha256.empty() ? "" : ", sha256 verified") << ")\n" << std::flush;
  };
  const auto dir = vm["dir"].as<std::string>();
  const auto files = io::fetch_model(url, dir, o);
  std::uint64_t size = 0, received = 0;
  for (const auto& f : files) {
    size += f.size;
    received += f.received;
  }
  std::cout << "fetched " << files.size() << " files, " << size << " bytes (" << received << " received) into " << dir
            << "\n";
  return 0;
}

}  // namespace lineage::pipeline::commands
