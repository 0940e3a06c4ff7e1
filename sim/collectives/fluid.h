#pragma once
// The fluid (bottleneck) model of a collective: how long it takes without simulating flows.
// `moesim run --fidelity fluid` uses it to simulate huge clusters and sweeps fast; the flow
// model (sim/network.h) stays the reference, and docs/PERFORMANCE.md reports the gap.
//
// All-to-all(v). Each message f (PXN path, protocol and overhead exactly as
// TransferService::send would choose) puts w_f = bytes_f / eta_f on every link of its path.
// All messages of the phase are taken to start together and to share every link by
// processor sharing, whose completion time on one link of capacity C is exact:
//     T_l(f) = sum over messages g on link l of min(w_g, w_f) / C
// (a message finishes once every smaller one has, and the larger ones have moved as much as
// it). A message's bandwidth time is its worst link, max_l T_l(f); it finishes at
//     o_f + max_l T_l(f) + latency_f.
// A rank keeps at most W messages in flight (cost factors), so its per-message overheads
// cost at least sum_f o_f / W in series. A rank is done when its sends have left and its
// receives have arrived: finish_r = max(max over f from or to r of the above,
// max(max_f o_f, sum_f o_f / W) + max_f latency_f).
// For a uniform all-to-all this is the busiest link's bytes over its capacity plus one
// overhead and latency: the flow model's result to within its protocol rounding.
//
// Ring all-reduce (several groups at once, e.g. the expert replicas' groups). Every ring step
// moves chunk = bytes / (P * channels) over every ring edge at once; a link carries the
// wire bytes of every edge that crosses it in that step, so a step of group q takes
//     max over q's edges e of (o_e + sum_{edges on e's worst link} w / C + latency_e)
// and the all-reduce 2 (P - 1) steps (the ring all-gather of the gathered size, P - 1).
//
// Tree all-reduce (NCCL's double binary tree, sim/collectives/collectives.h). Each tree edge e
// (up and down for every non-root rank of every tree) moves the tree's share D = bytes /
// (2 channels) in K chunks (TreePipeline::chunks, as append_allreduce_tree cuts it) and puts
// D / eta_e on each link of its path. Chunk k on e waits for chunk k on the edges feeding it
// and for chunk k-1 on e. Stage s of the pipeline is the edges whose first chunk can move s-th
// (a leaf's up edge 0, a parent's one after its children's, the root's down edges one after
// the last up edge, then one per level down). One chunk on e takes
//     fill_e   = o_e + latency_e + (chunk wire bytes of e's stage on e's worst link) / C
// while the pipeline fills (only the edges of one stage run together), and
//     steady_e = o_e + latency_e + (chunk wire bytes of all edges on e's worst link) / C
// once it is full (a full pipeline moves every stage in step, so all of a link's edges send,
// and wait out their overheads, at the same times). The finish is the longest path of the
// chunk grid with those times:
//     max over leaf -> root -> leaf paths p and edges e* on p of
//         sum_{e in p} fill_e + (K - 1) steady_{e*}
// found in O(edges) per tree. For large messages this is the busiest link's bytes over its
// capacity plus K overheads and latencies and the fill; for one chunk it is the depth x
// (overhead + latency + chunk time). Against the flow model (tests/sim/fluid_test.cpp): exact
// for one chunk and on one node; within 1% for large messages across 2 nodes of the issue
// cluster with ideal costs; with default costs within 12% for 1-64 MiB on 1-8 nodes (the flow
// model overlaps fill stages that the stage sums keep apart) and 2% from 1 GiB.
//
// NVLS all-reduce (one NVLink SHARP node, sim/collectives/collectives.h). Rank j's Reduce and
// Multicast messages (SwitchOp) each move one shard s = bytes / (K P) per chunk, K chunks
// (TreePipeline::chunks of the whole buffer). As for the tree, with stage 0 the Reduces and
// stage 1 the Multicasts:
//     fill_m   = o_m + latency_m + (stage's chunk wire bytes on m's worst link) / C
//     steady_m = o_m + latency_m + (all chunk wire bytes on m's worst link) / C
//     finish   = max over j of fill_Reduce(j) + fill_Multicast(j) + (K - 1) max(steady_Reduce(j), steady_Multicast(j))
// With ideal costs on P GPUs of link capacity C and chunk c = bytes / K this is
// 2 (P-1)/P c / C + (K - 1) c / C, the flow model's time exactly (tests/sim/fluid_test.cpp).
//
// Auto (fluid_allreduce) prices ring, tree and, where every group can run it, NVLS, and keeps
// the fastest.
//
// Heterogeneous all-to-alls (fluid_alltoall). The formula above takes every message of a
// rank to be in flight at once. NCCL keeps only W peers in flight (a rank's k-th send waits
// for its (k-W)-th), in the p2p schedule's order (destination node by destination node). On
// a homogeneous group that costs nothing: with W unlimited the flow model gives the formula's
// time to the printed digit, and with W = 16 the same on a uniform all-to-all of 16 x p4d.
// Across node kinds of different network bandwidth per GPU it does: the fast nodes reach
// the slow nodes' NICs together, which queue them, while later the same NICs idle, because
// the senders' windows are stuck two destination nodes wide behind congested ones
// (docs/PERFORMANCE.md: on 8 x p4d + 8 x p3dn a uniform 64 MiB all-to-all takes 57.8 ms
// with W unlimited and 121.1 / 107.7 / 80.8 / 69.5 ms with W = 8 / 16 / 32 / 64).
// The formula has no such idle gaps, so fluid_alltoall replays such an all-to-all (a message
// between node kinds, some rank sending more than W messages) by the flow model on an idle
// network of its own (exact in isolation), up to kMaxWindowReplayMessages messages; a larger
// one gets the formula, and says so. A replay costs what the flow model does, so fluid keeps
// its speed only where the formula serves.
//
// What the fluid model leaves out, by construction: contention between collectives that
// overlap in time (e.g. the gradient all-reduce and a backward all-to-all share NICs in the
// flow model; here each sees an idle network), the window on a homogeneous group (nothing on
// a uniform all-to-all, but a skewed one's last rank by up to +28% and its mean rank's finish
// by -34% to +20%: docs/PERFORMANCE.md), and for the all-reduces the skew between ranks entering (the
// training step starts one when its last rank is ready; an all-to-all's messages leave when
// their sender enters, fluid_alltoallv's `start`, but are priced as if they ran together).
// Cost: O(M log M) for M messages, no events.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "sim/collectives/collectives.h"
#include "sim/collectives/transfer.h"
#include "sim/time.h"

namespace moesim {

struct FluidTransfer {
  int src = 0;  // group rank
  int dst = 0;  // group rank
  double bytes = 0;
};

struct FluidResult {
  std::vector<Time> finish;  // per rank (all-to-all) or per group (all-reduces), from the start
  std::vector<std::pair<LinkId, double>> link_wire_bytes;  // wire bytes per link used, by link id
  std::size_t messages = 0;
  /// The latest finish: the whole collective's time (zero when nothing ran).
  Time last() const {
    Time t = Time::zero();
    for (Time f : finish) t = std::max(t, f);
    return t;
  }
};

/// The formula's time of each message of an all-to-all(v) from its sender's entry (above):
/// what does not depend on when the ranks enter, so a phase repeated with other entry times
/// is priced again in O(messages).
struct FluidAllToAllTimes {
  int ranks = 0;
  std::vector<std::uint32_t> src, dst;  // group ranks, per message that crosses a link
  std::vector<double> seconds;          // its overhead + bandwidth time + latency + window rounds
  std::vector<std::pair<LinkId, double>> link_wire_bytes;
  /// Rank r's finish when it enters at start[r] (one per rank, or empty for all zero): the
  /// latest of start[r] and start[src] + seconds over the messages it sends or receives.
  FluidResult finish(std::span<const Time> start = {}) const;
};
FluidAllToAllTimes fluid_alltoallv_times(const TransferService& transfers, std::span<const GpuId> ranks,
                                         std::span<const FluidTransfer> messages, int max_peers_in_flight);

/// A direct all-to-all(v) of `transfers` among `ranks` on an idle network. `start` (one per
/// rank, or empty for all zero): when each rank enters, from the first; its messages leave
/// then (as the flow model sends them when their sender is ready, whatever the receiver is
/// doing), so message f ends at start[src] plus the time above, and rank r is done no
/// earlier than start[r]. Contention is still priced as if every message ran together.
/// fluid_alltoallv_times(...).finish(start).
FluidResult fluid_alltoallv(const TransferService& transfers, std::span<const GpuId> ranks,
                            std::span<const FluidTransfer> messages, int max_peers_in_flight,
                            std::span<const Time> start = {});

/// Whether some message (of more than 0 bytes) goes between nodes of different kinds
/// (NodeInfo::kind), where the all-to-all's window matters (above). Messages that all stay
/// among nodes of one kind (expert-parallel groups inside each kind) do not. O(messages).
bool alltoall_window_matters(const Topology& topo, std::span<const GpuId> ranks, std::span<const FluidTransfer> messages);

/// Heterogeneous all-to-alls of up to this many messages (one group of 1,024 GPUs) are
/// replayed (fluid_alltoall). The replays of a training step cost about what its flow replay
/// does: on mixed A100/V100 clusters fluid took 0.47 / 1.04 / 1.60 / 2.88 s against flow's
/// 0.66 / 1.12 / 1.58 / 2.84 s at 16k / 26k / 37k / 65k messages per all-to-all
/// (docs/PERFORMANCE.md), about 1-2 us a message; the bound keeps one replay to seconds.
inline constexpr std::size_t kMaxWindowReplayMessages = std::size_t{1} << 20;

/// The all-to-all(v) of `messages` (zero sizes skipped; a pair's messages summed) replayed by the
/// flow model on a fresh idle network with `like`'s topology and cost factors, each rank's
/// sends in the p2p schedule's order with at most `max_peers_in_flight` in flight
/// (append_alltoallv). finish[r]: when rank r's sends have left and its receives arrived;
/// link_wire_bytes as the network counted them; messages: the transfers replayed. `start` as
/// for fluid_alltoallv: rank r's sends wait start[r].
FluidResult replay_alltoallv(const TransferService& like, std::span<const GpuId> ranks,
                             std::span<const FluidTransfer> messages, int max_peers_in_flight,
                             std::span<const Time> start = {});

/// How fluid_alltoall prices an all-to-all: by the formula; by a replay, where the window
/// matters (alltoall_window_matters: a message crosses node kinds) and binds (a rank sends
/// more than `max_peers_in_flight` messages, self-copies included, as they hold a slot); or
/// by the formula although the window matters, because there are more than
/// `max_replay_messages` messages.
enum class FluidAllToAllPricing : std::uint8_t { Formula, Replay, FormulaWindowIgnored };
FluidAllToAllPricing fluid_alltoall_pricing(const Topology& topo, std::span<const GpuId> ranks,
                                            std::span<const FluidTransfer> messages, int max_peers_in_flight,
                                            std::size_t max_replay_messages = kMaxWindowReplayMessages);

struct FluidAllToAll {
  FluidResult result;
  bool replayed = false;        // priced by replay_alltoallv
  bool window_ignored = false;  // the window matters but the all-to-all was too large to replay
};

/// The fluid model's all-to-all(v): replay_alltoallv or fluid_alltoallv, as
/// fluid_alltoall_pricing says (window_ignored: FormulaWindowIgnored).
FluidAllToAll fluid_alltoall(const TransferService& transfers, std::span<const GpuId> ranks,
                             std::span<const FluidTransfer> messages, int max_peers_in_flight,
                             std::span<const Time> start = {},
                             std::size_t max_replay_messages = kMaxWindowReplayMessages);

/// Ring all-reduces of `bytes` per rank in each of `groups`, all starting together, each over
/// ring_orders(topo, group, channels[q]) rings. finish[q] is group q's time.
FluidResult fluid_allreduce_rings(const TransferService& transfers, std::span<const std::vector<GpuId>> groups,
                                  double bytes, std::span<const int> channels);

/// Ring all-gathers of `total_bytes` (the gathered output) in each of `groups`, all starting
/// together: as the ring all-reduce, with P - 1 steps instead of 2 (P - 1).
FluidResult fluid_allgather_rings(const TransferService& transfers, std::span<const std::vector<GpuId>> groups,
                                  double total_bytes, std::span<const int> channels);

/// Tree all-reduces of `bytes` per rank in each of `groups`, all starting together, each over
/// tree_parents(topo, group, channels[q]) with the cost factors' tree pipeline. finish[q] is
/// group q's time.
FluidResult fluid_allreduce_trees(const TransferService& transfers, std::span<const std::vector<GpuId>> groups,
                                  double bytes, std::span<const int> channels);

/// NVLS all-reduces of `bytes` per rank in each of `groups` (each on one NVLS node), all
/// starting together. finish[q] is group q's time.
FluidResult fluid_allreduce_nvls(const TransferService& transfers, std::span<const std::vector<GpuId>> groups,
                                 double bytes);

struct FluidAllReduce {
  AllReduceAlgorithm algorithm = AllReduceAlgorithm::Ring;  // the one priced: Ring, Tree or Nvls
  FluidResult result;
};

/// The all-reduces of `groups` by `algorithm`. Auto prices ring, tree and (when every group
/// can run it, nvls_unsupported_reason) NVLS, and keeps the one whose last group finishes
/// first (on a tie the first of ring, tree, NVLS). NCCL's tuner likewise picks ring or tree from a cost
/// model of each algorithm (src/graph/tuning.cc), not by measuring; moesim's model is this one.
FluidAllReduce fluid_allreduce(const TransferService& transfers, std::span<const std::vector<GpuId>> groups,
                               double bytes, std::span<const int> channels, AllReduceAlgorithm algorithm);

}  // namespace moesim
