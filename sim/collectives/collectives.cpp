#include "sim/collectives/collectives.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <utility>

#include "sim/collectives/fluid.h"
#include "sim/error.h"

namespace moesim {

std::string_view to_string(AllToAllAlgorithm a) {
  return a == AllToAllAlgorithm::Direct ? "direct" : "hierarchical";
}

namespace {
constexpr std::pair<AllReduceAlgorithm, std::string_view> kAllReduceNames[] = {
    {AllReduceAlgorithm::Ring, "ring"},
    {AllReduceAlgorithm::Tree, "tree"},
    {AllReduceAlgorithm::Nvls, "nvls"},
    {AllReduceAlgorithm::Auto, "auto"}};
}  // namespace

std::string_view to_string(AllReduceAlgorithm a) {
  for (const auto& [value, name] : kAllReduceNames)
    if (value == a) return name;
  return "?";
}

std::optional<AllReduceAlgorithm> allreduce_algorithm_from_string(std::string_view s) {
  for (const auto& [value, name] : kAllReduceNames)
    if (name == s) return value;
  return std::nullopt;
}

std::string_view to_string(CollectiveOp op) {
  switch (op) {
    case CollectiveOp::AllToAll: return "alltoall";
    case CollectiveOp::AllReduce: return "allreduce";
    case CollectiveOp::AllGather: return "allgather";
  }
  return "?";
}

namespace {

// The group's layout: ranks grouped by node in group order.
struct Layout {
  std::vector<std::vector<int>> by_node;  // node slot -> group ranks on it, in group order
  std::vector<int> node_slot;             // rank -> node slot
  std::vector<int> local;                 // rank -> index within its node slot
  bool grid = true;                       // every node slot holds the same number of ranks
};

Layout layout_of(const Topology& topo, std::span<const GpuId> ranks) {
  Layout l;
  std::map<int, int> slot_of_node;
  l.node_slot.resize(ranks.size());
  l.local.resize(ranks.size());
  for (std::size_t r = 0; r < ranks.size(); ++r) {
    const int node = topo.gpu(ranks[r]).node;
    auto [it, inserted] = slot_of_node.emplace(node, static_cast<int>(l.by_node.size()));
    if (inserted) l.by_node.emplace_back();
    l.node_slot[r] = it->second;
    l.local[r] = static_cast<int>(l.by_node[it->second].size());
    l.by_node[it->second].push_back(static_cast<int>(r));
  }
  for (const auto& n : l.by_node) l.grid = l.grid && n.size() == l.by_node.front().size();
  return l;
}

std::vector<int> schedule_from(const Layout& l, int rank) {
  const int P = static_cast<int>(l.node_slot.size());
  std::vector<int> order;
  order.reserve(P);
  if (!l.grid) {
    for (int k = 0; k < P; ++k) order.push_back((rank + k) % P);
    return order;
  }
  const int N = static_cast<int>(l.by_node.size());
  const int G = static_cast<int>(l.by_node.front().size());
  const int n = l.node_slot[rank], i = l.local[rank];
  for (int d = 0; d < N; ++d)
    for (int e = 0; e < G; ++e) order.push_back(l.by_node[(n + d) % N][(i + e) % G]);
  return order;
}

// The 2-level (hierarchical) all-to-all's sends, per rank in its send order, zero sizes left
// out. Phase 1, (n,i) -> (n,j): everything (n,i) sends to local index j on any node. Phase 2,
// (n,j) -> (m,j) for m != n: everything node n sends to (m,j).
struct HierarchicalSends {
  std::vector<std::vector<std::pair<int, double>>> phase1, phase2;  // per rank: (peer, bytes)
};
HierarchicalSends hierarchical_sends(const Layout& l, const ByteMatrixFn& bytes) {
  if (!l.grid) throw InputError("the hierarchical all-to-all needs the same number of ranks on every node");
  const int N = static_cast<int>(l.by_node.size());
  const int G = static_cast<int>(l.by_node.front().size());
  HierarchicalSends h;
  h.phase1.resize(l.node_slot.size());
  h.phase2.resize(l.node_slot.size());
  for (int n = 0; n < N; ++n)
    for (int i = 0; i < G; ++i) {
      const int r = l.by_node[n][i];
      for (int e = 0; e < G; ++e) {
        const int j = (i + e) % G;
        double b = 0;
        for (int m = 0; m < N; ++m) b += bytes(r, l.by_node[m][j]);
        if (b > 0) h.phase1[r].emplace_back(l.by_node[n][j], b);
      }
    }
  for (int n = 0; n < N; ++n)
    for (int j = 0; j < G; ++j) {
      const int r = l.by_node[n][j];
      for (int d = 1; d < N; ++d) {
        const int m = (n + d) % N;
        double b = 0;
        for (int i = 0; i < G; ++i) b += bytes(l.by_node[n][i], l.by_node[m][j]);
        if (b > 0) h.phase2[r].emplace_back(l.by_node[m][j], b);
      }
    }
  return h;
}

}  // namespace

std::vector<int> p2p_schedule(const Topology& topo, std::span<const GpuId> ranks, int rank) {
  return schedule_from(layout_of(topo, ranks), rank);
}

CollectiveHandles append_alltoallv(TaskGraph& g, const Topology& topo, std::span<const GpuId> ranks, const ByteMatrixFn& bytes,
                                   AllToAllAlgorithm algorithm, int max_peers_in_flight, std::span<const TaskId> start_after,
                                   std::uint8_t category) {
  const int P = static_cast<int>(ranks.size());
  MOESIM_CHECK(start_after.empty() || static_cast<int>(start_after.size()) == P, "start_after needs one task per rank");
  const Layout l = layout_of(topo, ranks);
  CollectiveHandles h;
  h.done.resize(P);

  // One rank's sends to `to` (peer, bytes) in order, at most max_peers_in_flight at once,
  // each after `gate` (if any) and before both the sender's `sender_done` and the task
  // receiver_done(peer) returns: like a grouped ncclSend/ncclRecv, a rank is done when its
  // sends have left and its receives have arrived.
  auto sends = [&](int r, const std::vector<std::pair<int, double>>& to, std::optional<TaskId> gate, TaskId sender_done,
                   auto receiver_done) {
    std::vector<TaskId> ids;
    ids.reserve(to.size());
    for (std::size_t k = 0; k < to.size(); ++k) {
      const TaskId t = g.add_transfer(ranks[r], ranks[to[k].first], to[k].second, category);
      // A send after the first window waits for one that waited for the gate: no edge needed.
      if (max_peers_in_flight > 0 && k >= static_cast<std::size_t>(max_peers_in_flight)) g.depend(ids[k - max_peers_in_flight], t);
      else if (gate) g.depend(*gate, t);
      g.depend(t, sender_done);
      const TaskId rd = receiver_done(to[k].first);
      if (rd != sender_done) g.depend(t, rd);
      ids.push_back(t);
    }
  };
  auto gate_of = [&](int r) { return start_after.empty() ? std::nullopt : std::optional<TaskId>(start_after[r]); };

  if (algorithm == AllToAllAlgorithm::Direct || l.by_node.size() == 1) {
    for (int r = 0; r < P; ++r) h.done[r] = g.add_marker(category);
    for (int r = 0; r < P; ++r) {
      std::vector<std::pair<int, double>> to;
      for (int peer : schedule_from(l, r)) {
        const double b = bytes(r, peer);
        if (b > 0) to.emplace_back(peer, b);
      }
      sends(r, to, gate_of(r), h.done[r], [&h](int peer) { return h.done[peer]; });
    }
    return h;
  }

  const HierarchicalSends hs = hierarchical_sends(l, bytes);
  std::vector<TaskId> phase1_in(P);
  for (int r = 0; r < P; ++r) phase1_in[r] = g.add_marker(category);
  for (int r = 0; r < P; ++r) h.done[r] = g.add_marker(category);
  for (const auto& node : l.by_node)
    for (int r : node) {
      // The receiver's phase 2 waits for every phase-1 transfer into it.
      sends(r, hs.phase1[r], gate_of(r), h.done[r], [&phase1_in](int peer) { return phase1_in[peer]; });
      if (!start_after.empty()) g.depend(start_after[r], phase1_in[r]);
    }
  for (const auto& node : l.by_node)
    for (int r : node) {
      g.depend(phase1_in[r], h.done[r]);
      sends(r, hs.phase2[r], phase1_in[r], h.done[r], [&h](int peer) { return h.done[peer]; });
    }
  return h;
}

int default_ring_channels(const Topology& topo, std::span<const GpuId> ranks) {
  const Layout l = layout_of(topo, ranks);
  if (l.by_node.size() <= 1 || !l.grid) return 1;
  const int G = static_cast<int>(l.by_node.front().size());
  const int nics = std::max(1, topo.node(topo.gpu(ranks.front()).node).nic_count);
  return std::clamp(nics, 1, G);
}

std::vector<std::vector<int>> ring_orders(const Topology& topo, std::span<const GpuId> ranks, int channels) {
  const Layout l = layout_of(topo, ranks);
  std::vector<std::vector<int>> rings;
  const int P = static_cast<int>(ranks.size());
  channels = std::max(1, channels);
  for (int c = 0; c < channels; ++c) {
    std::vector<int> ring;
    ring.reserve(P);
    if (l.by_node.size() > 1 && l.grid) {
      const int G = static_cast<int>(l.by_node.front().size());
      // Rotate inside each node so ring c enters a node at local (c*G/channels) and leaves
      // from the GPU just before it: each ring crosses nodes through different GPUs/NICs.
      const int off = static_cast<int>((static_cast<long>(c) * G) / channels);
      for (const auto& node : l.by_node)
        for (int e = 0; e < G; ++e) ring.push_back(node[(off + e) % G]);
    } else {
      for (int r = 0; r < P; ++r) ring.push_back(r);
    }
    rings.push_back(std::move(ring));
  }
  return rings;
}

namespace {

// One done marker per rank, each after the rank's start_after task (if any).
CollectiveHandles done_markers(TaskGraph& g, int P, std::span<const TaskId> start_after, std::uint8_t category) {
  MOESIM_CHECK(start_after.empty() || static_cast<int>(start_after.size()) == P, "start_after needs one task per rank");
  CollectiveHandles h;
  h.done.resize(P);
  for (int r = 0; r < P; ++r) {
    h.done[r] = g.add_marker(category);
    if (!start_after.empty()) g.depend(start_after[r], h.done[r]);
  }
  return h;
}

// `steps` ring steps of `chunk` bytes per ring: at step s, ring position k sends to k+1
// after its own step s-1 send and after receiving step s-1 from position k-1.
CollectiveHandles ring_steps(TaskGraph& g, const Topology& topo, std::span<const GpuId> ranks, int steps, double chunk,
                             int channels, std::span<const TaskId> start_after, std::uint8_t category, int max_steps = 0) {
  // Macro-steps: `group` consecutive ring steps per simulated step (the last may hold fewer).
  const int group = max_steps > 0 && steps > max_steps ? (steps + max_steps - 1) / max_steps : 1;
  const int P = static_cast<int>(ranks.size());
  CollectiveHandles h = done_markers(g, P, start_after, category);
  if (P == 1) return h;
  for (const auto& ring : ring_orders(topo, ranks, channels)) {
    std::vector<TaskId> prev(P), cur(P);
    for (int s = 0, first = 0; first < steps; ++s, first += group) {
      const int n = std::min(group, steps - first);
      for (int k = 0; k < P; ++k) {
        const int from = ring[k], to = ring[(k + 1) % P];
        cur[k] = g.add_transfer(ranks[from], ranks[to], chunk * n, category, static_cast<std::uint16_t>(n));
        if (s == 0) {
          if (!start_after.empty()) g.depend(start_after[from], cur[k]);
        } else {
          g.depend(prev[k], cur[k]);
          g.depend(prev[(k + P - 1) % P], cur[k]);
        }
      }
      std::swap(prev, cur);
    }
    for (int k = 0; k < P; ++k) {
      g.depend(prev[k], h.done[ring[k]]);
      g.depend(prev[(k + P - 1) % P], h.done[ring[k]]);
    }
  }
  return h;
}

}  // namespace

CollectiveHandles append_allreduce_ring(TaskGraph& g, const Topology& topo, std::span<const GpuId> ranks, double bytes,
                                        int channels, std::span<const TaskId> start_after, std::uint8_t category,
                                        int max_steps) {
  const int P = static_cast<int>(ranks.size());
  channels = std::max(1, channels);
  return ring_steps(g, topo, ranks, 2 * (P - 1), bytes / P / channels, channels, start_after, category, max_steps);
}

CollectiveHandles append_allgather_ring(TaskGraph& g, const Topology& topo, std::span<const GpuId> ranks, double total_bytes,
                                        int channels, std::span<const TaskId> start_after, std::uint8_t category) {
  const int P = static_cast<int>(ranks.size());
  channels = std::max(1, channels);
  return ring_steps(g, topo, ranks, P - 1, total_bytes / P / channels, channels, start_after, category);
}

TreePipeline TreePipeline::from(const CollectiveCost& c) {
  return TreePipeline{.chunk_bytes = c.allreduce_tree_chunk_bytes, .max_chunks = c.allreduce_tree_max_chunks};
}

int TreePipeline::chunks(double tree_bytes) const {
  if (!(chunk_bytes > 0) || !(tree_bytes > chunk_bytes)) return 1;
  const double n = std::ceil(tree_bytes / chunk_bytes);
  return max_chunks > 0 && n > max_chunks ? max_chunks : static_cast<int>(std::min(n, 1e9));
}

namespace {

// NCCL's ncclGetBtree (src/graph/trees.cc): the parent of `rank` in a binary tree over
// 0..n-1 rooted at 0 (whose one child is the highest power of two below n); -1 for the root.
int btree_parent(int n, int rank) {
  if (rank == 0) return -1;
  int bit = 1;
  while (bit < n && !(bit & rank)) bit <<= 1;
  const int up = (rank ^ bit) | (bit << 1);
  return up >= n ? rank ^ bit : up;
}

}  // namespace

std::vector<int> dtree_node_parents(int nodes, int tree) {
  MOESIM_CHECK(nodes >= 1 && (tree == 0 || tree == 1), "double binary tree {} over {} nodes", tree, nodes);
  std::vector<int> parent(nodes);
  for (int r = 0; r < nodes; ++r) {
    if (tree == 0) {
      parent[r] = btree_parent(nodes, r);
    } else if (nodes % 2 == 1) {  // shift by one
      const int u = btree_parent(nodes, (r - 1 + nodes) % nodes);
      parent[r] = u < 0 ? -1 : (u + 1) % nodes;
    } else {  // mirror
      const int u = btree_parent(nodes, nodes - 1 - r);
      parent[r] = u < 0 ? -1 : nodes - 1 - u;
    }
  }
  return parent;
}

std::vector<std::vector<int>> tree_parents(const Topology& topo, std::span<const GpuId> ranks, int channels) {
  const Layout l = layout_of(topo, ranks);
  const int N = static_cast<int>(l.by_node.size());
  channels = std::max(1, channels);
  std::vector<std::vector<int>> trees;
  trees.reserve(2 * static_cast<std::size_t>(channels));
  for (int c = 0; c < channels; ++c) {
    // Channel c's chain in node slot n: from local (c * G_n / channels), as ring c enters it.
    std::vector<int> head(N);
    std::vector<int> chain_parent(ranks.size(), -1);
    for (int n = 0; n < N; ++n) {
      const auto& node = l.by_node[n];
      const int G = static_cast<int>(node.size());
      const int off = static_cast<int>((static_cast<long>(c) * G) / channels) % G;
      head[n] = node[off];
      for (int e = 1; e < G; ++e) chain_parent[node[(off + e) % G]] = node[(off + e - 1) % G];
    }
    for (int t = 0; t < 2; ++t) {
      const std::vector<int> up = dtree_node_parents(N, t);
      std::vector<int> parent = chain_parent;
      for (int n = 0; n < N; ++n) parent[head[n]] = up[n] < 0 ? -1 : head[up[n]];
      trees.push_back(std::move(parent));
    }
  }
  return trees;
}

CollectiveHandles append_allreduce_tree(TaskGraph& g, const Topology& topo, std::span<const GpuId> ranks, double bytes,
                                        int channels, const TreePipeline& pipeline, std::span<const TaskId> start_after,
                                        std::uint8_t category) {
  const int P = static_cast<int>(ranks.size());
  channels = std::max(1, channels);
  CollectiveHandles h = done_markers(g, P, start_after, category);
  if (P == 1) return h;
  const double tree_bytes = bytes / (2.0 * channels);
  const int K = pipeline.chunks(tree_bytes);
  const double chunk = tree_bytes / K;
  std::vector<std::vector<int>> children(P);
  std::vector<TaskId> up(P), down(P), prev_up(P), prev_down(P);
  for (const auto& parent : tree_parents(topo, ranks, channels)) {
    int root = -1;
    for (auto& c : children) c.clear();
    for (int r = 0; r < P; ++r) {
      if (parent[r] < 0)
        root = r;
      else
        children[parent[r]].push_back(r);
    }
    // Ranks root first, each after its parent (breadth first).
    std::vector<int> order{root};
    for (std::size_t i = 0; i < order.size(); ++i)
      for (int c : children[order[i]]) order.push_back(c);
    MOESIM_CHECK(static_cast<int>(order.size()) == P, "tree over {} ranks reaches {}", P, order.size());
    for (int m = 0; m < K; ++m) {
      // Reduce, leaves first: r sends chunk m up once its children's chunk m has arrived.
      for (auto it = order.rbegin(); it != order.rend(); ++it) {
        const int r = *it;
        if (r == root) continue;
        up[r] = g.add_transfer(ranks[r], ranks[parent[r]], chunk, category);
        if (m > 0)
          g.depend(prev_up[r], up[r]);
        else if (!start_after.empty())
          g.depend(start_after[r], up[r]);
        for (int c : children[r]) g.depend(up[c], up[r]);
      }
      // Broadcast, root first: the root forwards chunk m when all of it is reduced, others
      // when they have received it.
      for (const int r : order) {
        if (r == root) continue;
        const int p = parent[r];
        down[r] = g.add_transfer(ranks[p], ranks[r], chunk, category);
        if (m > 0)
          g.depend(prev_down[r], down[r]);
        else if (p == root && !start_after.empty())
          g.depend(start_after[root], down[r]);
        if (p == root) {
          for (int c : children[root]) g.depend(up[c], down[r]);
        } else {
          g.depend(down[p], down[r]);
        }
      }
      std::swap(up, prev_up);
      std::swap(down, prev_down);
    }
    // A rank is done when it has the result and has passed it on.
    for (int r = 0; r < P; ++r) {
      if (r != root) g.depend(prev_down[r], h.done[r]);
      for (int c : children[r]) g.depend(prev_down[c], h.done[r]);
    }
  }
  return h;
}

std::string nvls_unsupported_reason(const Topology& topo, std::span<const GpuId> ranks) {
  if (ranks.empty()) return "the group is empty";
  const int node = topo.gpu(ranks.front()).node;
  for (GpuId g : ranks)
    if (topo.gpu(g).node != node)
      return "the group spans several nodes (NVLS-tree across nodes is not modelled)";
  const NodeInfo& n = topo.node(node);
  if (!n.nvls)
    return fmt::format("node {} (kind {}) has no NVSwitch with NVLink SHARP (NVLS needs NVSwitch gen3, e.g. H100/H200 "
                       "HGX/DGX; see the NVLink kind's \"nvls\" in the catalog)",
                       node, n.kind);
  return "";
}

void require_nvls(const Topology& topo, std::span<const GpuId> ranks) {
  if (const std::string why = nvls_unsupported_reason(topo, ranks); !why.empty())
    throw InputError(fmt::format("the NVLS all-reduce cannot run on cluster {}: {}", topo.name(), why));
}

CollectiveHandles append_allreduce_nvls(TaskGraph& g, const Topology& topo, std::span<const GpuId> ranks, double bytes,
                                        const TreePipeline& pipeline, std::span<const TaskId> start_after,
                                        std::uint8_t category) {
  const int P = static_cast<int>(ranks.size());
  require_nvls(topo, ranks);
  CollectiveHandles h = done_markers(g, P, start_after, category);
  if (P == 1) return h;
  const int K = pipeline.chunks(bytes);
  const double shard = bytes / K / P;  // rank j's shard of one chunk
  const std::uint32_t peers = g.add_peer_set(std::vector<GpuId>(ranks.begin(), ranks.end()));
  std::vector<TaskId> reduce(P), multicast(P);
  for (int k = 0; k < K; ++k) {
    for (int j = 0; j < P; ++j) {
      const TaskId rs = g.add_switch_transfer(SwitchOp::Reduce, ranks[j], peers, shard, category);
      // The switch reads every rank's buffer: the first chunk waits for all ranks to start.
      if (k > 0)
        g.depend(reduce[j], rs);
      else
        for (TaskId s : start_after) g.depend(s, rs);
      const TaskId ag = g.add_switch_transfer(SwitchOp::Multicast, ranks[j], peers, shard, category);
      g.depend(rs, ag);
      if (k > 0) g.depend(multicast[j], ag);
      reduce[j] = rs;
      multicast[j] = ag;
    }
  }
  // A rank is done when every rank's last multicast (its own included) has arrived.
  for (int r = 0; r < P; ++r)
    for (int j = 0; j < P; ++j) g.depend(multicast[j], h.done[r]);
  return h;
}

CollectiveHandles append_allreduce(TaskGraph& g, const Topology& topo, std::span<const GpuId> ranks, double bytes,
                                   AllReduceAlgorithm algorithm, int channels, const TreePipeline& pipeline,
                                   std::span<const TaskId> start_after, std::uint8_t category, int max_steps) {
  switch (algorithm) {
    case AllReduceAlgorithm::Tree:
      return append_allreduce_tree(g, topo, ranks, bytes, channels, pipeline, start_after, category);
    case AllReduceAlgorithm::Nvls:
      return append_allreduce_nvls(g, topo, ranks, bytes, pipeline, start_after, category);
    case AllReduceAlgorithm::Ring:
      return append_allreduce_ring(g, topo, ranks, bytes, channels, start_after, category, max_steps);
    case AllReduceAlgorithm::Auto:
      break;
  }
  MOESIM_CHECK(false, "append_allreduce needs a concrete algorithm, not auto");
  return {};
}

double busbw_factor(CollectiveOp op, int n) {
  if (n <= 1) return 0;
  const double f = static_cast<double>(n - 1) / n;
  return op == CollectiveOp::AllReduce ? 2 * f : f;
}

namespace {

// The fluid model's time for simulate_collective's collective (CollectiveOptions::fluid).
// All-reduce: `allreduce` is set to the algorithm priced.
// All-to-all: `res` counts the transfers of the phases replayed and whether the window was
// ignored (fluid_alltoall).
Time fluid_collective_time(const TransferService& transfers, std::span<const GpuId> ranks, CollectiveOp op, double bytes,
                           const CollectiveOptions& options, int channels, AllReduceAlgorithm& allreduce,
                           CollectiveResult& res) {
  const Topology& topo = transfers.topology();
  const int P = static_cast<int>(ranks.size());
  const std::vector<std::vector<GpuId>> groups{std::vector<GpuId>(ranks.begin(), ranks.end())};
  const std::span<const int> group_channels(&channels, 1);
  switch (op) {
    case CollectiveOp::AllToAll: {
      const int window = transfers.costs().collective().alltoall_max_peers_in_flight;
      const double per_peer = bytes / P;
      const Layout l = layout_of(topo, ranks);
      std::vector<FluidTransfer> msgs;
      auto price = [&] {
        const FluidAllToAll a = fluid_alltoall(transfers, ranks, msgs, window);
        if (a.replayed) res.flows += a.result.messages;
        res.fluid_window_ignored = res.fluid_window_ignored || a.window_ignored;
        return a.result.last();
      };
      if (options.algorithm == AllToAllAlgorithm::Direct || l.by_node.size() == 1) {
        msgs.reserve(static_cast<std::size_t>(P) * P);
        for (int r = 0; r < P; ++r)
          for (int peer = 0; peer < P; ++peer) msgs.push_back({r, peer, per_peer});
        return price();
      }
      // append_alltoallv's two phases, each priced whole, the second after the first.
      const HierarchicalSends hs = hierarchical_sends(l, [per_peer](int, int) { return per_peer; });
      Time t = Time::zero();
      for (const auto* phase : {&hs.phase1, &hs.phase2}) {
        msgs.clear();
        for (int r = 0; r < P; ++r)
          for (const auto& [peer, b] : (*phase)[r]) msgs.push_back({r, peer, b});
        t += price();
      }
      return t;
    }
    case CollectiveOp::AllReduce: {
      FluidAllReduce r = fluid_allreduce(transfers, groups, bytes, group_channels, allreduce);
      allreduce = r.algorithm;
      return r.result.last();
    }
    case CollectiveOp::AllGather:
      return fluid_allgather_rings(transfers, groups, bytes, group_channels).last();
  }
  return Time::zero();
}

// The flow model's time for simulate_collective's collective: its task graph replayed.
Time replay_collective(TransferService& transfers, std::span<const GpuId> ranks, CollectiveOp op, double bytes,
                       const CollectiveOptions& options, int channels, AllReduceAlgorithm& allreduce) {
  const Topology& topo = transfers.topology();
  const CostFactors& costs = transfers.costs();
  const int P = static_cast<int>(ranks.size());
  TaskGraph graph;
  switch (op) {
    case CollectiveOp::AllToAll: {
      const double per_peer = bytes / P;
      graph.reserve(static_cast<std::size_t>(P) * P + 2 * P, static_cast<std::size_t>(P) * P * 2);
      append_alltoallv(graph, topo, ranks, [per_peer](int, int) { return per_peer; }, options.algorithm,
                       costs.collective().alltoall_max_peers_in_flight);
      break;
    }
    case CollectiveOp::AllReduce: {
      if (allreduce == AllReduceAlgorithm::Auto) {
        const std::vector<std::vector<GpuId>> groups{std::vector<GpuId>(ranks.begin(), ranks.end())};
        allreduce = fluid_allreduce(transfers, groups, bytes, std::span<const int>(&channels, 1), allreduce).algorithm;
      }
      append_allreduce(graph, topo, ranks, bytes, allreduce, channels, TreePipeline::from(costs.collective()));
      break;
    }
    case CollectiveOp::AllGather:
      append_allgather_ring(graph, topo, ranks, bytes, channels);
      break;
  }
  if (options.on_replay_size) options.on_replay_size(graph.transfer_count());
  Executor exec(transfers);
  return exec.run(graph);
}

}  // namespace

CollectiveResult simulate_collective(const Topology& topo, const CostFactors& costs, CollectiveOp op, double bytes,
                                     const CollectiveOptions& options) {
  if (!(bytes > 0)) throw InputError(fmt::format("collective size must be > 0 bytes, got {}", bytes));
  const int P = topo.gpu_count();
  std::vector<GpuId> ranks(P);
  for (int r = 0; r < P; ++r) ranks[r] = GpuId::from(r);
  const int channels = options.ring_channels > 0 ? options.ring_channels : default_ring_channels(topo, ranks);
  Engine engine;
  Network network(engine, topo.links(), {.completion_window = costs.network().completion_window});
  TransferService transfers(engine, network, topo, costs);
  AllReduceAlgorithm allreduce = options.allreduce_algorithm;
  CollectiveResult res;
  res.bytes = bytes;
  if (options.fluid) {
    res.time = fluid_collective_time(transfers, ranks, op, bytes, options, channels, allreduce, res);
  } else {
    res.time = replay_collective(transfers, ranks, op, bytes, options, channels, allreduce);
    res.flows = network.flows_completed();
  }
  res.allreduce_algorithm = allreduce;
  res.algbw_GBps = res.time > Time::zero() ? bytes / res.time.seconds() / 1e9 : 0;
  res.busbw_GBps = res.algbw_GBps * busbw_factor(op, P);
  return res;
}

}  // namespace moesim
