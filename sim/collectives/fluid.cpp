#include "sim/collectives/fluid.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "sim/collectives/collectives.h"
#include "sim/collectives/task_graph.h"
#include "sim/engine.h"
#include "sim/error.h"
#include "sim/network.h"

namespace moesim {
namespace {

// Messages with their paths in CSR form, and per link the messages crossing it.
struct Incidence {
  std::vector<std::uint32_t> path_begin;  // per message, into links
  std::vector<LinkId> links;
  std::vector<double> wire;               // per message: bytes / efficiency
  std::vector<std::uint32_t> link_begin;  // per link, into by_link
  std::vector<std::uint32_t> by_link;     // message ids, grouped by link

  void group_by_link(std::size_t link_count) {
    link_begin.assign(link_count + 1, 0);
    for (LinkId l : links) ++link_begin[l.index() + 1];
    for (std::size_t l = 0; l < link_count; ++l) link_begin[l + 1] += link_begin[l];
    by_link.resize(links.size());
    std::vector<std::uint32_t> fill(link_begin.begin(), link_begin.end() - 1);
    for (std::uint32_t m = 0; m + 1 < path_begin.size(); ++m)
      for (std::uint32_t k = path_begin[m]; k < path_begin[m + 1]; ++k) by_link[fill[links[k].index()]++] = m;
  }

  /// Appends a message src -> dst (as TransferService prices one of `message_bytes`) that puts
  /// `total_bytes` / efficiency on every link of its path.
  TransferService::MessageCost add(const TransferService& ts, GpuId src, GpuId dst, double message_bytes,
                                   double total_bytes, std::vector<LinkId>& path) {
    const auto c = ts.message_cost(src, dst, message_bytes, path);
    links.insert(links.end(), path.begin(), path.end());
    wire.push_back(total_bytes / c.efficiency);
    path_begin.push_back(static_cast<std::uint32_t>(links.size()));
    return c;
  }

  /// Appends an NVLS message (TransferService::switch_cost) as `add` does.
  TransferService::MessageCost add_switch(const TransferService& ts, SwitchOp op, GpuId gpu, std::span<const GpuId> peers,
                                          double message_bytes, double total_bytes, std::vector<LinkId>& path) {
    const auto c = ts.switch_cost(op, gpu, peers, message_bytes, path);
    links.insert(links.end(), path.begin(), path.end());
    wire.push_back(total_bytes / c.efficiency);
    path_begin.push_back(static_cast<std::uint32_t>(links.size()));
    return c;
  }

  std::vector<std::pair<LinkId, double>> link_bytes() const {
    std::vector<std::pair<LinkId, double>> out;
    for (std::size_t l = 0; l + 1 < link_begin.size(); ++l) {
      if (link_begin[l] == link_begin[l + 1]) continue;
      double s = 0;
      for (std::uint32_t k = link_begin[l]; k < link_begin[l + 1]; ++k) s += wire[by_link[k]];
      out.emplace_back(LinkId::from(l), s);
    }
    return out;
  }
};

}  // namespace

FluidAllToAllTimes fluid_alltoallv_times(const TransferService& ts, std::span<const GpuId> ranks,
                                         std::span<const FluidTransfer> messages, int max_peers_in_flight) {
  const int P = static_cast<int>(ranks.size());
  const auto links = ts.topology().links();
  Incidence inc;
  std::vector<double> overhead_s(messages.size());
  std::vector<double> latency_s(messages.size());
  inc.path_begin.reserve(messages.size() + 1);
  inc.wire.reserve(messages.size());
  std::vector<LinkId> path;
  inc.path_begin.push_back(0);
  for (std::size_t m = 0; m < messages.size(); ++m) {
    const FluidTransfer& f = messages[m];
    MOESIM_CHECK(f.src >= 0 && f.src < P && f.dst >= 0 && f.dst < P, "fluid message {} -> {} outside a group of {}", f.src,
                 f.dst, P);
    MOESIM_CHECK(f.bytes >= 0 && std::isfinite(f.bytes), "fluid message of {} bytes", f.bytes);
    double wire = 0;
    if (f.src != f.dst && f.bytes > 0) {
      const auto c = ts.message_cost(ranks[f.src], ranks[f.dst], f.bytes, path);
      wire = f.bytes / c.efficiency;
      overhead_s[m] = c.overhead.seconds();
      latency_s[m] = c.latency.seconds();
      inc.links.insert(inc.links.end(), path.begin(), path.end());
    }
    inc.wire.push_back(wire);
    inc.path_begin.push_back(static_cast<std::uint32_t>(inc.links.size()));
  }
  inc.group_by_link(links.size());

  // Processor-sharing completion per link: for the messages on l sorted by wire bytes,
  // T_l(f) = (sum of the smaller ones + w_f x (number of the others at least as large)) / C.
  std::vector<double> bw_s(messages.size(), 0.0);
  // (wire bytes, message) in ascending order. by_link lists a link's messages by id, so a link
  // whose messages all have one size (padded buffers) is sorted already.
  std::vector<std::pair<double, std::uint32_t>> order;
  for (std::size_t l = 0; l < links.size(); ++l) {
    const std::uint32_t b = inc.link_begin[l], e = inc.link_begin[l + 1];
    if (b == e) continue;
    order.clear();
    for (std::uint32_t k = b; k < e; ++k) order.emplace_back(inc.wire[inc.by_link[k]], inc.by_link[k]);
    if (!std::is_sorted(order.begin(), order.end())) std::sort(order.begin(), order.end());
    const double cap = links[l].capacity_Bps;
    const std::size_t n = order.size();
    double below = 0;  // sum of the strictly smaller ones
    for (std::size_t i = 0; i < n;) {
      std::size_t j = i;
      const double w = order[i].first;
      while (j < n && order[j].first == w) ++j;
      const double t = (below + w * static_cast<double>(n - i)) / cap;
      for (std::size_t k = i; k < j; ++k) bw_s[order[k].second] = std::max(bw_s[order[k].second], t);
      below += w * static_cast<double>(j - i);
      i = j;
    }
  }

  // Per sender: its messages go out in rounds of W (the window); a window slot starts its next
  // message only when the previous one has been delivered, so each round before the last
  // costs the sender a mean overhead and latency in series.
  std::vector<double> fixed_sum(P, 0.0);
  std::vector<int> sends(P, 0);
  std::size_t count = 0;
  for (std::size_t m = 0; m < messages.size(); ++m) {
    if (inc.path_begin[m] == inc.path_begin[m + 1]) continue;
    ++count;
    fixed_sum[messages[m].src] += overhead_s[m] + latency_s[m];
    ++sends[messages[m].src];
  }
  std::vector<double> extra(P, 0.0);
  for (int r = 0; r < P; ++r) {
    if (sends[r] == 0 || max_peers_in_flight <= 0) continue;
    const int rounds = (sends[r] + max_peers_in_flight - 1) / max_peers_in_flight;
    extra[r] = (rounds - 1) * fixed_sum[r] / sends[r];
  }
  FluidAllToAllTimes times;
  times.ranks = P;
  times.src.reserve(count);
  times.dst.reserve(count);
  times.seconds.reserve(count);
  for (std::size_t m = 0; m < messages.size(); ++m) {
    if (inc.path_begin[m] == inc.path_begin[m + 1]) continue;
    const FluidTransfer& f = messages[m];
    times.src.push_back(static_cast<std::uint32_t>(f.src));
    times.dst.push_back(static_cast<std::uint32_t>(f.dst));
    times.seconds.push_back(overhead_s[m] + bw_s[m] + latency_s[m] + extra[f.src]);
  }
  times.link_wire_bytes = inc.link_bytes();
  return times;
}

FluidResult FluidAllToAllTimes::finish(std::span<const Time> start) const {
  MOESIM_CHECK(start.empty() || static_cast<int>(start.size()) == ranks, "fluid all-to-all: {} start times for {} ranks",
               start.size(), ranks);
  // A rank is done when it has entered, its sends have left and its receives have arrived.
  std::vector<double> done(static_cast<std::size_t>(ranks), 0.0);
  if (!start.empty())
    for (int r = 0; r < ranks; ++r) done[r] = start[r].seconds();
  for (std::size_t m = 0; m < seconds.size(); ++m) {
    const double t = (start.empty() ? 0.0 : start[src[m]].seconds()) + seconds[m];
    done[src[m]] = std::max(done[src[m]], t);
    done[dst[m]] = std::max(done[dst[m]], t);
  }
  FluidResult res;
  res.finish.resize(static_cast<std::size_t>(ranks));
  for (int r = 0; r < ranks; ++r) res.finish[r] = Time::from_seconds_ceil(done[r]);
  res.link_wire_bytes = link_wire_bytes;
  res.messages = seconds.size();
  return res;
}

FluidResult fluid_alltoallv(const TransferService& ts, std::span<const GpuId> ranks, std::span<const FluidTransfer> messages,
                            int max_peers_in_flight, std::span<const Time> start) {
  return fluid_alltoallv_times(ts, ranks, messages, max_peers_in_flight).finish(start);
}

bool alltoall_window_matters(const Topology& topo, std::span<const GpuId> ranks, std::span<const FluidTransfer> messages) {
  const int P = static_cast<int>(ranks.size());
  auto kind = [&](int r) -> const std::string& { return topo.node(topo.gpu(ranks[r]).node).kind; };
  return std::any_of(messages.begin(), messages.end(), [&](const FluidTransfer& f) {
    return f.bytes > 0 && f.src >= 0 && f.src < P && f.dst >= 0 && f.dst < P &&
           topo.gpu(ranks[f.src]).node != topo.gpu(ranks[f.dst]).node && kind(f.src) != kind(f.dst);
  });
}

FluidResult replay_alltoallv(const TransferService& like, std::span<const GpuId> ranks,
                             std::span<const FluidTransfer> messages, int max_peers_in_flight, std::span<const Time> start) {
  const int P = static_cast<int>(ranks.size());
  MOESIM_CHECK(start.empty() || static_cast<int>(start.size()) == P, "replayed all-to-all: {} start times for {} ranks",
               start.size(), P);
  const Topology& topo = like.topology();
  // Each rank's (peer, bytes) sorted by peer, for append_alltoallv's bytes(r, peer) queries.
  std::vector<std::vector<std::pair<int, double>>> rows(P);
  for (const FluidTransfer& f : messages) {
    MOESIM_CHECK(f.src >= 0 && f.src < P && f.dst >= 0 && f.dst < P, "replayed message {} -> {} outside a group of {}",
                 f.src, f.dst, P);
    MOESIM_CHECK(f.bytes >= 0 && std::isfinite(f.bytes), "replayed message of {} bytes", f.bytes);
    // A self-message takes no time but holds a window slot, as in the flow model's step.
    if (f.bytes > 0) rows[f.src].emplace_back(f.dst, f.bytes);
  }
  for (auto& row : rows) {
    std::sort(row.begin(), row.end());
    // Two messages of one pair in one all-to-all are one transfer of their sum.
    std::size_t w = 0;
    for (std::size_t k = 0; k < row.size(); ++k)
      if (w > 0 && row[w - 1].first == row[k].first)
        row[w - 1].second += row[k].second;
      else
        row[w++] = row[k];
    row.resize(w);
  }
  auto bytes = [&rows](int src, int dst) {
    const auto& row = rows[src];
    const auto it = std::lower_bound(row.begin(), row.end(), std::pair<int, double>(dst, 0.0),
                                     [](const auto& a, const auto& b) { return a.first < b.first; });
    return it != row.end() && it->first == dst ? it->second : 0.0;
  };
  TaskGraph graph;
  std::vector<TaskId> gates;  // rank r's sends wait start[r]
  for (std::size_t r = 0; r < start.size(); ++r) gates.push_back(graph.add_delay(ranks[r], start[r]));
  const CollectiveHandles h =
      append_alltoallv(graph, topo, ranks, bytes, AllToAllAlgorithm::Direct, max_peers_in_flight, gates);
  Engine engine;
  Network network(engine, topo.links(), {.completion_window = like.costs().network().completion_window});
  // As the training step's flow replay: the same allocation (sim/maxmin.h, declared
  // domination), measured a little faster (a 32 + 32 node mixed step: 10.6 against 12.0 s).
  TransferService transfers(engine, network, topo, like.costs(), {.cache_routes = true, .declare_dominated_links = true});
  Executor(transfers).run(graph);
  FluidResult res;
  res.finish.resize(P);
  // A rank with nothing to send or receive is done when it enters.
  for (int r = 0; r < P; ++r)
    res.finish[r] = std::max(graph.task(h.done[r]).finish, start.empty() ? Time::zero() : start[r]);
  const auto stats = network.link_stats();
  for (std::size_t l = 0; l < stats.size(); ++l)
    if (stats[l].wire_bytes > 0) res.link_wire_bytes.emplace_back(LinkId::from(l), stats[l].wire_bytes);
  res.messages = network.flows_completed();
  return res;
}

FluidAllToAll fluid_alltoall(const TransferService& transfers, std::span<const GpuId> ranks,
                             std::span<const FluidTransfer> messages, int max_peers_in_flight, std::span<const Time> start,
                             std::size_t max_replay_messages) {
  FluidAllToAll a;
  const FluidAllToAllPricing how =
      fluid_alltoall_pricing(transfers.topology(), ranks, messages, max_peers_in_flight, max_replay_messages);
  a.replayed = how == FluidAllToAllPricing::Replay;
  a.window_ignored = how == FluidAllToAllPricing::FormulaWindowIgnored;
  a.result = a.replayed ? replay_alltoallv(transfers, ranks, messages, max_peers_in_flight, start)
                        : fluid_alltoallv(transfers, ranks, messages, max_peers_in_flight, start);
  return a;
}

FluidAllToAllPricing fluid_alltoall_pricing(const Topology& topo, std::span<const GpuId> ranks,
                                            std::span<const FluidTransfer> messages, int max_peers_in_flight,
                                            std::size_t max_replay_messages) {
  // The window binds only on a rank with more than W messages (self-copies hold a slot too).
  bool window_binds = false;
  if (max_peers_in_flight > 0) {
    std::vector<int> sends(ranks.size(), 0);
    for (const FluidTransfer& f : messages)
      if (f.bytes > 0 && f.src >= 0 && static_cast<std::size_t>(f.src) < ranks.size())
        window_binds = window_binds || ++sends[f.src] > max_peers_in_flight;
  }
  if (!window_binds || !alltoall_window_matters(topo, ranks, messages)) return FluidAllToAllPricing::Formula;
  return messages.size() <= max_replay_messages ? FluidAllToAllPricing::Replay : FluidAllToAllPricing::FormulaWindowIgnored;
}

namespace {

// Ring collectives of `bytes` per rank (all-reduce) or gathered (all-gather) in each group:
// every step moves bytes / (P x channels) over every ring edge; 2 (P - 1) steps for the
// all-reduce, P - 1 for the all-gather (ring_steps in collectives.cpp).
FluidResult fluid_rings(const TransferService& ts, std::span<const std::vector<GpuId>> groups, double bytes,
                        std::span<const int> channels, bool allgather) {
  MOESIM_CHECK(channels.size() == groups.size(), "one channel count per group");
  MOESIM_CHECK(bytes >= 0 && std::isfinite(bytes), "{} of {} bytes", allgather ? "all-gather" : "all-reduce", bytes);
  const auto links = ts.topology().links();
  // Every ring edge of every group, with its group, overhead and latency.
  struct Edge {
    std::uint32_t group;
    double overhead_s;
    double latency_s;
  };
  std::vector<Edge> edges;
  Incidence inc;
  inc.path_begin.push_back(0);
  std::vector<LinkId> path;
  std::vector<int> steps(groups.size(), 0);
  for (std::size_t q = 0; q < groups.size(); ++q) {
    const auto& ranks = groups[q];
    const int P = static_cast<int>(ranks.size());
    if (P <= 1 || bytes <= 0) continue;
    const int ch = std::max(1, channels[q]);
    steps[q] = allgather ? P - 1 : 2 * (P - 1);
    const double chunk = bytes / P / ch;
    for (const auto& ring : ring_orders(ts.topology(), ranks, ch))
      for (int k = 0; k < P; ++k) {
        const auto c = inc.add(ts, ranks[ring[k]], ranks[ring[(k + 1) % P]], chunk, chunk, path);
        edges.push_back({static_cast<std::uint32_t>(q), c.overhead.seconds(), c.latency.seconds()});
      }
  }
  inc.group_by_link(links.size());
  // Per link: wire bytes of one step (every edge on it moves its chunk in every step).
  std::vector<double> step_load(links.size(), 0.0);
  for (std::size_t l = 0; l < links.size(); ++l)
    for (std::uint32_t k = inc.link_begin[l]; k < inc.link_begin[l + 1]; ++k) step_load[l] += inc.wire[inc.by_link[k]];
  std::vector<double> step_s(groups.size(), 0.0);
  for (std::size_t e = 0; e < edges.size(); ++e) {
    double worst = 0;
    for (std::uint32_t k = inc.path_begin[e]; k < inc.path_begin[e + 1]; ++k) {
      const std::size_t l = inc.links[k].index();
      worst = std::max(worst, step_load[l] / links[l].capacity_Bps);
    }
    const double t = edges[e].overhead_s + worst + edges[e].latency_s;
    step_s[edges[e].group] = std::max(step_s[edges[e].group], t);
  }
  FluidResult res;
  res.finish.resize(groups.size());
  for (std::size_t q = 0; q < groups.size(); ++q) res.finish[q] = Time::from_seconds_ceil(step_s[q] * steps[q]);
  // Wire bytes over the whole all-reduce: each edge moves its chunk in each of its group's steps.
  for (std::size_t e = 0; e < edges.size(); ++e) inc.wire[e] *= steps[edges[e].group];
  res.link_wire_bytes = inc.link_bytes();
  for (const Edge& e : edges) res.messages += static_cast<std::size_t>(steps[e.group]);
  return res;
}

}  // namespace

FluidResult fluid_allreduce_rings(const TransferService& ts, std::span<const std::vector<GpuId>> groups, double bytes,
                                  std::span<const int> channels) {
  return fluid_rings(ts, groups, bytes, channels, false);
}

FluidResult fluid_allgather_rings(const TransferService& ts, std::span<const std::vector<GpuId>> groups,
                                  double total_bytes, std::span<const int> channels) {
  return fluid_rings(ts, groups, total_bytes, channels, true);
}

FluidResult fluid_allreduce_trees(const TransferService& ts, std::span<const std::vector<GpuId>> groups, double bytes,
                                  std::span<const int> channels) {
  MOESIM_CHECK(channels.size() == groups.size(), "one channel count per group");
  MOESIM_CHECK(bytes >= 0 && std::isfinite(bytes), "all-reduce of {} bytes", bytes);
  const auto links = ts.topology().links();
  const TreePipeline pipeline = TreePipeline::from(ts.costs().collective());
  // Every tree of every group, ranks in breadth-first order from the root; its edges are
  // messages of `inc`: rank r's up edge (r -> parent) at up[r], its down edge at down[r].
  struct Tree {
    std::uint32_t group;
    int chunks;
    std::vector<int> parent;
    std::vector<int> order;
    std::vector<std::uint32_t> up, down;
  };
  struct Edge {
    int level;          // pipeline stage of its first chunk (see above)
    double fixed_s;     // per chunk: overhead + latency
    double chunk_wire;  // wire bytes of one chunk
  };
  std::vector<Tree> trees;
  std::vector<Edge> edges;
  Incidence inc;
  inc.path_begin.push_back(0);
  std::vector<LinkId> path;
  std::vector<int> level_up;
  std::size_t messages = 0;
  for (std::size_t q = 0; q < groups.size(); ++q) {
    const auto& ranks = groups[q];
    const int P = static_cast<int>(ranks.size());
    if (P <= 1 || bytes <= 0) continue;
    const int ch = std::max(1, channels[q]);
    const double tree_bytes = bytes / (2.0 * ch);
    const int K = pipeline.chunks(tree_bytes);
    for (auto& parent : tree_parents(ts.topology(), ranks, ch)) {
      Tree t{.group = static_cast<std::uint32_t>(q),
             .chunks = K,
             .parent = std::move(parent),
             .order = {},
             .up = std::vector<std::uint32_t>(P),
             .down = std::vector<std::uint32_t>(P)};
      std::vector<std::vector<int>> children(P);
      for (int r = 0; r < P; ++r)
        if (t.parent[r] < 0)
          t.order.push_back(r);
        else
          children[t.parent[r]].push_back(r);
      for (std::size_t i = 0; i < t.order.size(); ++i)
        for (int c : children[t.order[i]]) t.order.push_back(c);
      // Stages: a leaf's up edge is stage 0, r's up edge one after its children's; the root's
      // down edges one after the last up edge into it, each other down edge one after its parent's.
      level_up.assign(P, 0);
      for (auto it = t.order.rbegin(); it + 1 != t.order.rend(); ++it)
        level_up[t.parent[*it]] = std::max(level_up[t.parent[*it]], level_up[*it] + 1);
      std::vector<int> level_down(P, level_up[t.order.front()]);
      for (int r : t.order) {
        const int p = t.parent[r];
        if (p < 0) continue;
        if (t.parent[p] >= 0) level_down[r] = level_down[p] + 1;
        for (const bool is_up : {true, false}) {
          (is_up ? t.up[r] : t.down[r]) = static_cast<std::uint32_t>(edges.size());
          const auto c = inc.add(ts, ranks[is_up ? r : p], ranks[is_up ? p : r], tree_bytes / K, tree_bytes, path);
          edges.push_back({.level = is_up ? level_up[r] : level_down[r],
                           .fixed_s = c.overhead.seconds() + c.latency.seconds(),
                           .chunk_wire = inc.wire.back() / K});
        }
        messages += 2 * static_cast<std::size_t>(K);
      }
      trees.push_back(std::move(t));
    }
  }
  inc.group_by_link(links.size());

  // Per edge, the bandwidth time of one chunk on its worst link: `fill` shares the link with
  // the edges of the same stage (running at the same time while the pipeline fills), `steady`
  // with all of them (the whole link's bytes / K).
  std::vector<double> fill(edges.size(), 0.0), steady(edges.size(), 0.0);
  std::vector<std::pair<int, std::uint32_t>> on_link;  // (stage, edge)
  for (std::size_t l = 0; l < links.size(); ++l) {
    const std::uint32_t b = inc.link_begin[l], e = inc.link_begin[l + 1];
    if (b == e) continue;
    const double cap = links[l].capacity_Bps;
    on_link.clear();
    double total = 0;
    for (std::uint32_t k = b; k < e; ++k) {
      const std::uint32_t m = inc.by_link[k];
      on_link.emplace_back(edges[m].level, m);
      total += edges[m].chunk_wire;
    }
    std::sort(on_link.begin(), on_link.end());
    for (std::size_t i = 0; i < on_link.size();) {
      std::size_t j = i;
      double same = 0;
      for (; j < on_link.size() && on_link[j].first == on_link[i].first; ++j)
        same += edges[on_link[j].second].chunk_wire;
      for (std::size_t k = i; k < j; ++k) {
        const std::uint32_t m = on_link[k].second;
        fill[m] = std::max(fill[m], same / cap);
        steady[m] = std::max(steady[m], total / cap);
      }
      i = j;
    }
  }

  // A chunk's time on edge e: its fixed costs, then its bytes sharing the worst link with the
  // edges of its stage while the pipeline fills, with every edge of the link once it is full
  // (a full pipeline moves all stages in step, so they send and wait at the same times).
  auto tau_fill = [&](std::uint32_t e) { return edges[e].fixed_s + fill[e]; };
  auto tau_steady = [&](std::uint32_t e) { return edges[e].fixed_s + steady[e]; };
  std::vector<double> finish(groups.size(), 0.0);
  std::vector<double> upin, uproot, downroot, downout;
  for (const Tree& t : trees) {
    const int P = static_cast<int>(t.parent.size());
    const int root = t.order.front();
    // Sums of fill times: upin[r] the longest up path from a leaf to r, uproot[r] the up path
    // from r to the root, downroot[r] the down path from the root to r, downout[r] the longest
    // down path from r to a leaf.
    upin.assign(P, 0.0);
    uproot.assign(P, 0.0);
    downroot.assign(P, 0.0);
    downout.assign(P, 0.0);
    for (int r : t.order)
      if (r != root) {
        uproot[r] = tau_fill(t.up[r]) + uproot[t.parent[r]];
        downroot[r] = tau_fill(t.down[r]) + downroot[t.parent[r]];
      }
    for (auto it = t.order.rbegin(); it + 1 != t.order.rend(); ++it) {
      const int r = *it, p = t.parent[r];
      upin[p] = std::max(upin[p], upin[r] + tau_fill(t.up[r]));
      downout[p] = std::max(downout[p], downout[r] + tau_fill(t.down[r]));
    }
    // The longest path through each edge, with the K - 1 further chunks at that edge.
    const int K = t.chunks;
    double worst = 0;
    for (int r = 0; r < P; ++r) {
      if (r == root) continue;
      const double through_up = (K - 1) * tau_steady(t.up[r]) + upin[r] + uproot[r] + downout[root];
      const double through_down = (K - 1) * tau_steady(t.down[r]) + upin[root] + downroot[r] + downout[r];
      worst = std::max({worst, through_up, through_down});
    }
    finish[t.group] = std::max(finish[t.group], worst);
  }
  FluidResult res;
  res.finish.resize(groups.size());
  for (std::size_t q = 0; q < groups.size(); ++q) res.finish[q] = Time::from_seconds_ceil(finish[q]);
  res.link_wire_bytes = inc.link_bytes();
  res.messages = messages;
  return res;
}

FluidResult fluid_allreduce_nvls(const TransferService& ts, std::span<const std::vector<GpuId>> groups, double bytes) {
  MOESIM_CHECK(bytes >= 0 && std::isfinite(bytes), "all-reduce of {} bytes", bytes);
  const auto links = ts.topology().links();
  const TreePipeline pipeline = TreePipeline::from(ts.costs().collective());
  // Messages 2i (rank j's Reduce) and 2i+1 (its Multicast), i = issuers[i].
  struct Issuer {
    std::uint32_t group;
    int chunks;
  };
  std::vector<Issuer> issuers;
  std::vector<double> fixed_s, chunk_wire;
  Incidence inc;
  inc.path_begin.push_back(0);
  std::vector<LinkId> path;
  for (std::size_t q = 0; q < groups.size(); ++q) {
    const auto& ranks = groups[q];
    const int P = static_cast<int>(ranks.size());
    if (P <= 1 || bytes <= 0) continue;
    require_nvls(ts.topology(), ranks);
    const int K = pipeline.chunks(bytes);
    const double shard = bytes / K / P;
    for (int j = 0; j < P; ++j) {
      issuers.push_back({static_cast<std::uint32_t>(q), K});
      for (const SwitchOp op : {SwitchOp::Reduce, SwitchOp::Multicast}) {
        const auto c = inc.add_switch(ts, op, ranks[j], ranks, shard, shard * K, path);
        fixed_s.push_back(c.overhead.seconds() + c.latency.seconds());
        chunk_wire.push_back(inc.wire.back() / K);
      }
    }
  }
  inc.group_by_link(links.size());
  // Per message, one chunk's bandwidth time on its worst link: with its stage's messages
  // (fill) or with all of them (steady). Stage = message index parity.
  std::vector<double> fill(chunk_wire.size(), 0.0), steady(chunk_wire.size(), 0.0);
  for (std::size_t l = 0; l < links.size(); ++l) {
    double stage[2] = {0, 0};
    for (std::uint32_t k = inc.link_begin[l]; k < inc.link_begin[l + 1]; ++k)
      stage[inc.by_link[k] % 2] += chunk_wire[inc.by_link[k]];
    const double cap = links[l].capacity_Bps;
    for (std::uint32_t k = inc.link_begin[l]; k < inc.link_begin[l + 1]; ++k) {
      const std::uint32_t m = inc.by_link[k];
      fill[m] = std::max(fill[m], stage[m % 2] / cap);
      steady[m] = std::max(steady[m], (stage[0] + stage[1]) / cap);
    }
  }
  std::vector<double> finish(groups.size(), 0.0);
  for (std::size_t i = 0; i < issuers.size(); ++i) {
    const std::size_t rs = 2 * i, ag = 2 * i + 1;
    const double t = fixed_s[rs] + fill[rs] + fixed_s[ag] + fill[ag] +
                     (issuers[i].chunks - 1) * std::max(fixed_s[rs] + steady[rs], fixed_s[ag] + steady[ag]);
    finish[issuers[i].group] = std::max(finish[issuers[i].group], t);
  }
  FluidResult res;
  res.finish.resize(groups.size());
  for (std::size_t q = 0; q < groups.size(); ++q) res.finish[q] = Time::from_seconds_ceil(finish[q]);
  res.link_wire_bytes = inc.link_bytes();
  for (const Issuer& i : issuers) res.messages += 2 * static_cast<std::size_t>(i.chunks);
  return res;
}

FluidAllReduce fluid_allreduce(const TransferService& ts, std::span<const std::vector<GpuId>> groups, double bytes,
                               std::span<const int> channels, AllReduceAlgorithm algorithm) {
  switch (algorithm) {
    case AllReduceAlgorithm::Ring:
      return {AllReduceAlgorithm::Ring, fluid_allreduce_rings(ts, groups, bytes, channels)};
    case AllReduceAlgorithm::Tree:
      return {AllReduceAlgorithm::Tree, fluid_allreduce_trees(ts, groups, bytes, channels)};
    case AllReduceAlgorithm::Nvls:
      return {AllReduceAlgorithm::Nvls, fluid_allreduce_nvls(ts, groups, bytes)};
    case AllReduceAlgorithm::Auto:
      break;
  }
  FluidAllReduce best{AllReduceAlgorithm::Ring, fluid_allreduce_rings(ts, groups, bytes, channels)};
  auto keep_if_faster = [&](AllReduceAlgorithm a, FluidResult r) {
    if (r.last() < best.result.last()) best = {a, std::move(r)};
  };
  keep_if_faster(AllReduceAlgorithm::Tree, fluid_allreduce_trees(ts, groups, bytes, channels));
  const bool nvls = std::all_of(groups.begin(), groups.end(), [&](const std::vector<GpuId>& g) {
    return g.size() <= 1 || nvls_unsupported_reason(ts.topology(), g).empty();
  });
  if (nvls) keep_if_faster(AllReduceAlgorithm::Nvls, fluid_allreduce_nvls(ts, groups, bytes));
  return best;
}

}  // namespace moesim
