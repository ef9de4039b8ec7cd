#pragma once
/// @file behaviour_outputs.hpp
/// Pre-generated model outputs for the black-box test (METHODS §9): JSON Lines, one prompt per
/// line, `{"prompt_id": ..., "output": "..."}`. The id may be a string or an integer (also
/// accepted as "id"); the output may be text ("output", "text" or "completion") or generated
/// token ids ("tokens"). Text is whitespace-stripped, as the reference implementation does,
/// so that models with different tokenizers compare.

#include <filesystem>
#include <string>
#include <vector>

namespace lineage::io {

struct ModelOutputs {
  std::string path;
  /// (prompt id, normalised output) in file order; ids are unique.
  std::vector<std::pair<std::string, std::string>> outputs;
};

/// Throws InputError naming the file and the line ("line 12") for malformed JSON, a missing id
/// or output, or a repeated prompt id.
[[nodiscard]] ModelOutputs read_model_outputs(const std::filesystem::path& path);

}  // namespace lineage::io
