#include "validation/measured_cluster.h"

#include <algorithm>
#include <cmath>

#include "sim/collectives/collectives.h"
#include "sim/collectives/fluid.h"
#include "sim/collectives/task_graph.h"
#include "sim/collectives/transfer.h"
#include "sim/engine.h"
#include "sim/error.h"
#include "sim/network.h"
#include "topologies/cluster_loader.h"

namespace moesim::validation {

MeasuredCluster::MeasuredCluster(std::string cluster, std::optional<int> default_nodes)
    : cluster_(std::move(cluster)), default_nodes_(default_nodes), catalog_(Catalog::embedded()) {
  base_ = std::make_unique<Topology>(load_cluster(cluster_, default_nodes_, catalog_));
}

int MeasuredCluster::gpus_per_node() const {
  return base_->node(0).gpu_count;
}

int MeasuredCluster::nodes_for(int ranks, std::optional<int> nodes) const {
  if (nodes) return *nodes;
  if (default_nodes_) return *default_nodes_;
  const int g = std::max(1, gpus_per_node());
  return std::max(1, (ranks + g - 1) / g);
}

const Topology* MeasuredCluster::topology_with(int nodes, std::string& why_not) {
  if (nodes == base_->node_count()) return base_.get();
  if (auto it = by_nodes_.find(nodes); it != by_nodes_.end()) return it->second.get();
  try {
    auto t = std::make_unique<Topology>(load_cluster(cluster_, nodes, catalog_));
    return by_nodes_.emplace(nodes, std::move(t)).first->second.get();
  } catch (const InvariantError&) {
    throw;
  } catch (const Error& e) {
    // A cluster with fixed node groups: its first `nodes` nodes serve when it has enough.
    if (nodes < base_->node_count()) return base_.get();
    why_not = fmt::format("cluster {} cannot have {} nodes: {}", cluster_, nodes, e.what());
    return nullptr;
  }
}

PlacementResult MeasuredCluster::place(int ranks, std::optional<int> nodes_known) {
  PlacementResult res;
  if (ranks < 1) {
    res.why_not = fmt::format("{} ranks", ranks);
    return res;
  }
  const int nodes = nodes_for(ranks, nodes_known);
  if (nodes < 1 || nodes > ranks) {
    res.why_not = fmt::format("{} ranks cannot span {} nodes", ranks, nodes);
    return res;
  }
  if (ranks % nodes != 0) {
    res.why_not = fmt::format("{} ranks on {} nodes is not the same number of ranks on every node", ranks, nodes);
    return res;
  }
  const Topology* topo = topology_with(nodes, res.why_not);
  if (!topo) return res;
  const int per_node = ranks / nodes;
  Placement p;
  p.topology = topo;
  p.nodes = nodes;
  for (int n = 0; n < nodes; ++n) {
    const auto& info = topo->node(n);
    if (per_node > info.gpu_count) {
      res.why_not = fmt::format("{} ranks per node on {} nodes, but node {} of cluster {} has {} GPUs", per_node, nodes,
                                n, cluster_, info.gpu_count);
      return res;
    }
    for (int i = 0; i < per_node; ++i) p.ranks.push_back(GpuId::from(info.first_gpu.value() + i));
  }
  res.placement = std::move(p);
  return res;
}

namespace {

// Appends one iteration of `op` to `graph`; false when moesim has no model of it.
bool append_pattern(TaskGraph& graph, const TransferService& transfers, std::span<const GpuId> ranks, CollectiveOp op,
                    double bytes) {
  const Topology& topo = transfers.topology();
  const CostFactors& costs = transfers.costs();
  const int P = static_cast<int>(ranks.size());
  switch (op) {
    case CollectiveOp::AllToAll: {
      const double per_peer = bytes / P;
      append_alltoallv(
          graph, topo, ranks, [per_peer](int, int) { return per_peer; }, AllToAllAlgorithm::Direct,
          costs.collective().alltoall_max_peers_in_flight);
      return true;
    }
    case CollectiveOp::SendRecv:
      for (int r = 0; r < P; ++r) graph.add_transfer(ranks[r], ranks[(r + 1) % P], bytes);
      return true;
    case CollectiveOp::AllReduce: {
      // Ring, tree or NVLS, the fastest by the fluid model (NCCL's tuner picks by its cost model).
      const int channels = default_ring_channels(topo, ranks);
      const std::vector<std::vector<GpuId>> groups{std::vector<GpuId>(ranks.begin(), ranks.end())};
      append_allreduce(
          graph, topo, ranks, bytes,
          fluid_allreduce(transfers, groups, bytes, std::span<const int>(&channels, 1), AllReduceAlgorithm::Auto).algorithm,
          channels, TreePipeline::from(costs.collective()));
      return true;
    }
    case CollectiveOp::AllGather:
    case CollectiveOp::ReduceScatter:
      append_allgather_ring(graph, topo, ranks, bytes, default_ring_channels(topo, ranks));
      return true;
    case CollectiveOp::Broadcast:
    case CollectiveOp::Reduce:
      return false;
  }
  return false;
}

struct Run {
  Time time;
  Transport last_transport = Transport::NVLink;
  bool has_transfer = false;
};

std::optional<Run> run_pattern(const Placement& pl, const CostFactors& costs, CollectiveOp op, double bytes) {
  MOESIM_CHECK(pl.topology != nullptr && !pl.ranks.empty(), "an empty placement");
  if (!(bytes > 0)) throw InputError(fmt::format("collective size must be > 0 bytes, got {}", bytes));
  const Topology& topo = *pl.topology;
  Engine engine;
  Network network(engine, topo.links(), {.completion_window = costs.network().completion_window});
  TransferService transfers(engine, network, topo, costs);
  TaskGraph graph;
  if (!append_pattern(graph, transfers, pl.ranks, op, bytes)) return std::nullopt;
  Executor exec(transfers);
  Run r;
  r.time = exec.run(graph);
  Time last = Time::zero();
  for (const auto& t : graph.tasks()) {
    const bool nvls = t.switch_op != SwitchOp::None;  // through the NVSwitch: NVLink
    if (t.kind != TaskKind::Transfer || (t.src == t.dst && !nvls)) continue;
    if (!r.has_transfer || t.finish > last) {
      last = t.finish;
      r.last_transport = nvls ? Transport::NVLink : topo.transport(t.src, t.dst);
      r.has_transfer = true;
    }
  }
  return r;
}

}  // namespace

std::optional<Time> simulate_measured_collective(const Placement& placement, const CostFactors& costs, CollectiveOp op,
                                                 double bytes) {
  auto r = run_pattern(placement, costs, op, bytes);
  if (!r) return std::nullopt;
  return r->time;
}

PatternPath pattern_path(const Placement& placement, const CostFactors& base, CollectiveOp op) {
  MOESIM_CHECK(op == CollectiveOp::SendRecv || op == CollectiveOp::AllToAll,
               "pattern_path takes sendrecv or alltoall, got {}", to_string(op));
  const int P = static_cast<int>(placement.ranks.size());
  if (P < 2) throw InputError(fmt::format("{} on {} rank: no message crosses a link", to_string(op), P));
  CostFactors ideal = CostFactors::ideal();
  ideal.collective() = base.collective();
  PatternPath out;
  out.message_fraction = op == CollectiveOp::AllToAll ? 1.0 / P : 1.0;
  const int window = base.collective().alltoall_max_peers_in_flight;
  if (op == CollectiveOp::AllToAll && window > 0) out.waves = (P - 1 + window - 1) / window;
  // Two large sizes: the ideal time is latency + message / C exactly (max-min rates do not
  // depend on the size), so the slope gives C and the intercept the latency.
  const double m1 = 16.0 * 1024 * 1024, m2 = 64.0 * 1024 * 1024;
  const auto r1 = run_pattern(placement, ideal, op, m1 / out.message_fraction);
  const auto r2 = run_pattern(placement, ideal, op, m2 / out.message_fraction);
  MOESIM_CHECK(r1 && r2 && r2->has_transfer && r2->time > r1->time, "ideal {} runs give no slope", to_string(op));
  out.capacity_Bps = (m2 - m1) / (r2->time - r1->time).seconds();
  out.latency = Time::from_ps(std::max<std::int64_t>(0, r1->time.ps() - std::llround(m1 / out.capacity_Bps * 1e12)));
  out.transport = r2->last_transport;
  return out;
}

}  // namespace moesim::validation
