#pragma once
// Cost factors: every constant of the network and collective cost model, as data with sources
// (DESIGN.md: "the model code has no magic numbers"). Loaded from a JSON file
// (sim/data/cost_factors.json is embedded as the default; `--calibration FILE` overrides).
//
// Transport model (NCCL-like). Each transport class has one or more protocols (NCCL's LL,
// LL128, Simple). A protocol p has a per-message overhead o_p and a bandwidth efficiency
// eta_p in (0, 1]. A message of s bytes on a path whose narrowest link has capacity C uses
// the protocol with the smallest isolated time o_p + s / (eta_p * C) (what NCCL's tuner does),
// pays o_p once, and puts s / eta_p bytes on the wire (it shares links by max-min on those).
//
// Collective structure: an all-to-all rank keeps at most `max_peers_in_flight` peer sends
// outstanding (NCCL's bounded P2P channels), in NCCL's p2p schedule order. A tree all-reduce
// pipelines each tree's share in chunks of `allreduce_tree_chunk_bytes` (NCCL's buffer step),
// at most `allreduce_tree_max_chunks` simulated chunks per tree and channel
// (sim/collectives/collectives.h).
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sim/link.h"
#include "sim/time.h"

namespace moesim {

struct ProtocolCost {
  std::string name;          // "LL", "LL128", "Simple", or any label
  Time overhead;             // per message, paid once before bytes flow
  double efficiency = 1.0;   // achievable fraction of the path's bottleneck capacity
};

struct TransportCost {
  std::vector<ProtocolCost> protocols;  // at least one
  /// The protocol minimizing overhead + bytes / (efficiency * capacity_Bps).
  const ProtocolCost& choose(double bytes, double capacity_Bps) const;
  /// The protocol named `name`, nullptr if none.
  const ProtocolCost* find(std::string_view name) const;
};

struct NetworkCost {
  Time completion_window;  // sim/network.h: 0 = exact
};

struct CollectiveCost {
  int alltoall_max_peers_in_flight = 0;  // 0 = unbounded (every peer at once)
  /// NCCL's PXN: a message to another node on a different rail first crosses NVLink to the
  /// local GPU on the destination's rail, then goes rail-aligned (sim/collectives/transfer.h).
  bool pxn = true;
  /// Tree all-reduce pipeline chunk: NCCL_BUFFSIZE / NCCL_STEPS (0 = one chunk per tree).
  double allreduce_tree_chunk_bytes = 0;
  /// Simulated chunks per tree and channel at most (0 = no cap); more real chunks are grouped
  /// into macro-chunks (Task::repeat). A bound on the task count, not an NCCL value.
  int allreduce_tree_max_chunks = 0;
  /// The NVLink protocol every NVLS message uses (sim/collectives/transfer.h, SwitchOp); ""
  /// = chosen per message like any other. Must name one of the NVLink transport's protocols.
  std::string nvls_protocol;
};

class CostFactors {
 public:
  /// No overheads, efficiency 1 on every transport, unbounded concurrency: a flow's time is
  /// path latency + bytes at its max-min rate exactly (`--ideal`). The tree all-reduce keeps
  /// the defaults' pipeline chunking: it is how NCCL moves the data, not a cost.
  static CostFactors ideal();
  /// The embedded defaults (sim/data/cost_factors.json).
  static CostFactors defaults();
  /// Loads a cost-factors / calibration JSON; missing transports keep the defaults' values.
  static CostFactors load_file(const std::string& path);
  static CostFactors load_text(std::string_view text, const std::string& label);

  const TransportCost& transport(Transport t) const { return transports_[static_cast<std::size_t>(t)]; }
  TransportCost& transport(Transport t) { return transports_[static_cast<std::size_t>(t)]; }
  const NetworkCost& network() const { return network_; }
  NetworkCost& network() { return network_; }
  const CollectiveCost& collective() const { return collective_; }
  CollectiveCost& collective() { return collective_; }
  /// Where these values came from (file name or "embedded defaults" / "ideal").
  const std::string& origin() const { return origin_; }

 private:
  std::array<TransportCost, kAllTransports.size()> transports_;
  CollectiveCost collective_;
  NetworkCost network_;
  std::string origin_;
};

}  // namespace moesim
