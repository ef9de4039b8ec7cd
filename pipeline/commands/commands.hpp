#pragma once
/// @file commands.hpp
/// One function per `lineage` subcommand. Each parses its own options (Boost.Program_options),
/// supports --help, and returns an exit code; errors propagate as lineage::Error.

#include <string>
#include <vector>

namespace lineage::pipeline::commands {

int inventory(const std::vector<std::string>& args);
int synth(const std::vector<std::string>& args);
int compare(const std::vector<std::string>& args);
int verdict(const std::vector<std::string>& args);
int report(const std::vector<std::string>& args);
int tokenizer(const std::vector<std::string>& args);
int arch(const std::vector<std::string>& args);
int behaviour(const std::vector<std::string>& args);
int plan(const std::vector<std::string>& args);
int submit(const std::vector<std::string>& args);
int merge(const std::vector<std::string>& args);
int status(const std::vector<std::string>& args);
int check(const std::vector<std::string>& args);
int fetch(const std::vector<std::string>& args);

}  // namespace lineage::pipeline::commands
