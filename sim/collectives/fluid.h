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
// and the all-reduce 2 (P - 1) steps.
//
// What the fluid model leaves out, by construction: contention between collectives that
// overlap in time (e.g. the gradient all-reduce and a backward all-to-all share NICs in the
// flow model; here each sees an idle network), the order of messages inside a rank's window,
// and skew between ranks entering a phase (the training step starts a fluid phase when its
// last rank is ready). Cost: O(M log M) for M messages, no events.
#include <span>
#include <utility>
#include <vector>

#include "sim/collectives/transfer.h"
#include "sim/time.h"

namespace moesim {

struct FluidTransfer {
  int src = 0;  // group rank
  int dst = 0;  // group rank
  double bytes = 0;
};

struct FluidResult {
  std::vector<Time> finish;  // per rank (all-to-all) or per group (rings), from the start
  std::vector<std::pair<LinkId, double>> link_wire_bytes;  // wire bytes per link used, by link id
  std::size_t messages = 0;
};

/// A direct all-to-all(v) of `transfers` among `ranks` on an idle network.
FluidResult fluid_alltoallv(const TransferService& transfers, std::span<const GpuId> ranks,
                            std::span<const FluidTransfer> messages, int max_peers_in_flight);

/// Ring all-reduces of `bytes` per rank in each of `groups`, all starting together, each over
/// ring_orders(topo, group, channels[q]) rings. finish[q] is group q's time.
FluidResult fluid_allreduce_rings(const TransferService& transfers, std::span<const std::vector<GpuId>> groups,
                                  double bytes, std::span<const int> channels);

}  // namespace moesim
