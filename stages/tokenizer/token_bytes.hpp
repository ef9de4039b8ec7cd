#pragma once
/// @file token_bytes.hpp
/// The raw bytes a token stands for, whatever its surface encoding: GPT-2's printable byte
/// alphabet (byte-level BPE), SentencePiece's '▁' for space and <0xNN> byte-fallback pieces, or
/// plain text. Vocabularies written in different encodings compare only after this.

#include <string>
#include <string_view>

#include "io/tokenizer_file.hpp"

namespace lineage::stages {

[[nodiscard]] std::string token_bytes(std::string_view token, io::TokenEncoding encoding);

}  // namespace lineage::stages
