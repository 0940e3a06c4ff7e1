#pragma once
// GPU-to-GPU messages on a Topology: path, transport class, protocol choice, overhead,
// efficiency cap and path latency, handed to the flow-level Network.
//
// time(message of s bytes, alone) = overhead_p + s / (eta_p * C_path) + latency(path)
// where p is the protocol with the smallest isolated time (sim/cost_factors.h) and C_path
// the narrowest link's capacity. The message occupies s / eta_p bytes of every link on its
// path (sim/network.h), so under contention a link delivers eta_p of its capacity in total.
// A message to oneself is a local copy and takes no time in this model.
//
// PXN (cost factors `collective.pxn`, NCCL >= 2.12 default): a message to a GPU on another
// node whose NIC is on a different rail than the sender's first crosses NVLink to the
// sender node's GPU on the destination's rail (the one with the destination's local index
// if it is on that rail, else the lowest such index), then goes rail-aligned from there.
// Only when that first hop is NVLink; otherwise the plain path is used.
#include <functional>
#include <span>
#include <vector>

#include "sim/block_rows.h"
#include "sim/cost_factors.h"
#include "sim/network.h"
#include "topologies/topology.h"

namespace moesim {

/// A message through an NVSwitch with NVLink SHARP (NVLS), among `peers` (GPUs of one node,
/// `gpu` one of them). It is one flow whose links all carry its bytes at one rate:
///  - Reduce (multimem ld_reduce of `gpu`'s shard): each other peer's GPU->NVSwitch link and
///    the NVSwitch->`gpu` link; the switch adds the P - 1 contributions, so `gpu` receives
///    the bytes once.
///  - Multicast (multimem st): `gpu`'s GPU->NVSwitch link and the NVSwitch->GPU link of each
///    other peer; the switch replicates, so the sender's link carries the bytes once.
/// `gpu`'s own contribution / copy stays in its memory (no link), like a ring's local shard.
/// Latency: GPU->NVSwitch plus NVSwitch->GPU (one GPU-GPU hop); one NVLink per-message overhead.
enum class SwitchOp : std::uint8_t { None, Reduce, Multicast };

struct TransferOptions {
  /// Keep each (src, dst) route after its first use (about 60 bytes a pair, plus 4 bytes per
  /// GPU for each GPU that sends). Pays when the same pairs send again and again (a training
  /// step's all-to-alls); a one-shot collective over many pairs is faster without
  /// (docs/PERFORMANCE.md: 1,024-GPU all-to-all).
  bool cache_routes = false;
  /// At construction, walk every GPU pair's route once (PXN included) and declare to the
  /// network each link that every route through it also crosses a narrower link on
  /// (Network::declare_dominated): a GPU's PCIe links behind its NIC. Its flows then cost
  /// the solver nothing there. O(GPUs^2 x path length) once; for a step's many messages.
  /// (Or call declare_dominated_links() later, before the first send.)
  bool declare_dominated_links = false;
};

class TransferService {
 public:
  using Options = TransferOptions;
  /// All references must outlive the service.
  TransferService(Engine& engine, Network& network, const Topology& topology, const CostFactors& costs,
                  Options options = {});
  TransferService(Engine&, Network&, const Topology&, CostFactors&&, Options = {}) = delete;  // would dangle
  TransferService(Engine&, Network&, Topology&&, const CostFactors&, Options = {}) = delete;

  /// `repeat` > 1: the transfer stands for `repeat` back-to-back messages of bytes/repeat each
  /// (macro-steps of a long ring): the protocol is chosen for one message, and the overhead
  /// and path latency are paid `repeat` times while the bytes share links once.
  void send(GpuId src, GpuId dst, double bytes, std::function<void()> on_delivered, int repeat = 1);

  /// What the declare_dominated_links option does at construction, done now: before the
  /// first send (InvariantError otherwise). The training step calls it once the task graph is
  /// built, so that a run too large to replay fails, or says how long it is, before this
  /// O(GPUs^2) walk (hours on 100,000 nodes) rather than after it.
  void declare_dominated_links();

  /// The isolated (uncontended) time of one message; what `send` takes on an idle network.
  Time isolated_time(GpuId src, GpuId dst, double bytes) const;

  /// What `send(src, dst, bytes, ..., repeat)` would charge, without sending: the links it
  /// crosses (written to `path`; PXN included), the narrowest capacity, the path latency, and
  /// the chosen protocol's per-message overhead and efficiency (for sim/collectives/fluid.h).
  struct MessageCost {
    double capacity_Bps = 0;
    Time latency;
    Time overhead;
    double efficiency = 1;
  };
  MessageCost message_cost(GpuId src, GpuId dst, double bytes, std::vector<LinkId>& path, int repeat = 1) const;

  /// NVLS message (see SwitchOp): sends `bytes` over the links of `op` for `gpu` among `peers`.
  /// Every peer must have exactly one NVLink link to an NVSwitch and back (InvariantError).
  void send_switch(SwitchOp op, GpuId gpu, std::span<const GpuId> peers, double bytes, std::function<void()> on_delivered);
  /// What send_switch charges, its links written to `links` (for sim/collectives/fluid.h).
  MessageCost switch_cost(SwitchOp op, GpuId gpu, std::span<const GpuId> peers, double bytes,
                          std::vector<LinkId>& links) const;

  const Topology& topology() const { return topology_; }
  const CostFactors& costs() const { return costs_; }
  Engine& engine() { return engine_; }
  Network& network() { return network_; }

 private:
  // A (src, dst) route: links_of(r) are its links, valid until the next route() call
  // (cached: route_links_[first, first + links); else path_).
  struct Route {
    double capacity_Bps;
    Time latency;
    Transport transport;
    std::uint32_t first;
    std::uint32_t links;
  };
  Route route(GpuId src, GpuId dst) const;
  /// The links of src -> dst (PXN included) into path_.
  void compute_path(GpuId src, GpuId dst) const;
  void index_rails();  // by_node_rail_ and max_rails_ (PXN)
  std::span<const LinkId> links_of(const Route& r) const {
    return {(options_.cache_routes ? route_links_.data() : path_.data()) + r.first, r.links};
  }
  MessageCost cost_of(const Route& r, double bytes, int repeat) const;  // repeat >= 1 (checked by the callers)
  /// The PXN proxy for src -> dst, or src itself when PXN does not apply.
  GpuId pxn_proxy(GpuId src, GpuId dst) const;

  Engine& engine_;
  Network& network_;
  const Topology& topology_;
  const CostFactors& costs_;
  Options options_;
  mutable std::vector<LinkId> path_;
  mutable std::vector<LinkId> tail_;
  // Route cache (Options::cache_routes): route_slots_(src, dst) is the index in routes_ (or
  // kNoRoute). Its 64-GPU blocks are made on a source's first send into them (sim/block_rows.h):
  // an all-to-all inside expert-parallel groups of G GPUs caches about P x G routes, not P^2,
  // and its lookups, which walk dst in order, stay in one block at a time.
  static constexpr std::uint32_t kNoRoute = UINT32_MAX;
  mutable BlockRows<std::uint32_t> route_slots_;
  mutable std::vector<Route> routes_;
  mutable std::vector<LinkId> route_links_;
  /// A GPU's NVLink link to its node's NVSwitch (up) or back (down).
  LinkId switch_link(GpuId g, bool up) const;

  // GPUs of each (node, rail), for PXN: index node * max_rails_ + rail.
  int max_rails_ = 0;
  std::vector<std::vector<GpuId>> by_node_rail_;
};

}  // namespace moesim
