#pragma once
// Puts measured collectives (validation/measurements.h) on a cluster description and runs them
// through the simulator: what `moesim calibrate` needs to know about the path a measurement
// crossed, and what `moesim validate` predicts for it.
//
// Placement. A row of `ranks` ranks on `nodes` nodes (the row's own node count when the log
// knew it, else the caller's default, else ceil(ranks / GPUs per node)) runs on the first
// ranks/nodes GPUs of each of the first `nodes` nodes, node-major, as `srun`/`mpirun -N`
// number ranks. The cluster is loaded with that node count when it is a preset or a one-group
// file; a cluster with fixed node groups is used as it is when it has enough nodes. A shape
// that does not fit (ranks not a multiple of nodes, more ranks per node than GPUs, more nodes
// than the cluster can have) gets a reason instead of a placement.
//
// Simulated patterns (one nccl-tests iteration, `bytes` = nccl-tests "size"):
//   alltoall       grouped send/recv of bytes/ranks to every rank, NCCL's p2p order, at most
//                  cost factors' alltoall_max_peers_in_flight peers at once (simulate_collective)
//   sendrecv       every rank sends `bytes` to rank+1 (mod ranks) at once (nccl-tests' ring)
//   allreduce      ring, tree or NVLS all-reduce over default_ring_channels channels, the fastest
//                  by the fluid model (AllReduceAlgorithm::Auto, as simulate_collective)
//   allgather      ring all-gather of `bytes` in total
//   reducescatter  the ring all-gather's traffic (same steps and bytes, reversed; the
//                  reduction's arithmetic is not modelled)
//   broadcast, reduce: no model (nullopt).
//
// Cost: one simulation per call; a 16-rank all-to-all is a few hundred flows.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sim/cost_factors.h"
#include "sim/ids.h"
#include "sim/link.h"
#include "sim/time.h"
#include "topologies/catalog.h"
#include "topologies/topology.h"
#include "validation/measurements.h"

namespace moesim::validation {

struct Placement {
  const Topology* topology = nullptr;  // owned by the MeasuredCluster
  std::vector<GpuId> ranks;            // rank r -> GPU
  int nodes = 0;
};

struct PlacementResult {
  std::optional<Placement> placement;
  std::string why_not;  // when placement is empty
};

/// How a send/recv or all-to-all pattern maps onto the transport model
/// t = overhead + message / (efficiency * C) (sim/cost_factors.h), read off an ideal run of
/// the pattern (no overheads, efficiency 1, the given concurrency and PXN settings): the
/// message that finishes last crossed `transport`; C is the rate max-min gives it; `latency`
/// is the ideal time's intercept (path latencies, paid on top of the overhead).
struct PatternPath {
  Transport transport = Transport::NVLink;
  double capacity_Bps = 0;      // C of one message of the pattern
  Time latency;                 // intercept of the ideal time
  double message_fraction = 1;  // message bytes = fraction x nccl-tests size (all-to-all: 1/ranks)
  int waves = 1;                // messages a rank sends one after another (all-to-all beyond the peers in flight)
};

class MeasuredCluster {
 public:
  /// Loads `cluster` (preset name or file) once with `default_nodes` (nullopt: the cluster's
  /// own count) to report a bad name or file at once; `default_nodes` is also the node count
  /// of rows that do not know theirs.
  MeasuredCluster(std::string cluster, std::optional<int> default_nodes);
  MeasuredCluster(const MeasuredCluster&) = delete;
  MeasuredCluster& operator=(const MeasuredCluster&) = delete;

  const std::string& name() const { return cluster_; }
  const Topology& base() const { return *base_; }
  const Catalog& catalog() const { return catalog_; }
  int gpus_per_node() const;
  /// The node count a row of `ranks` with `nodes` (nullopt = unknown) is placed on.
  int nodes_for(int ranks, std::optional<int> nodes) const;
  PlacementResult place(int ranks, std::optional<int> nodes);
  PlacementResult place(const CollectiveMeasurement& c) { return place(c.ranks, c.nodes); }

 private:
  const Topology* topology_with(int nodes, std::string& why_not);
  std::string cluster_;
  std::optional<int> default_nodes_;
  Catalog catalog_;
  std::unique_ptr<Topology> base_;
  std::map<int, std::unique_ptr<Topology>> by_nodes_;
};

/// Simulated time of one iteration of `op` (see the header comment); nullopt for ops without a
/// model. `bytes` > 0; placement.ranks.size() >= 1.
std::optional<Time> simulate_measured_collective(const Placement& placement, const CostFactors& costs, CollectiveOp op,
                                                 double bytes);

/// The transport model's view of a send/recv or all-to-all pattern (op must be one of them,
/// ranks >= 2). `base` supplies the concurrency and PXN settings.
PatternPath pattern_path(const Placement& placement, const CostFactors& base, CollectiveOp op);

}  // namespace moesim::validation
