#pragma once
// Collectives as task sub-graphs (DESIGN.md: collectives decide *how* the bytes move).
//
//  - all-to-all(v), direct: NCCL's grouped send/recv. Each rank sends to its peers in
//    NCCL's p2p schedule order (node delta first, then local delta; round 0 is itself) and
//    keeps at most `max_peers_in_flight` sends outstanding (0 = all at once).
//  - all-to-all(v), hierarchical (Tutel 2DH / SMILE-style): phase 1 inside each node, GPU
//    (n,i) sends to (n,j) everything bound for local index j on any node; phase 2 among the
//    GPUs with the same local index, (n,j) sends to (m,j) what (m,j) needs. A GPU starts
//    phase 2 when all its phase-1 data has arrived.
//  - ring all-reduce (reduce-scatter + all-gather, 2(P-1) steps of S/P per ring) and ring
//    all-gather (P-1 steps), over `channels` rings (NCCL channels). With several nodes the
//    rings rotate the order inside each node so each ring leaves a node from a different
//    GPU and NIC.
//
// Every builder takes the ranks (group order = rank order), optional tasks each rank must
// wait for, and returns one marker per rank that finishes when that rank is done. An
// all-to-all rank is done when its sends have left and its receives have arrived (a grouped
// ncclSend/ncclRecv completes only then), so a GPU's experts wait for all their tokens.
#include <functional>
#include <span>
#include <string_view>
#include <vector>

#include "sim/collectives/task_graph.h"
#include "sim/cost_factors.h"
#include "topologies/topology.h"

namespace moesim {

enum class AllToAllAlgorithm { Direct, Hierarchical };
std::string_view to_string(AllToAllAlgorithm a);

struct CollectiveHandles {
  std::vector<TaskId> done;  // per rank
};

/// bytes(i, j) = bytes rank i sends to rank j (group indices).
using ByteMatrixFn = std::function<double(int src_rank, int dst_rank)>;

CollectiveHandles append_alltoallv(TaskGraph& graph, const Topology& topo, std::span<const GpuId> ranks,
                                   const ByteMatrixFn& bytes, AllToAllAlgorithm algorithm, int max_peers_in_flight,
                                   std::span<const TaskId> start_after = {}, std::uint8_t category = 0);

/// `bytes` = each rank's buffer (nccl-tests all_reduce size). `max_steps` > 0 simulates a
/// ring of s > max_steps steps as ceil(s / ceil(s / max_steps)) macro-steps, each moving the
/// bytes of several steps and paying their overheads and latencies (Task::repeat): same bytes
/// per link and same per-message costs, far fewer tasks for large groups.
CollectiveHandles append_allreduce_ring(TaskGraph& graph, const Topology& topo, std::span<const GpuId> ranks, double bytes,
                                        int channels, std::span<const TaskId> start_after = {}, std::uint8_t category = 0,
                                        int max_steps = 0);

/// `total_bytes` = the gathered output (nccl-tests all_gather size); each rank owns total/P.
CollectiveHandles append_allgather_ring(TaskGraph& graph, const Topology& topo, std::span<const GpuId> ranks,
                                        double total_bytes, int channels, std::span<const TaskId> start_after = {},
                                        std::uint8_t category = 0);

/// NCCL's peer order for `rank` in a group laid out as nodes x local ranks (group indices).
std::vector<int> p2p_schedule(const Topology& topo, std::span<const GpuId> ranks, int rank);

/// Rings used for a group: `channels` orders of the group's ranks.
std::vector<std::vector<int>> ring_orders(const Topology& topo, std::span<const GpuId> ranks, int channels);
/// Default ring count: NICs per node when the group spans nodes, else 1.
int default_ring_channels(const Topology& topo, std::span<const GpuId> ranks);

// ---- nccl-tests style measurement of one collective on every GPU of a cluster ----------

enum class CollectiveOp { AllToAll, AllReduce, AllGather };
std::string_view to_string(CollectiveOp op);

struct CollectiveResult {
  double bytes = 0;       // nccl-tests "size": per-rank buffer (alltoall, allreduce) or output (allgather)
  Time time;              // from start to the last rank's completion
  double algbw_GBps = 0;  // bytes / time / 1e9
  double busbw_GBps = 0;  // algbw x (n-1)/n (alltoall, allgather) or 2(n-1)/n (allreduce)
  std::size_t flows = 0;  // transfers simulated
};

struct CollectiveOptions {
  AllToAllAlgorithm algorithm = AllToAllAlgorithm::Direct;
  int ring_channels = 0;  // 0 = default_ring_channels
};

CollectiveResult simulate_collective(const Topology& topo, const CostFactors& costs, CollectiveOp op, double bytes,
                                     const CollectiveOptions& options = {});

/// busbw factor of nccl-tests for `op` on n ranks.
double busbw_factor(CollectiveOp op, int n);

}  // namespace moesim
