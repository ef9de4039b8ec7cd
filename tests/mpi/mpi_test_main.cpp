// GoogleTest main for MPI tests: every rank runs every test; only rank 0 prints the normal
// progress; failures of other ranks are gathered and printed by rank 0 in rank order; every rank
// exits with the same code (allreduce MAX), so mpirun reports a failure on any rank.
#include <gtest/gtest.h>

#include <iostream>
#include <sstream>
#include <string>

#include "cluster/communicator.hpp"
#include "cluster/mpi_session.hpp"
#include "pipeline/environment.hpp"

namespace {

class FailureCollector : public ::testing::EmptyTestEventListener {
 public:
  void OnTestPartResult(const ::testing::TestPartResult& r) override {
    if (r.failed()) {
      out_ << (r.file_name() ? r.file_name() : "?") << ":" << r.line_number() << ": " << r.summary() << "\n";
    }
  }
  [[nodiscard]] std::string text() const { return out_.str(); }

 private:
  std::ostringstream out_;
};

}  // namespace

int main(int argc, char** argv) {
  // As `lineage compare` starts MPI (pipeline/commands/compare.cpp).
  lineage::cluster::MpiSession session(argc, argv, lineage::pipeline::environment().mpi_pml);
  ::testing::InitGoogleTest(&argc, argv);
  auto world = lineage::cluster::Communicator::world();
  auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
  if (!world.is_root()) delete listeners.Release(listeners.default_result_printer());
  auto* collector = new FailureCollector;
  listeners.Append(collector);  // gtest owns it

  const int local = RUN_ALL_TESTS();
  const std::string failures = collector->text();
  const auto* p = reinterpret_cast<const std::byte*>(failures.data());
  const auto gathered = world.gather({p, failures.size()}, 0);
  if (world.is_root()) {
    for (std::size_t r = 1; r < gathered.size(); ++r) {
      if (gathered[r].empty()) continue;
      std::cerr << "---- failures on rank " << r << " ----\n"
                << std::string(reinterpret_cast<const char*>(gathered[r].data()), gathered[r].size());
    }
  }
  return world.any(local != 0) ? 1 : 0;
}
