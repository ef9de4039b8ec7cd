#pragma once
/// @file mpi_check.hpp
/// Checked MPI calls: every MPI return code is tested right at the call and turned into a
/// ClusterError carrying the call's name and MPI's own error string.

#include <mpi.h>

#include <string>

#include "core/errors.hpp"

namespace lineage::cluster::detail {

inline void check(int code, const char* what) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING] = {};
  int len = 0;
  MPI_Error_string(code, text, &len);
  throw ClusterError(std::string(what) + " failed: " + std::string(text, static_cast<std::size_t>(len)));
}

}  // namespace lineage::cluster::detail
