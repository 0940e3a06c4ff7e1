#include "sim/collectives/fluid.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "sim/collectives/collectives.h"
#include "sim/error.h"

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

FluidResult fluid_alltoallv(const TransferService& ts, std::span<const GpuId> ranks, std::span<const FluidTransfer> messages,
                            int max_peers_in_flight) {
  const int P = static_cast<int>(ranks.size());
  const auto links = ts.topology().links();
  Incidence inc;
  std::vector<double> overhead_s(messages.size());
  std::vector<double> latency_s(messages.size());
  inc.path_begin.reserve(messages.size() + 1);
  inc.wire.reserve(messages.size());
  std::vector<LinkId> path;
  std::vector<std::uint32_t> live;  // messages that cross links
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
  std::vector<std::uint32_t> order;
  for (std::size_t l = 0; l < links.size(); ++l) {
    const std::uint32_t b = inc.link_begin[l], e = inc.link_begin[l + 1];
    if (b == e) continue;
    order.assign(inc.by_link.begin() + b, inc.by_link.begin() + e);
    std::sort(order.begin(), order.end(), [&](std::uint32_t x, std::uint32_t y) {
      return inc.wire[x] < inc.wire[y] || (inc.wire[x] == inc.wire[y] && x < y);
    });
    const double cap = links[l].capacity_Bps;
    const std::size_t n = order.size();
    double below = 0;  // sum of the strictly smaller ones
    for (std::size_t i = 0; i < n;) {
      std::size_t j = i;
      const double w = inc.wire[order[i]];
      while (j < n && inc.wire[order[j]] == w) ++j;
      const double t = (below + w * static_cast<double>(n - i)) / cap;
      for (std::size_t k = i; k < j; ++k) bw_s[order[k]] = std::max(bw_s[order[k]], t);
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
  // A rank is done when its sends have left and its receives have arrived.
  std::vector<double> finish(P, 0.0);
  for (std::size_t m = 0; m < messages.size(); ++m) {
    if (inc.path_begin[m] == inc.path_begin[m + 1]) continue;
    const FluidTransfer& f = messages[m];
    const double t = overhead_s[m] + bw_s[m] + latency_s[m] + extra[f.src];
    finish[f.src] = std::max(finish[f.src], t);
    finish[f.dst] = std::max(finish[f.dst], t);
  }
  FluidResult res;
  res.finish.resize(P);
  for (int r = 0; r < P; ++r) res.finish[r] = Time::from_seconds_ceil(finish[r]);
  res.link_wire_bytes = inc.link_bytes();
  res.messages = count;
  return res;
}

FluidResult fluid_allreduce_rings(const TransferService& ts, std::span<const std::vector<GpuId>> groups, double bytes,
                                  std::span<const int> channels) {
  MOESIM_CHECK(channels.size() == groups.size(), "one channel count per group");
  MOESIM_CHECK(bytes >= 0 && std::isfinite(bytes), "all-reduce of {} bytes", bytes);
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
    steps[q] = 2 * (P - 1);
    const double chunk = bytes / P / ch;
    for (const auto& ring : ring_orders(ts.topology(), ranks, ch))
      for (int k = 0; k < P; ++k) {
        const GpuId from = ranks[ring[k]], to = ranks[ring[(k + 1) % P]];
        const auto c = ts.message_cost(from, to, chunk, path);
        edges.push_back({static_cast<std::uint32_t>(q), c.overhead.seconds(), c.latency.seconds()});
        inc.links.insert(inc.links.end(), path.begin(), path.end());
        inc.wire.push_back(chunk / c.efficiency);
        inc.path_begin.push_back(static_cast<std::uint32_t>(inc.links.size()));
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

}  // namespace moesim
