#include "topologies/topology_report.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/push_relabel_max_flow.hpp>
#include <fmt/format.h>

#include "sim/error.h"

namespace moesim {
namespace {

std::string gbps(double Bps) {
  const double GBps = Bps / 1e9;
  if (GBps >= 1000) return fmt::format("{:.4g} TB/s ({:.4g} Tb/s)", GBps / 1000, GBps * 8 / 1000);
  return fmt::format("{:.4g} GB/s ({:.4g} Gb/s)", GBps, GBps * 8);
}

}  // namespace

double network_bisection_Bps(const Topology& t) {
  const int N = t.node_count();
  if (N < 2 || t.network_switch_count() == 0) return 0;
  using Traits = boost::adjacency_list_traits<boost::vecS, boost::vecS, boost::directedS>;
  using Graph = boost::adjacency_list<
      boost::vecS, boost::vecS, boost::directedS, boost::no_property,
      boost::property<boost::edge_capacity_t, double,
                      boost::property<boost::edge_residual_capacity_t, double, boost::property<boost::edge_reverse_t, Traits::edge_descriptor>>>>;
  // Vertices: network switches and NICs (compact indices), then source and sink.
  std::vector<int> index(t.vertex_count(), -1);
  int count = 0;
  for (std::size_t v = 0; v < t.vertex_count(); ++v) {
    const auto k = t.vertex(VertexId::from(v)).kind;
    if (k == VertexKind::NetworkSwitch || k == VertexKind::Nic) index[v] = count++;
  }
  const int source = count++, sink = count++;
  Graph g(static_cast<std::size_t>(count));
  auto cap = boost::get(boost::edge_capacity, g);
  auto rev = boost::get(boost::edge_reverse, g);
  const auto add = [&](int a, int b, double c) {
    auto e = boost::add_edge(static_cast<std::size_t>(a), static_cast<std::size_t>(b), g).first;
    auto r = boost::add_edge(static_cast<std::size_t>(b), static_cast<std::size_t>(a), g).first;
    cap[e] = c;
    cap[r] = 0;
    rev[e] = r;
    rev[r] = e;
  };
  double total = 0;
  for (std::size_t l = 0; l < t.links().size(); ++l) {
    const LinkId id = LinkId::from(l);
    const int a = index[t.link_from(id).index()], b = index[t.link_to(id).index()];
    if (a < 0 || b < 0) continue;
    add(a, b, t.link(id).capacity_Bps);
    total += t.link(id).capacity_Bps;
  }
  for (std::size_t v = 0; v < t.vertex_count(); ++v) {
    const auto& info = t.vertex(VertexId::from(v));
    if (info.kind != VertexKind::Nic) continue;
    if (info.node < N / 2) add(source, index[v], total);
    else add(index[v], sink, total);
  }
  return boost::push_relabel_max_flow(g, static_cast<std::size_t>(source), static_cast<std::size_t>(sink));
}

std::vector<double> gpu_network_Bps(const Topology& t) {
  std::vector<double> out(static_cast<std::size_t>(t.gpu_count()), 0);
  std::map<std::uint32_t, int> sharing;  // NIC vertex -> GPUs using it
  for (const auto& g : t.gpus())
    if (g.nic != kNoVertex) ++sharing[g.nic.value()];
  std::vector<LinkId> p;
  for (int i = 0; i < t.gpu_count(); ++i) {
    const auto& g = t.gpu(GpuId::from(i));
    if (g.nic == kNoVertex) continue;
    double access = 0;
    for (auto l : t.out_links(g.nic))
      if (t.vertex(t.link_to(l)).kind == VertexKind::NetworkSwitch) access = t.link(l).capacity_Bps;
    double to_nic = access;
    // Path GPU -> NIC: the inter-node path's prefix up to the NIC (any other node's GPU as destination).
    const int other = g.node == 0 ? (t.node_count() > 1 ? t.node(1).first_gpu.value() : -1) : 0;
    if (other >= 0) {
      t.path(GpuId::from(i), GpuId::from(other), p);
      for (auto l : p) {
        if (t.link_from(l) == g.nic) break;
        to_nic = std::min(to_nic, t.link(l).capacity_Bps);
      }
    }
    out[static_cast<std::size_t>(i)] = std::min(to_nic, access / sharing[g.nic.value()]);
  }
  return out;
}

std::string describe_topology(const Topology& t, const Catalog& catalog) {
  std::string s;
  auto out = std::back_inserter(s);
  fmt::format_to(out, "cluster {}: {} nodes, {} GPUs, {} NICs, {} network switches, fabric transport {}\n", t.name(), t.node_count(),
                 t.gpu_count(), t.nic_count(), t.network_switch_count(), to_string(t.fabric_transport()));

  // GPUs by kind.
  std::map<std::string, int> by_kind;
  for (const auto& g : t.gpus()) ++by_kind[g.kind];
  fmt::format_to(out, "\nGPUs by kind:\n");
  for (const auto& [kind, n] : by_kind) {
    fmt::format_to(out, "  {:<16} {:>6}", kind, n);
    if (const auto* spec = catalog.find_gpu(kind)) {
      fmt::format_to(out, "  {}: ", spec->description);
      std::vector<std::string> peaks;
      for (const auto* d : {"fp32", "tf32", "bf16", "fp16", "fp8"})
        if (auto f = spec->peak_flops(d)) peaks.push_back(fmt::format("{} {:g}", d, *f / 1e12));
      fmt::format_to(out, "peak dense TFLOPS {}; {:g} GB at {:g} GB/s", fmt::join(peaks, ", "), spec->memory_bytes / 1e9,
                     spec->memory_bandwidth_Bps / 1e9);
    }
    fmt::format_to(out, "\n");
  }

  // Node kinds (consecutive runs of nodes).
  fmt::format_to(out, "\nnodes:\n");
  for (int n = 0; n < t.node_count();) {
    int m = n;
    while (m + 1 < t.node_count() && t.node(m + 1).kind == t.node(n).kind) ++m;
    const auto& info = t.node(n);
    fmt::format_to(out, "  n{}-n{}: {} x {} ({} GPUs, {} NICs each; GPUs {}-{})\n", n, m, m - n + 1, info.kind, info.gpu_count,
                   info.nic_count, info.first_gpu.value(), t.node(m).first_gpu.value() + static_cast<unsigned>(t.node(m).gpu_count) - 1);
    n = m + 1;
  }

  // Vertices by kind.
  std::map<std::string, int> vk;
  for (std::size_t v = 0; v < t.vertex_count(); ++v) ++vk[std::string(to_string(t.vertex(VertexId::from(v)).kind))];
  fmt::format_to(out, "\nvertices ({}):", t.vertex_count());
  for (const auto& [k, n] : vk) fmt::format_to(out, " {} {};", k, n);
  fmt::format_to(out, "\n");

  // Links by class, kind, capacity and latency.
  std::map<std::tuple<std::string, std::string, double, std::int64_t>, int> lk;
  for (const auto& l : t.links()) ++lk[{std::string(to_string(l.link_class)), l.kind, l.capacity_Bps, l.latency.ps()}];
  fmt::format_to(out, "\ndirected links ({}) by class and kind:\n", t.links().size());
  fmt::format_to(out, "  {:<15} {:<14} {:>7}  {:<30} {}\n", "class", "kind", "count", "capacity per direction", "latency");
  for (const auto& [key, n] : lk) {
    const auto& [cls, kind, cap, lat] = key;
    fmt::format_to(out, "  {:<15} {:<14} {:>7}  {:<30} {}\n", cls, kind, n, gbps(cap), Time::from_ps(lat));
  }

  // Intra-node transports (first node of each kind).
  fmt::format_to(out, "\nintra-node transports (GPU pairs of the first node of each kind):\n");
  std::set<std::string> seen;
  for (int n = 0; n < t.node_count(); ++n) {
    const auto& info = t.node(n);
    if (!seen.insert(info.kind).second) continue;
    std::map<std::string, int> tr;
    for (int a = 0; a < info.gpu_count; ++a)
      for (int b = 0; b < info.gpu_count; ++b)
        if (a != b) ++tr[std::string(to_string(t.transport(GpuId::from(info.first_gpu.value() + a), GpuId::from(info.first_gpu.value() + b))))];
    fmt::format_to(out, "  {}:", info.kind);
    for (const auto& [k, c] : tr) fmt::format_to(out, " {} {};", k, c);
    fmt::format_to(out, "\n");
  }

  // Network.
  if (t.nic_count() > 0) {
    const auto per_gpu = gpu_network_Bps(t);
    std::map<std::string, std::pair<double, double>> range;  // node kind -> min, max
    for (int i = 0; i < t.gpu_count(); ++i) {
      const auto& kind = t.node(t.gpu(GpuId::from(i)).node).kind;
      auto [it, fresh] = range.emplace(kind, std::pair{per_gpu[static_cast<std::size_t>(i)], per_gpu[static_cast<std::size_t>(i)]});
      if (!fresh) {
        it->second.first = std::min(it->second.first, per_gpu[static_cast<std::size_t>(i)]);
        it->second.second = std::max(it->second.second, per_gpu[static_cast<std::size_t>(i)]);
      }
    }
    fmt::format_to(out, "\nper-GPU network bandwidth (all GPUs sending at once, per direction):\n");
    for (const auto& [kind, r] : range) {
      if (r.first == r.second) fmt::format_to(out, "  {}: {}\n", kind, gbps(r.first));
      else fmt::format_to(out, "  {}: {} to {}\n", kind, gbps(r.first), gbps(r.second));
    }
    if (t.node_count() > 1)
      fmt::format_to(out, "network bisection (nodes n0-n{} -> n{}-n{}, one direction): {}\n", t.node_count() / 2 - 1, t.node_count() / 2,
                     t.node_count() - 1, gbps(network_bisection_Bps(t)));
  }
  return s;
}

std::string topology_to_dot(const Topology& t) {
  std::string s;
  auto out = std::back_inserter(s);
  const auto shape = [](VertexKind k) {
    switch (k) {
      case VertexKind::Gpu: return "box";
      case VertexKind::NVSwitch: return "hexagon";
      case VertexKind::PcieSwitch: return "diamond";
      case VertexKind::HostBridge: return "trapezium";
      case VertexKind::CpuSocket: return "octagon";
      case VertexKind::Nic: return "ellipse";
      case VertexKind::NetworkSwitch: return "doubleoctagon";
    }
    return "box";
  };
  fmt::format_to(out, "digraph \"{}\" {{\n  rankdir=TB;\n  node [fontsize=10];\n  edge [fontsize=8];\n", t.name());
  std::vector<int> gpu_of(t.vertex_count(), -1);
  for (int i = 0; i < t.gpu_count(); ++i) gpu_of[t.gpu(GpuId::from(i)).vertex.index()] = i;
  std::vector<std::vector<std::size_t>> by_node(static_cast<std::size_t>(t.node_count()));
  for (std::size_t v = 0; v < t.vertex_count(); ++v) {
    const auto& info = t.vertex(VertexId::from(v));
    if (info.node >= 0) by_node[static_cast<std::size_t>(info.node)].push_back(v);
    else fmt::format_to(out, "  v{} [label=\"{}\", shape={}];\n", v, info.name, shape(info.kind));
  }
  for (std::size_t n = 0; n < by_node.size(); ++n) {
    fmt::format_to(out, "  subgraph cluster_n{} {{\n    label=\"n{} ({})\";\n", n, n, t.node(static_cast<int>(n)).kind);
    for (auto v : by_node[n]) {
      const auto& info = t.vertex(VertexId::from(v));
      std::string label = info.name;
      if (gpu_of[v] >= 0) label += "\\n" + t.gpu(GpuId::from(gpu_of[v])).kind;
      fmt::format_to(out, "    v{} [label=\"{}\", shape={}];\n", v, label, shape(info.kind));
    }
    fmt::format_to(out, "  }}\n");
  }
  std::vector<bool> done(t.links().size(), false);
  for (std::size_t l = 0; l < t.links().size(); ++l) {
    if (done[l]) continue;
    const LinkId id = LinkId::from(l);
    const auto a = t.link_from(id), b = t.link_to(id);
    const auto& spec = t.link(id);
    bool both = false;
    for (auto r : t.out_links(b))
      if (!done[r.index()] && r.index() != l && t.link_to(r) == a && t.link(r).capacity_Bps == spec.capacity_Bps) {
        done[r.index()] = true;
        both = true;
        break;
      }
    done[l] = true;
    fmt::format_to(out, "  v{} -> v{} [label=\"{} {:g} GB/s\"{}];\n", a.value(), b.value(), spec.kind, spec.capacity_Bps / 1e9,
                   both ? ", dir=both" : "");
  }
  fmt::format_to(out, "}}\n");
  return s;
}

}  // namespace moesim
