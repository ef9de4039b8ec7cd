#pragma once
/// @file mpi_tags.hpp
/// The tags of lineage's point-to-point messages on a run's communicator, in one place so that no
/// two kinds of message share one: a receive matches by source and tag.

namespace lineage::cluster::detail {

/// A rank's progress to rank 0 (progress_reporter.cpp: probed from any source with this tag).
inline constexpr int kProgressTag = 7301;
/// A rank's share of a gather to the root (Communicator::gather).
inline constexpr int kShareTag = 7302;

}  // namespace lineage::cluster::detail
