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
//  - tree all-reduce: NCCL's double binary tree (`ncclGetDtree`, src/graph/trees.cc). Each
//    channel c has two trees that carry half of the channel's data each. Inside a node the
//    tree is a chain through the node's ranks, rotated per channel like the rings (channel c
//    starts at local c*G/channels, so each channel's head GPU uses a different NIC); across
//    nodes the chains' heads form a binary tree over the node slots (tree 0: NCCL's btree,
//    tree 1: its mirror for an even node count, so a node interior in one is a leaf in the
//    other, or its shift by one for an odd one). Reduce goes up (chain, then tree) to the root
//    (the head of the root node), broadcast comes back down. The data of each tree is
//    pipelined in chunks (cost factors' allreduce_tree_chunk_bytes): chunk k on an edge waits
//    for chunk k on the edges feeding it and for chunk k-1 on the same edge. Large messages
//    reach the busiest link's bound; small ones pay depth x (overhead + latency). With one
//    node both trees are the node's chain. Across 2 nodes each node sends its buffer over the
//    network once (the ring: 2(P-1)/P times); beyond 2, an interior node sends it twice.
//
// Every builder takes the ranks (group order = rank order), optional tasks each rank must
// wait for, and returns one marker per rank that finishes when that rank is done. An
// all-to-all rank is done when its sends have left and its receives have arrived (a grouped
// ncclSend/ncclRecv completes only then), so a GPU's experts wait for all their tokens.
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sim/collectives/task_graph.h"
#include "sim/cost_factors.h"
#include "topologies/topology.h"

namespace moesim {

enum class AllToAllAlgorithm { Direct, Hierarchical };
std::string_view to_string(AllToAllAlgorithm a);

/// Auto: the fastest of ring, tree and (where nvls_unsupported_reason is empty) NVLS by the
/// fluid model (sim/collectives/fluid.h, fluid_allreduce), as NCCL's tuner picks its
/// algorithm from a cost model.
enum class AllReduceAlgorithm { Ring, Tree, Nvls, Auto };
std::string_view to_string(AllReduceAlgorithm a);
/// "ring", "tree", "nvls" or "auto"; nullopt otherwise.
std::optional<AllReduceAlgorithm> allreduce_algorithm_from_string(std::string_view s);

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

/// How a tree all-reduce pipelines its data: each tree's share is cut into
/// ceil(share / chunk_bytes) chunks (0 = one chunk), at most `max_chunks` (0 = no cap); beyond
/// that the chunks grow. Each chunk pays one per-message overhead and latency per edge, so a
/// capped count also stands for NCCL overlapping the per-step costs of its buffer slots.
struct TreePipeline {
  double chunk_bytes = 0;
  int max_chunks = 0;
  /// The cost factors' allreduce_tree_chunk_bytes and allreduce_tree_max_chunks.
  static TreePipeline from(const CollectiveCost& c);
  /// Chunks for one tree's share of `tree_bytes`: >= 1.
  int chunks(double tree_bytes) const;
};

/// `bytes` = each rank's buffer. Tasks: 2 x channels trees x 2 (P - 1) edges x the simulated
/// chunks (at most pipeline.max_chunks) transfers, so the count grows linearly with P.
CollectiveHandles append_allreduce_tree(TaskGraph& graph, const Topology& topo, std::span<const GpuId> ranks,
                                        double bytes, int channels, const TreePipeline& pipeline,
                                        std::span<const TaskId> start_after = {}, std::uint8_t category = 0);

/// Why the NVLS all-reduce cannot run on `ranks` ("" when it can): they must all be on one
/// node whose NVSwitch supports NVLink SHARP (NodeInfo::nvls).
std::string nvls_unsupported_reason(const Topology& topo, std::span<const GpuId> ranks);
/// Throws InputError naming the cluster and nvls_unsupported_reason when `ranks` cannot run NVLS.
void require_nvls(const Topology& topo, std::span<const GpuId> ranks);

/// `bytes` = each rank's buffer. Throws InputError (with nvls_unsupported_reason) when the
/// group cannot run NVLS. Tasks: 2 x P x the simulated chunks NVLS transfers.
CollectiveHandles append_allreduce_nvls(TaskGraph& graph, const Topology& topo, std::span<const GpuId> ranks,
                                        double bytes, const TreePipeline& pipeline,
                                        std::span<const TaskId> start_after = {}, std::uint8_t category = 0);

/// The all-reduce by `algorithm` (Ring, Tree or Nvls; not Auto): append_allreduce_ring
/// (with `max_steps`), _tree or _nvls.
CollectiveHandles append_allreduce(TaskGraph& graph, const Topology& topo, std::span<const GpuId> ranks, double bytes,
                                   AllReduceAlgorithm algorithm, int channels, const TreePipeline& pipeline,
                                   std::span<const TaskId> start_after = {}, std::uint8_t category = 0,
                                   int max_steps = 0);

/// The parent of every node slot 0..nodes-1 in tree `tree` (0 or 1) of NCCL's double binary
/// tree (ncclGetDtree); -1 for the root.
std::vector<int> dtree_node_parents(int nodes, int tree);

/// Trees used for a group: 2 x `channels` (channel c's trees at 2c and 2c+1), each the parent
/// of every rank (group index), -1 for the root.
std::vector<std::vector<int>> tree_parents(const Topology& topo, std::span<const GpuId> ranks, int channels);

/// `total_bytes` = the gathered output (nccl-tests all_gather size); each rank owns total/P.
CollectiveHandles append_allgather_ring(TaskGraph& graph, const Topology& topo, std::span<const GpuId> ranks,
                                        double total_bytes, int channels, std::span<const TaskId> start_after = {},
                                        std::uint8_t category = 0);

/// NCCL's peer order for `rank` in a group laid out as nodes x local ranks (group indices).
std::vector<int> p2p_schedule(const Topology& topo, std::span<const GpuId> ranks, int rank);

/// Rings used for a group: `channels` orders of the group's ranks.
std::vector<std::vector<int>> ring_orders(const Topology& topo, std::span<const GpuId> ranks, int channels);
/// Default ring count (and tree channel count): NICs per node when the group spans nodes, else 1.
int default_ring_channels(const Topology& topo, std::span<const GpuId> ranks);

// ---- nccl-tests style measurement of one collective on every GPU of a cluster ----------

enum class CollectiveOp { AllToAll, AllReduce, AllGather };
std::string_view to_string(CollectiveOp op);

struct CollectiveResult {
  double bytes = 0;       // nccl-tests "size": per-rank buffer (alltoall, allreduce) or output (allgather)
  Time time;              // from start to the last rank's completion
  double algbw_GBps = 0;  // bytes / time / 1e9
  double busbw_GBps = 0;  // algbw x (n-1)/n (alltoall, allgather) or 2(n-1)/n (allreduce)
  std::size_t flows = 0;  // transfers simulated (fluid: only those of an all-to-all it replays, fluid_alltoall)
  /// Fluid all-to-all across node kinds too large to replay: priced by the formula, which
  /// leaves out the window (sim/collectives/fluid.h) and so runs fast there.
  bool fluid_window_ignored = false;
  /// All-reduce: the algorithm that ran (Ring, Tree or Nvls; what Auto chose).
  AllReduceAlgorithm allreduce_algorithm = AllReduceAlgorithm::Ring;
};

struct CollectiveOptions {
  AllToAllAlgorithm algorithm = AllToAllAlgorithm::Direct;
  int ring_channels = 0;  // rings, or tree channels; 0 = default_ring_channels
  AllReduceAlgorithm allreduce_algorithm = AllReduceAlgorithm::Auto;
  /// Price the collective with the fluid (bottleneck) model of sim/collectives/fluid.h instead
  /// of replaying its flows: every op and algorithm; the hierarchical all-to-all as its two
  /// phases one after the other (each started when the last rank is ready).
  bool fluid = false;
  /// Flow replays: called with the number of transfers once the task graph is built, before
  /// the replay (a caller can warn about a long one).
  std::function<void(std::size_t transfers)> on_replay_size;
};

CollectiveResult simulate_collective(const Topology& topo, const CostFactors& costs, CollectiveOp op, double bytes,
                                     const CollectiveOptions& options = {});

/// busbw factor of nccl-tests for `op` on n ranks.
double busbw_factor(CollectiveOp op, int n);

}  // namespace moesim
