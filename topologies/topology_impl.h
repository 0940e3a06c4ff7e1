#pragma once
// Private: the inside of a sealed Topology. Included only by topologies/*.cpp.
#include <cstdint>
#include <string>
#include <vector>

#include <boost/graph/adjacency_list.hpp>

#include "topologies/topology.h"
#include "topologies/topology_builder.h"

namespace moesim::detail {

/// A precomputed path: `length` entries of a template's local-link pool from `offset`.
struct PathSpan {
  std::uint32_t offset = 0;
  std::uint16_t length = 0;
  bool valid = false;
};

/// Paths shared by every node with the same structure. Local link k of node n is global link
/// Impl::node_links[node_routes[n].link_base + k].
struct NodeTemplate {
  int gpu_count = 0;
  int nic_count = 0;
  std::vector<PathSpan> gpu_gpu;             // [src * gpu_count + dst]
  std::vector<Transport> gpu_gpu_transport;  // same index
  std::vector<PathSpan> gpu_nic;             // [gpu * nic_count + nic]
  std::vector<PathSpan> nic_gpu;             // [nic * gpu_count + gpu]
  std::vector<std::uint16_t> pool;           // local link indices
};

struct NodeRoute {
  std::uint32_t template_id = 0;
  std::uint32_t link_base = 0;  // into Impl::node_links
  std::uint32_t nic_base = 0;   // into Impl::nic_routes (node's NICs in vertex order)
};

inline constexpr std::uint32_t kNone = 0xffffffffu;

struct NicRoute {
  VertexId vertex;
  std::uint32_t up_link = kNone;    // NIC -> switch
  std::uint32_t down_link = kNone;  // switch -> NIC
  std::uint32_t switch_index = kNone;
};

struct GpuRoute {
  std::uint32_t node = 0;
  std::uint16_t local = 0;
  std::int16_t nic_local = -1;
};

struct NextHops {
  std::uint32_t offset = 0;
  std::uint32_t count = 0;
};

/// Fixed 64-bit mixer (splitmix64 finalizer): ECMP choices never depend on std::hash.
constexpr std::uint64_t mix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace moesim::detail

namespace moesim {

struct Topology::Impl {
  using Graph = boost::adjacency_list<boost::vecS, boost::vecS, boost::bidirectionalS, boost::no_property,
                                      boost::property<boost::edge_index_t, std::uint32_t>>;

  std::string name;
  Graph graph;  // vertex i = VertexId i; edge property = LinkId
  std::vector<VertexInfo> vertices;
  std::vector<LinkSpec> links;
  std::vector<VertexId> from;
  std::vector<VertexId> to;
  std::vector<GpuInfo> gpus;
  std::vector<NodeInfo> nodes;
  std::vector<P2pLevel> node_p2p;
  Transport fabric = Transport::InfiniBand;

  // CSR adjacency.
  std::vector<std::uint32_t> out_offsets, in_offsets;
  std::vector<LinkId> out_list, in_list;
  std::vector<std::pair<std::string, VertexId>> by_name;  // sorted by name

  // Routing tables.
  std::vector<detail::NodeTemplate> templates;
  std::vector<detail::NodeRoute> node_routes;
  std::vector<std::uint32_t> node_links;
  std::vector<detail::NicRoute> nic_routes;
  std::vector<detail::GpuRoute> gpu_routes;
  std::vector<VertexId> switches;               // switch index -> vertex
  std::vector<std::uint32_t> switch_index;       // vertex -> switch index (kNone otherwise)
  std::vector<std::uint32_t> next_hop_index;     // [a * S + b] -> next_hop_lists (kNone: none)
  std::vector<detail::NextHops> next_hop_lists;
  std::vector<std::uint32_t> next_hop_pool;      // link ids

  /// Calls f(LinkId) for each link of path(src, dst), in order. Returns false if no path.
  template <typename F>
  bool for_each_link(GpuId src, GpuId dst, F&& f) const;
};

template <typename F>
bool Topology::Impl::for_each_link(GpuId src, GpuId dst, F&& f) const {
  const auto& gs = gpu_routes[src.index()];
  const auto& gd = gpu_routes[dst.index()];
  if (src == dst) return true;
  const auto emit = [&](const detail::NodeRoute& nr, const detail::NodeTemplate& t, detail::PathSpan sp) {
    const std::uint32_t* base = node_links.data() + nr.link_base;
    const std::uint16_t* p = t.pool.data() + sp.offset;
    for (std::uint16_t i = 0; i < sp.length; ++i) f(LinkId(base[p[i]]));
  };
  const auto& ns = node_routes[gs.node];
  const auto& ts = templates[ns.template_id];
  if (gs.node == gd.node) {
    const auto sp = ts.gpu_gpu[static_cast<std::size_t>(gs.local) * ts.gpu_count + gd.local];
    if (!sp.valid) return false;
    emit(ns, ts, sp);
    return true;
  }
  if (gs.nic_local < 0 || gd.nic_local < 0) return false;
  const auto& nd = node_routes[gd.node];
  const auto& td = templates[nd.template_id];
  const auto& nic_s = nic_routes[ns.nic_base + static_cast<std::uint32_t>(gs.nic_local)];
  const auto& nic_d = nic_routes[nd.nic_base + static_cast<std::uint32_t>(gd.nic_local)];
  emit(ns, ts, ts.gpu_nic[static_cast<std::size_t>(gs.local) * ts.nic_count + static_cast<std::size_t>(gs.nic_local)]);
  f(LinkId(nic_s.up_link));
  const std::size_t S = switches.size();
  std::uint32_t cur = nic_s.switch_index;
  const std::uint32_t target = nic_d.switch_index;
  std::uint64_t h = detail::mix64((std::uint64_t{src.value()} << 32) | dst.value());
  while (cur != target) {
    const auto& nh = next_hop_lists[next_hop_index[cur * S + target]];
    std::uint32_t pick = 0;
    if (nh.count > 1) {
      pick = static_cast<std::uint32_t>(h % nh.count);
      h = detail::mix64(h);
    }
    const std::uint32_t l = next_hop_pool[nh.offset + pick];
    f(LinkId(l));
    cur = switch_index[to[l].index()];
  }
  f(LinkId(nic_d.down_link));
  emit(nd, td, td.nic_gpu[static_cast<std::size_t>(gd.nic_local) * td.gpu_count + gd.local]);
  return true;
}

}  // namespace moesim
