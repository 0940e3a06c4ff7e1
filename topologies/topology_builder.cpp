#include "topologies/topology_builder.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <boost/graph/breadth_first_search.hpp>
#include <boost/graph/filtered_graph.hpp>
#include <boost/graph/reverse_graph.hpp>

#include "sim/error.h"
#include "topologies/topology_impl.h"

namespace moesim {

std::string_view to_string(P2pLevel p) {
  switch (p) {
    case P2pLevel::None: return "none";
    case P2pLevel::Switch: return "switch";
    case P2pLevel::HostBridge: return "host_bridge";
    case P2pLevel::System: return "system";
  }
  return "?";
}

struct TopologyBuilder::State {
  std::string name;
  std::vector<VertexInfo> vertices;
  std::vector<LinkSpec> links;
  std::vector<VertexId> from, to;
  std::vector<GpuInfo> gpus;
  std::vector<NodeSpec> nodes;
  std::vector<char> declared_gpu;  // per vertex: add_gpu() called
  std::map<std::string, VertexId, std::less<>> names;
  Transport fabric = Transport::InfiniBand;
};

TopologyBuilder::TopologyBuilder(std::string name) : s_(std::make_unique<State>()) { s_->name = std::move(name); }
TopologyBuilder::TopologyBuilder(TopologyBuilder&&) noexcept = default;
TopologyBuilder& TopologyBuilder::operator=(TopologyBuilder&&) noexcept = default;
TopologyBuilder::~TopologyBuilder() = default;

namespace {
void require_state(const std::unique_ptr<TopologyBuilder::State>& s) {
  MOESIM_CHECK(s != nullptr, "TopologyBuilder used after seal()");
}
}  // namespace

int TopologyBuilder::add_node(NodeSpec spec) {
  require_state(s_);
  s_->nodes.push_back(std::move(spec));
  return static_cast<int>(s_->nodes.size()) - 1;
}

VertexId TopologyBuilder::add_vertex(VertexKind kind, std::string name, int node) {
  require_state(s_);
  if (node < -1 || node >= static_cast<int>(s_->nodes.size()))
    throw InputError(fmt::format("vertex \"{}\": node {} does not exist ({} nodes added)", name, node, s_->nodes.size()));
  if ((kind == VertexKind::NetworkSwitch) != (node == -1))
    throw InputError(fmt::format("vertex \"{}\": network switches (and only they) belong to no node (node = -1)", name));
  if (name.empty()) throw InputError("vertex names must not be empty");
  const VertexId id = VertexId::from(s_->vertices.size());
  if (!s_->names.emplace(name, id).second) throw InputError(fmt::format("duplicate vertex name \"{}\"", name));
  s_->vertices.push_back(VertexInfo{.kind = kind, .name = std::move(name), .node = node});
  s_->declared_gpu.push_back(0);
  return id;
}

LinkId TopologyBuilder::add_link(VertexId from, VertexId to, LinkSpec spec) {
  require_state(s_);
  if (from.index() >= s_->vertices.size() || to.index() >= s_->vertices.size())
    throw InputError(fmt::format("link {} -> {}: vertex out of range", from, to));
  if (from == to) throw InputError(fmt::format("link from \"{}\" to itself", s_->vertices[from.index()].name));
  if (!(spec.capacity_Bps > 0) || !std::isfinite(spec.capacity_Bps))
    throw InputError(fmt::format("link \"{}\" -> \"{}\": capacity must be > 0 bytes/s, got {}",
                                 s_->vertices[from.index()].name, s_->vertices[to.index()].name, spec.capacity_Bps));
  if (spec.latency < Time::zero())
    throw InputError(fmt::format("link \"{}\" -> \"{}\": latency must be >= 0", s_->vertices[from.index()].name,
                                 s_->vertices[to.index()].name));
  const LinkId id = LinkId::from(s_->links.size());
  s_->links.push_back(std::move(spec));
  s_->from.push_back(from);
  s_->to.push_back(to);
  return id;
}

std::pair<LinkId, LinkId> TopologyBuilder::add_duplex_link(VertexId a, VertexId b, const LinkSpec& spec) {
  const LinkId ab = add_link(a, b, spec);
  const LinkId ba = add_link(b, a, spec);
  return {ab, ba};
}

GpuId TopologyBuilder::add_gpu(VertexId vertex, int node, int local_index, std::string gpu_kind, VertexId nic) {
  require_state(s_);
  if (vertex.index() >= s_->vertices.size()) throw InputError(fmt::format("GPU vertex {} out of range", vertex));
  const auto& v = s_->vertices[vertex.index()];
  if (v.kind != VertexKind::Gpu) throw InputError(fmt::format("vertex \"{}\" is a {}, not a GPU", v.name, to_string(v.kind)));
  if (v.node != node)
    throw InputError(fmt::format("GPU \"{}\" belongs to node {}, not node {}", v.name, v.node, node));
  if (s_->declared_gpu[vertex.index()]) throw InputError(fmt::format("GPU \"{}\" added twice", v.name));
  // Node-major order with consecutive local indices keeps GpuIds = node-major numbering.
  if (!s_->gpus.empty()) {
    const auto& last = s_->gpus.back();
    const bool same = last.node == node;
    if (node < last.node || (same && local_index != last.local_index + 1) || (!same && local_index != 0))
      throw InputError(fmt::format("GPU \"{}\" (node {}, local {}) added out of node-major order (previous: node {}, local {})",
                                   v.name, node, local_index, last.node, last.local_index));
  } else if (local_index != 0) {
    throw InputError(fmt::format("GPU \"{}\": the first GPU of a node must have local index 0", v.name));
  }
  if (nic != kNoVertex) {
    if (nic.index() >= s_->vertices.size()) throw InputError(fmt::format("GPU \"{}\": NIC vertex out of range", v.name));
    const auto& n = s_->vertices[nic.index()];
    if (n.kind != VertexKind::Nic || n.node != node)
      throw InputError(fmt::format("GPU \"{}\": \"{}\" is not a NIC of node {}", v.name, n.name, node));
  }
  const GpuId id = GpuId::from(s_->gpus.size());
  s_->declared_gpu[vertex.index()] = 1;
  s_->gpus.push_back(GpuInfo{.vertex = vertex, .node = node, .local_index = local_index, .kind = std::move(gpu_kind), .nic = nic});
  return id;
}

void TopologyBuilder::set_fabric_transport(Transport t) {
  require_state(s_);
  if (!is_network(t)) throw InputError(fmt::format("fabric transport must be a network transport, got {}", to_string(t)));
  s_->fabric = t;
}

std::size_t TopologyBuilder::vertex_count() const { return s_->vertices.size(); }
const VertexInfo& TopologyBuilder::vertex(VertexId v) const { return s_->vertices.at(v.index()); }
std::size_t TopologyBuilder::link_count() const { return s_->links.size(); }
LinkSpec& TopologyBuilder::link(LinkId l) { return s_->links.at(l.index()); }
VertexId TopologyBuilder::link_from(LinkId l) const { return s_->from.at(l.index()); }
VertexId TopologyBuilder::link_to(LinkId l) const { return s_->to.at(l.index()); }
int TopologyBuilder::node_count() const { return static_cast<int>(s_->nodes.size()); }

// ------------------------------------------------------------------------------------------
// Sealing: templates of intra-node paths, fabric next-hop tables, connectivity check.
namespace {

using LocalGraph = boost::adjacency_list<boost::vecS, boost::vecS, boost::directedS, boost::no_property,
                                         boost::property<boost::edge_index_t, std::uint32_t>>;

constexpr std::uint32_t bit(LinkClass c) { return 1u << static_cast<unsigned>(c); }
constexpr std::uint32_t bit(VertexKind k) { return 1u << static_cast<unsigned>(k); }

/// Edge filter of one BFS stage: allowed link classes; intermediate vertices only of the
/// allowed kinds (the source may always be left).
struct StageFilter {
  const LocalGraph* g = nullptr;
  const std::vector<VertexKind>* kinds = nullptr;
  const std::vector<LinkClass>* classes = nullptr;
  std::size_t src = 0;
  std::uint32_t class_mask = 0;
  std::uint32_t kind_mask = 0;
  template <typename E>
  bool operator()(const E& e) const {
    const auto l = boost::get(boost::edge_index, *g, e);
    if (!(class_mask & bit((*classes)[l]))) return false;
    const auto u = boost::source(e, *g);
    return u == src || (kind_mask & bit((*kinds)[u]));
  }
};

struct BfsResult {
  std::vector<std::uint32_t> dist;       // kNone = unreached
  std::vector<std::uint32_t> pred_link;  // local link into the vertex
};

struct Recorder : boost::default_bfs_visitor {
  BfsResult* r = nullptr;
  template <typename E, typename G>
  void tree_edge(E e, const G& g) const {
    const auto u = boost::source(e, g), v = boost::target(e, g);
    r->dist[v] = r->dist[u] + 1;
    r->pred_link[v] = boost::get(boost::edge_index, g, e);
  }
};

struct LocalNode {
  LocalGraph graph;
  std::vector<VertexKind> kinds;
  std::vector<LinkClass> classes;
  std::vector<std::uint32_t> link_from;  // local vertex
  std::vector<std::uint32_t> gpu_vertex;
  std::vector<std::uint32_t> nic_vertex;
  std::vector<std::uint32_t> sockets;
};

BfsResult bfs(const LocalNode& n, std::uint32_t src, std::uint32_t class_mask, std::uint32_t kind_mask) {
  BfsResult r;
  r.dist.assign(n.kinds.size(), detail::kNone);
  r.pred_link.assign(n.kinds.size(), detail::kNone);
  r.dist[src] = 0;
  StageFilter f{.g = &n.graph, .kinds = &n.kinds, .classes = &n.classes, .src = src, .class_mask = class_mask, .kind_mask = kind_mask};
  boost::filtered_graph<LocalGraph, StageFilter> fg(n.graph, f);
  Recorder rec;
  rec.r = &r;
  boost::breadth_first_search(fg, src, boost::visitor(rec));
  return r;
}

void append_path(const LocalNode& n, const BfsResult& r, std::uint32_t src, std::uint32_t dst, std::vector<std::uint16_t>& out) {
  const auto start = out.size();
  for (std::uint32_t v = dst; v != src;) {
    const auto l = r.pred_link[v];
    out.push_back(static_cast<std::uint16_t>(l));
    v = n.link_from[l];
  }
  std::reverse(out.begin() + static_cast<std::ptrdiff_t>(start), out.end());
}

detail::PathSpan finish_span(std::vector<std::uint16_t>& pool, std::size_t start) {
  const auto len = pool.size() - start;
  MOESIM_CHECK(len < 65536 && start < 0xffffffffu, "path too long");
  return detail::PathSpan{.offset = static_cast<std::uint32_t>(start), .length = static_cast<std::uint16_t>(len), .valid = true};
}

detail::NodeTemplate build_template(const LocalNode& n, P2pLevel p2p) {
  detail::NodeTemplate t;
  const auto G = n.gpu_vertex.size(), N = n.nic_vertex.size();
  t.gpu_count = static_cast<int>(G);
  t.nic_count = static_cast<int>(N);
  t.gpu_gpu.resize(G * G);
  t.gpu_gpu_transport.assign(G * G, Transport::PcieHost);
  t.gpu_nic.resize(G * N);
  t.nic_gpu.resize(N * G);

  const std::uint32_t pcie_host = bit(LinkClass::PCIe) | bit(LinkClass::HostInterconnect);
  const std::uint32_t host_kinds = bit(VertexKind::PcieSwitch) | bit(VertexKind::HostBridge) | bit(VertexKind::CpuSocket);
  std::uint32_t p2p_classes = bit(LinkClass::PCIe), p2p_kinds = 0;
  switch (p2p) {
    case P2pLevel::None: break;
    case P2pLevel::Switch: p2p_kinds = bit(VertexKind::PcieSwitch); break;
    case P2pLevel::HostBridge: p2p_kinds = bit(VertexKind::PcieSwitch) | bit(VertexKind::HostBridge); break;
    case P2pLevel::System: p2p_kinds = host_kinds; p2p_classes = pcie_host; break;
  }

  std::vector<BfsResult> from_socket;
  for (auto s : n.sockets) from_socket.push_back(bfs(n, s, pcie_host, host_kinds));

  for (std::size_t i = 0; i < G; ++i) {
    const auto src = n.gpu_vertex[i];
    const auto nv = bfs(n, src, bit(LinkClass::NVLink), bit(VertexKind::NVSwitch));
    BfsResult pp;
    if (p2p != P2pLevel::None) pp = bfs(n, src, p2p_classes, p2p_kinds);
    const auto host = bfs(n, src, pcie_host, host_kinds);
    for (std::size_t j = 0; j < G; ++j) {
      const auto idx = i * G + j;
      const auto dst = n.gpu_vertex[j];
      const auto start = t.pool.size();
      if (i == j) {
        t.gpu_gpu[idx] = finish_span(t.pool, start);
        t.gpu_gpu_transport[idx] = Transport::NVLink;
        continue;
      }
      if (nv.dist[dst] != detail::kNone) {
        append_path(n, nv, src, dst, t.pool);
        t.gpu_gpu_transport[idx] = Transport::NVLink;
      } else if (p2p != P2pLevel::None && pp.dist[dst] != detail::kNone) {
        append_path(n, pp, src, dst, t.pool);
        t.gpu_gpu_transport[idx] = Transport::PcieP2P;
      } else {
        // Through host memory: via the CPU socket minimizing total hops (first on ties).
        std::size_t best = n.sockets.size();
        std::uint32_t best_d = detail::kNone;
        for (std::size_t s = 0; s < n.sockets.size(); ++s) {
          const auto a = host.dist[n.sockets[s]], b = from_socket[s].dist[dst];
          if (a == detail::kNone || b == detail::kNone) continue;
          if (a + b < best_d) { best_d = a + b; best = s; }
        }
        if (best == n.sockets.size()) continue;  // invalid: reported by the connectivity check
        append_path(n, host, src, n.sockets[best], t.pool);
        append_path(n, from_socket[best], n.sockets[best], dst, t.pool);
        t.gpu_gpu_transport[idx] = Transport::PcieHost;
      }
      t.gpu_gpu[idx] = finish_span(t.pool, start);
    }
    for (std::size_t k = 0; k < N; ++k) {
      const auto nic = n.nic_vertex[k];
      if (host.dist[nic] == detail::kNone) continue;
      const auto start = t.pool.size();
      append_path(n, host, src, nic, t.pool);
      t.gpu_nic[i * N + k] = finish_span(t.pool, start);
    }
  }
  for (std::size_t k = 0; k < N; ++k) {
    const auto nic = n.nic_vertex[k];
    const auto r = bfs(n, nic, pcie_host, host_kinds);
    for (std::size_t i = 0; i < G; ++i) {
      const auto g = n.gpu_vertex[i];
      if (r.dist[g] == detail::kNone) continue;
      const auto start = t.pool.size();
      append_path(n, r, nic, g, t.pool);
      t.nic_gpu[k * G + i] = finish_span(t.pool, start);
    }
  }
  return t;
}

}  // namespace

Topology TopologyBuilder::seal() && {
  require_state(s_);
  auto st = std::move(s_);
  auto impl = std::make_unique<Topology::Impl>();
  Topology::Impl& t = *impl;
  t.name = std::move(st->name);
  t.vertices = std::move(st->vertices);
  t.links = std::move(st->links);
  t.from = std::move(st->from);
  t.to = std::move(st->to);
  t.gpus = std::move(st->gpus);
  t.fabric = st->fabric;
  const std::size_t V = t.vertices.size(), L = t.links.size(), NN = st->nodes.size();
  const auto vname = [&](VertexId v) -> const std::string& { return t.vertices[v.index()].name; };

  if (t.gpus.empty()) throw InputError(fmt::format("topology \"{}\" has no GPUs", t.name));
  for (std::size_t v = 0; v < V; ++v)
    if (t.vertices[v].kind == VertexKind::Gpu && !st->declared_gpu[v])
      throw InputError(fmt::format("vertex \"{}\" is a GPU vertex but was never declared with add_gpu()", t.vertices[v].name));

  // Links: same node, NIC <-> network switch, or switch <-> switch.
  for (std::size_t l = 0; l < L; ++l) {
    const auto& a = t.vertices[t.from[l].index()];
    const auto& b = t.vertices[t.to[l].index()];
    if (a.node == b.node) continue;  // internal (or switch <-> switch, both -1)
    const bool nic_switch = (a.kind == VertexKind::Nic && b.kind == VertexKind::NetworkSwitch) ||
                            (a.kind == VertexKind::NetworkSwitch && b.kind == VertexKind::Nic);
    if (!nic_switch)
      throw InputError(fmt::format("link \"{}\" -> \"{}\" joins two nodes directly; only NIC <-> network switch links "
                                   "may leave a node", a.name, b.name));
  }

  // CSR adjacency, name index, Boost graph.
  t.out_offsets.assign(V + 1, 0);
  t.in_offsets.assign(V + 1, 0);
  for (std::size_t l = 0; l < L; ++l) {
    ++t.out_offsets[t.from[l].index() + 1];
    ++t.in_offsets[t.to[l].index() + 1];
  }
  for (std::size_t v = 0; v < V; ++v) {
    t.out_offsets[v + 1] += t.out_offsets[v];
    t.in_offsets[v + 1] += t.in_offsets[v];
  }
  t.out_list.resize(L);
  t.in_list.resize(L);
  {
    auto oc = t.out_offsets, ic = t.in_offsets;
    for (std::size_t l = 0; l < L; ++l) {
      t.out_list[oc[t.from[l].index()]++] = LinkId::from(l);
      t.in_list[ic[t.to[l].index()]++] = LinkId::from(l);
    }
  }
  t.by_name.reserve(V);
  for (auto& [n, v] : st->names) t.by_name.emplace_back(n, v);  // std::map: already sorted
  for (std::size_t v = 0; v < V; ++v) boost::add_vertex(t.graph);
  for (std::size_t l = 0; l < L; ++l)
    boost::add_edge(t.from[l].index(), t.to[l].index(), static_cast<std::uint32_t>(l), t.graph);

  // Nodes: info, local vertices and internal links, templates.
  std::vector<std::vector<std::uint32_t>> node_vertices(NN), node_internal(NN);
  for (std::size_t v = 0; v < V; ++v)
    if (t.vertices[v].node >= 0) node_vertices[static_cast<std::size_t>(t.vertices[v].node)].push_back(static_cast<std::uint32_t>(v));
  for (std::size_t l = 0; l < L; ++l) {
    const int n = t.vertices[t.from[l].index()].node;
    if (n >= 0 && n == t.vertices[t.to[l].index()].node) node_internal[static_cast<std::size_t>(n)].push_back(static_cast<std::uint32_t>(l));
  }
  std::vector<std::vector<std::uint32_t>> node_gpus(NN);
  for (std::size_t g = 0; g < t.gpus.size(); ++g) node_gpus[static_cast<std::size_t>(t.gpus[g].node)].push_back(static_cast<std::uint32_t>(g));

  t.nodes.resize(NN);
  t.node_p2p.resize(NN);
  t.node_routes.resize(NN);
  t.gpu_routes.resize(t.gpus.size());
  std::vector<std::uint32_t> local_of(V, detail::kNone);
  std::map<std::vector<std::uint64_t>, std::uint32_t> template_of;
  for (std::size_t n = 0; n < NN; ++n) {
    if (node_gpus[n].empty()) throw InputError(fmt::format("node {} (kind \"{}\") has no GPUs", n, st->nodes[n].kind));
    const auto& verts = node_vertices[n];
    for (std::size_t i = 0; i < verts.size(); ++i) local_of[verts[i]] = static_cast<std::uint32_t>(i);
    LocalNode ln;
    ln.kinds.reserve(verts.size());
    std::vector<std::uint64_t> sig;
    sig.push_back(static_cast<std::uint64_t>(st->nodes[n].p2p));
    sig.push_back(verts.size());
    std::vector<std::uint32_t> nic_vertices;
    for (std::size_t i = 0; i < verts.size(); ++i) {
      const auto k = t.vertices[verts[i]].kind;
      ln.kinds.push_back(k);
      sig.push_back(static_cast<std::uint64_t>(k));
      if (k == VertexKind::Nic) {
        ln.nic_vertex.push_back(static_cast<std::uint32_t>(i));
        nic_vertices.push_back(verts[i]);
      }
      if (k == VertexKind::CpuSocket) ln.sockets.push_back(static_cast<std::uint32_t>(i));
    }
    const auto& internal = node_internal[n];
    if (internal.size() >= 65535)
      throw InputError(fmt::format("node {} has {} internal links; at most 65534 are supported", n, internal.size()));
    for (std::size_t i = 0; i < verts.size(); ++i) boost::add_vertex(ln.graph);
    sig.push_back(internal.size());
    for (std::size_t k = 0; k < internal.size(); ++k) {
      const auto l = internal[k];
      const auto a = local_of[t.from[l].index()], b = local_of[t.to[l].index()];
      boost::add_edge(a, b, static_cast<std::uint32_t>(k), ln.graph);
      ln.classes.push_back(t.links[l].link_class);
      ln.link_from.push_back(a);
      sig.push_back((std::uint64_t{a} << 40) | (std::uint64_t{b} << 8) | static_cast<std::uint64_t>(t.links[l].link_class));
    }
    for (auto g : node_gpus[n]) {
      ln.gpu_vertex.push_back(local_of[t.gpus[g].vertex.index()]);
      sig.push_back(ln.gpu_vertex.back());
    }
    auto [it, inserted] = template_of.emplace(std::move(sig), static_cast<std::uint32_t>(t.templates.size()));
    if (inserted) t.templates.push_back(build_template(ln, st->nodes[n].p2p));

    auto& nr = t.node_routes[n];
    nr.template_id = it->second;
    nr.link_base = static_cast<std::uint32_t>(t.node_links.size());
    t.node_links.insert(t.node_links.end(), internal.begin(), internal.end());
    nr.nic_base = static_cast<std::uint32_t>(t.nic_routes.size());
    for (auto v : nic_vertices) t.nic_routes.push_back(detail::NicRoute{.vertex = VertexId(v)});

    auto& info = t.nodes[n];
    info.kind = st->nodes[n].kind;
    info.first_gpu = GpuId(node_gpus[n].front());
    info.gpu_count = static_cast<int>(node_gpus[n].size());
    info.nic_count = static_cast<int>(nic_vertices.size());
    info.nvls = st->nodes[n].nvls;
    if (info.nvls && std::find(ln.kinds.begin(), ln.kinds.end(), VertexKind::NVSwitch) == ln.kinds.end())
      throw InputError(fmt::format("node {} (kind \"{}\") is marked NVLS-capable but has no NVSwitch", n, info.kind));
    t.node_p2p[n] = st->nodes[n].p2p;
    for (std::size_t i = 0; i < node_gpus[n].size(); ++i) {
      const auto g = node_gpus[n][i];
      auto& r = t.gpu_routes[g];
      r.node = static_cast<std::uint32_t>(n);
      r.local = static_cast<std::uint16_t>(i);
      if (t.gpus[g].nic != kNoVertex) {
        const auto pos = std::find(nic_vertices.begin(), nic_vertices.end(), t.gpus[g].nic.value()) - nic_vertices.begin();
        r.nic_local = static_cast<std::int16_t>(pos);
      }
    }
  }

  // Fabric: switches, NIC access links, next-hop tables.
  t.switch_index.assign(V, detail::kNone);
  for (std::size_t v = 0; v < V; ++v)
    if (t.vertices[v].kind == VertexKind::NetworkSwitch) {
      t.switch_index[v] = static_cast<std::uint32_t>(t.switches.size());
      t.switches.push_back(VertexId::from(v));
    }
  for (auto& nic : t.nic_routes) {
    const auto b = t.out_offsets[nic.vertex.index()], e = t.out_offsets[nic.vertex.index() + 1];
    for (auto i = b; i < e; ++i) {
      const auto l = t.out_list[i].value();
      if (t.switch_index[t.to[l].index()] == detail::kNone) continue;
      if (nic.up_link != detail::kNone)
        throw InputError(fmt::format("NIC \"{}\" has several links to network switches; a NIC attaches to one switch "
                                     "(model a multi-port NIC as one link of the summed bandwidth)", vname(nic.vertex)));
      nic.up_link = l;
      nic.switch_index = t.switch_index[t.to[l].index()];
    }
    const auto bi = t.in_offsets[nic.vertex.index()], ei = t.in_offsets[nic.vertex.index() + 1];
    for (auto i = bi; i < ei; ++i) {
      const auto l = t.in_list[i].value();
      if (t.switch_index[t.from[l].index()] == detail::kNone) continue;
      if (nic.down_link != detail::kNone || t.switch_index[t.from[l].index()] != nic.switch_index)
        throw InputError(fmt::format("NIC \"{}\" must have exactly one duplex link to one network switch", vname(nic.vertex)));
      nic.down_link = l;
    }
    if ((nic.up_link == detail::kNone) != (nic.down_link == detail::kNone))
      throw InputError(fmt::format("NIC \"{}\" has a network link in one direction only", vname(nic.vertex)));
  }
  const std::size_t S = t.switches.size();
  if (S > 0) {
    Topology::Impl::Graph sg(S);
    std::vector<std::vector<std::uint32_t>> core_out(S);
    for (std::size_t l = 0; l < L; ++l) {
      const auto a = t.switch_index[t.from[l].index()], b = t.switch_index[t.to[l].index()];
      if (a == detail::kNone || b == detail::kNone) continue;
      boost::add_edge(a, b, static_cast<std::uint32_t>(l), sg);
      core_out[a].push_back(static_cast<std::uint32_t>(l));
    }
    // dist_to[b * S + a] = hops from switch a to switch b.
    std::vector<std::uint32_t> dist_to(S * S, detail::kNone);
    const auto rg = boost::make_reverse_graph(sg);
    for (std::size_t b = 0; b < S; ++b) {
      std::uint32_t* d = dist_to.data() + b * S;
      d[b] = 0;
      boost::breadth_first_search(rg, b, boost::visitor(boost::make_bfs_visitor(boost::record_distances(d, boost::on_tree_edge()))));
    }
    t.next_hop_index.assign(S * S, detail::kNone);
    std::vector<std::uint32_t> cand;
    for (std::size_t a = 0; a < S; ++a) {
      std::map<std::vector<std::uint32_t>, std::uint32_t> dedup;
      for (std::size_t b = 0; b < S; ++b) {
        if (a == b) continue;
        const auto da = dist_to[b * S + a];
        if (da == detail::kNone) continue;
        cand.clear();
        for (auto l : core_out[a])
          if (dist_to[b * S + t.switch_index[t.to[l].index()]] + 1 == da) cand.push_back(l);
        auto [it, inserted] = dedup.emplace(cand, static_cast<std::uint32_t>(t.next_hop_lists.size()));
        if (inserted) {
          t.next_hop_lists.push_back(detail::NextHops{.offset = static_cast<std::uint32_t>(t.next_hop_pool.size()),
                                                      .count = static_cast<std::uint32_t>(cand.size())});
          t.next_hop_pool.insert(t.next_hop_pool.end(), cand.begin(), cand.end());
        }
        t.next_hop_index[a * S + b] = it->second;
      }
    }
  }

  // Connectivity: every GPU reaches every other GPU.
  std::vector<std::string> problems;
  std::set<std::string> involved;
  std::size_t problem_count = 0;
  const auto report = [&](std::uint32_t a, std::uint32_t b, const std::string& why) {
    ++problem_count;
    involved.insert(vname(t.gpus[a].vertex));
    if (b != detail::kNone) involved.insert(vname(t.gpus[b].vertex));
    if (problems.size() < 3) problems.push_back(why);
  };
  for (std::size_t n = 0; n < NN; ++n) {
    const auto& tp = t.templates[t.node_routes[n].template_id];
    const auto G = static_cast<std::size_t>(tp.gpu_count);
    for (std::size_t i = 0; i < G; ++i)
      for (std::size_t j = 0; j < G; ++j)
        if (!tp.gpu_gpu[i * G + j].valid)
          report(node_gpus[n][i], node_gpus[n][j],
                 fmt::format("{} -> {}: no NVLink, PCIe or host path inside node {} (kind \"{}\")",
                             vname(t.gpus[node_gpus[n][i]].vertex), vname(t.gpus[node_gpus[n][j]].vertex), n, st->nodes[n].kind));
  }
  std::set<std::uint32_t> used_switches;
  for (std::size_t g = 0; g < t.gpus.size(); ++g) {
    const auto& r = t.gpu_routes[g];
    if (r.nic_local < 0) {
      if (NN > 1) report(static_cast<std::uint32_t>(g), detail::kNone, fmt::format("{} has no NIC but the cluster has {} nodes", vname(t.gpus[g].vertex), NN));
      continue;
    }
    const auto& tp = t.templates[t.node_routes[r.node].template_id];
    const auto k = static_cast<std::size_t>(r.nic_local);
    const auto& nic = t.nic_routes[t.node_routes[r.node].nic_base + k];
    if (!tp.gpu_nic[r.local * static_cast<std::size_t>(tp.nic_count) + k].valid ||
        !tp.nic_gpu[k * static_cast<std::size_t>(tp.gpu_count) + r.local].valid) {
      report(static_cast<std::uint32_t>(g), detail::kNone,
             fmt::format("{} has no PCIe path to and from its NIC {}", vname(t.gpus[g].vertex), vname(nic.vertex)));
      continue;
    }
    if (NN > 1 && nic.up_link == detail::kNone) {
      report(static_cast<std::uint32_t>(g), detail::kNone,
             fmt::format("{}'s NIC {} is not linked to a network switch", vname(t.gpus[g].vertex), vname(nic.vertex)));
      continue;
    }
    if (nic.switch_index != detail::kNone) used_switches.insert(nic.switch_index);
  }
  if (problem_count == 0) {
    for (auto a : used_switches)
      for (auto b : used_switches)
        if (a != b && t.next_hop_index[a * S + b] == detail::kNone) {
          for (std::size_t g = 0; g < t.gpus.size(); ++g) {
            const auto& r = t.gpu_routes[g];
            if (r.nic_local >= 0 && t.nic_routes[t.node_routes[r.node].nic_base + static_cast<std::size_t>(r.nic_local)].switch_index == a)
              involved.insert(vname(t.gpus[g].vertex));
          }
          ++problem_count;
          if (problems.size() < 3)
            problems.push_back(fmt::format("network switch {} cannot reach {}", vname(t.switches[a]), vname(t.switches[b])));
        }
  }
  if (problem_count > 0) {
    std::vector<std::string> names(involved.begin(), involved.end());
    const auto shown = std::min<std::size_t>(names.size(), 16);
    throw InputError(fmt::format("disconnected GPUs in \"{}\": {}{}; GPUs affected ({}): {}{}", t.name, fmt::join(problems, "; "),
                                 problem_count > problems.size() ? fmt::format(" (and {} more)", problem_count - problems.size()) : "",
                                 names.size(), fmt::join(names.begin(), names.begin() + static_cast<std::ptrdiff_t>(shown), ", "),
                                 shown < names.size() ? ", ..." : ""));
  }
  return Topology(std::move(impl));
}

}  // namespace moesim
