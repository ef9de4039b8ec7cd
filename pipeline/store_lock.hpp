#pragma once
/// @file store_lock.hpp
/// Every writer of a result store (compare, merge, the evidence of tokenizer/arch/behaviour
/// --out) holds the store's writer lock (io/run_lock.hpp) while it reads, changes and replaces it.

#include <filesystem>
#include <string>

#include "io/run_lock.hpp"

namespace lineage::pipeline {

/// "host H pid P [Slurm job J] since T": who holds a lock, as a refused writer is told.
[[nodiscard]] std::string store_lock_holder();

/// Takes the writer lock of `store` (StoreError, exit 5, naming the holder if it is taken).
[[nodiscard]] inline io::RunLock lock_store(const std::filesystem::path& store) {
  return io::RunLock(store, store_lock_holder());
}

}  // namespace lineage::pipeline
