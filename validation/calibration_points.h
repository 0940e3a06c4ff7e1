#pragma once
// Turns measurements (validation/measurements.h) into the points the fits take
// (validation/fit.h). Which bottleneck capacity C a collective crossed depends on the topology,
// so the caller (`moesim calibrate`) supplies it; everything else is read from the measurements.
//
// Filters drop what a fit cannot use: zero-byte rows (nccl-tests' size-0 lines), zero times,
// in-place rows unless asked for, and rows of other rank / node counts.
#include <optional>
#include <string_view>
#include <vector>

#include "validation/fit.h"
#include "validation/measurements.h"

namespace moesim::validation {

struct CollectiveFilter {
  CollectiveOp op = CollectiveOp::SendRecv;
  std::optional<int> ranks;      // only this communicator size
  std::optional<int> nodes;      // only this node count (rows with unknown nodes are dropped)
  bool include_in_place = false;
};

/// One point per matching collective row: {bytes, time_us * 1e-6, capacity_Bps}. For send/recv
/// `bytes` is the message each rank sends to its one peer, the transport model's message size.
std::vector<TransportPoint> transport_points(const MeasurementSet& set, const CollectiveFilter& filter,
                                             double capacity_Bps);

/// All-to-all rows as {bytes each rank sends in total, rounds = ranks - 1 (NCCL's p2p schedule:
/// one round per peer), time, capacity_Bps}; rows with ranks == 1 are dropped (no peers).
std::vector<AllToAllPoint> alltoall_points(const MeasurementSet& set, std::optional<int> nodes, double capacity_Bps);

/// Every GEMM measurement as {m, n, k, dtype, time_us * 1e-6}.
std::vector<GemmPoint> gemm_points(const MeasurementSet& set);

/// Measurements of one kernel (e.g. "hbm_copy", "permute") as {bytes, time_us * 1e-6}.
std::vector<KernelPoint> kernel_points(const MeasurementSet& set, std::string_view name);

}  // namespace moesim::validation
