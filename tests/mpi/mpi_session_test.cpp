// A rank mpirun started on one node asks Open MPI for the ob1 PML before MPI_Init
// (pipeline::environment().mpi_pml, cluster::MpiSession, as `lineage compare` does; the test main
// starts MPI so), and Open MPI read it: its "pml" control variable, through the MPI tool
// interface, holds it. CTest runs these ranks with OMPI_MCA_pml unset (tests/CMakeLists.txt).
#include "cluster/mpi_session.hpp"

#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

namespace lineage::cluster {
namespace {

/// The value of Open MPI's control variable `wanted` (a string), or nothing where it has none.
std::optional<std::string> string_control_variable(const std::string& wanted) {
  int provided = 0;
  if (MPI_T_init_thread(MPI_THREAD_SINGLE, &provided) != MPI_SUCCESS) return std::nullopt;
  std::optional<std::string> out;
  int count = 0;
  if (MPI_T_cvar_get_num(&count) != MPI_SUCCESS) count = 0;
  for (int i = 0; i < count && !out; ++i) {
    char name[256];
    int name_length = sizeof name, verbosity = 0, binding = 0, scope = 0;
    MPI_Datatype type = MPI_DATATYPE_NULL;
    MPI_T_enum enumeration = MPI_T_ENUM_NULL;
    if (MPI_T_cvar_get_info(i, name, &name_length, &verbosity, &type, &enumeration, nullptr, nullptr, &binding,
                            &scope) != MPI_SUCCESS ||
        wanted != name || type != MPI_CHAR) {
      continue;
    }
    MPI_T_cvar_handle handle = MPI_T_CVAR_HANDLE_NULL;
    int elements = 0;
    if (MPI_T_cvar_handle_alloc(i, nullptr, &handle, &elements) != MPI_SUCCESS) continue;
    std::vector<char> value(static_cast<std::size_t>(std::max(elements, 1)) + 1, 0);
    if (MPI_T_cvar_read(handle, value.data()) == MPI_SUCCESS) out = std::string(value.data());
    MPI_T_cvar_handle_free(&handle);
  }
  MPI_T_finalize();
  return out;
}

TEST(MpiSession, RanksOfOneNodeAskedForOb1AndOpenMpiReadIt) {
  // CTest starts these ranks with mpirun on this one machine.
  const char* asked = std::getenv("OMPI_MCA_pml");
  ASSERT_NE(asked, nullptr) << "no PML asked for before MPI_Init";
  EXPECT_STREQ(asked, "ob1");
  const char* size = std::getenv("OMPI_COMM_WORLD_SIZE");
  const char* local = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  ASSERT_TRUE(size && local && std::string(size) == local) << "the test runs its ranks on one node";
  EXPECT_EQ(string_control_variable("pml"), std::string(asked));
}

}  // namespace
}  // namespace lineage::cluster
