#include "topologies/cluster_loader.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include <fmt/format.h>

#include "sim/error.h"
#include "sim/json_reader.h"
#include "topologies/topology_builder.h"

namespace moesim {
namespace {

// ---------------------------------------------------------------------------------------
// Parsed description.

struct PcieSwitchDesc {
  int socket = 0;   // root socket (inherited by children)
  int parent = -1;  // upstream PCIe switch, -1 = the socket's host bridge
  std::vector<int> gpus;
  int nics = 0;
  int first_nic = 0;
};

struct NvlinkPair {
  int a = 0, b = 0, links = 1;
};

struct NodeKindDesc {
  std::string name, path;
  std::string type;  // nvswitch | pcie_tree | nvlink_mesh
  std::string gpu_kind;
  int gpus = 0;
  LinkSpec pcie;
  int sockets = 1;
  std::optional<LinkSpec> socket_link;
  P2pLevel p2p = P2pLevel::Switch;
  std::vector<PcieSwitchDesc> switches;
  // NICs
  int nic_count = 0;
  std::string nic_kind;
  Transport transport = Transport::InfiniBand;
  LinkSpec nic_network;  // per NIC (all ports), NetworkAccess
  double nic_pcie_Bps = 0;
  std::vector<int> gpu_nic;  // per GPU, -1 = none
  // NVLink
  std::optional<LinkSpec> nvlink;  // nvswitch: per GPU; nvlink_mesh: per link
  std::vector<NvlinkPair> pairs;
  bool nvls = false;  // NVSwitch with NVLink SHARP (catalog link kind "nvls"; key "nvls" turns it off)
};

struct GroupDesc {
  std::string kind, path;
  int count = 1;
};

struct FabricDesc {
  std::string type = "single_switch", path = "/fabric";
  int nodes_per_leaf = 0;  // 0 = all nodes
  int spines = 1;
  double oversubscription = 1;
  std::optional<Time> latency;
};

struct OverrideDesc {
  std::string path, vertices, peers;
  std::optional<LinkClass> link_class;
  std::optional<double> cap_Bps;
  std::optional<double> scale;
  std::optional<Time> latency;
};

struct ClusterDesc {
  std::string file, name, description;
  bool achievable = false;
  std::map<std::string, NodeKindDesc> kinds;
  std::vector<GroupDesc> groups;
  FabricDesc fabric;
  std::vector<OverrideDesc> overrides;
};

// ---------------------------------------------------------------------------------------
// Parsing helpers.

Time us(double v) { return Time::from_seconds_ceil(v * 1e-6); }

std::string class_word(LinkClass c) {
  switch (c) {
    case LinkClass::NVLink: return "NVLink";
    case LinkClass::PCIe: return "PCIe";
    case LinkClass::HostInterconnect: return "host (socket)";
    default: return "network";
  }
}

const LinkKindSpec& link_kind(const Catalog& cat, JsonReader& r, std::string_view key, const std::string& name, LinkClass cls) {
  const auto* l = cat.find_link(name);
  if (!l || l->link_class != cls)
    throw r.error(key, fmt::format("unknown {} link kind \"{}\" (known: {})", class_word(cls), name,
                                   fmt::join(cat.link_names(cls), ", ")));
  return *l;
}

std::vector<int> read_int_list(JsonReader& r, std::string_view key, int min, int max) {
  const auto vals = r.numbers(key, {.min = static_cast<double>(min), .max = static_cast<double>(max)});
  std::vector<int> out;
  for (std::size_t i = 0; i < vals.size(); ++i) {
    if (vals[i] != std::floor(vals[i]))
      throw ConfigError(r.file(), fmt::format("{}/{}", r.path_of(key), i), fmt::format("expected an integer, found {}", vals[i]));
    out.push_back(static_cast<int>(vals[i]));
  }
  return out;
}

P2pLevel parse_p2p(const std::string& s) {
  if (s == "none") return P2pLevel::None;
  if (s == "host_bridge") return P2pLevel::HostBridge;
  if (s == "system") return P2pLevel::System;
  return P2pLevel::Switch;
}

void parse_pcie_switches(JsonReader& k, NodeKindDesc& d) {
  if (!k.has("pcie_switches"))
    throw k.error("pcie_switches", "required key is missing: an array of {\"socket\", \"gpus\", \"nics\"} objects or "
                                   "{\"count\", \"nics_per_switch\"}");
  const auto& raw = k.raw()["pcie_switches"];
  const std::string base = k.path_of("pcie_switches");
  if (raw.is_object()) {
    auto s = k.object("pcie_switches");
    const int count = static_cast<int>(s.integer("count", {.min = 1, .max = 256}));
    const int nics = static_cast<int>(s.integer_or("nics_per_switch", 0, {.min = 0, .max = 64}));
    s.finish();
    if (d.gpus % count != 0)
      throw s.error("count", fmt::format("{} GPUs cannot be split evenly over {} PCIe switches", d.gpus, count));
    for (int i = 0; i < count; ++i) {
      PcieSwitchDesc sw;
      sw.socket = i * d.sockets / count;
      for (int g = 0; g < d.gpus / count; ++g) sw.gpus.push_back(i * (d.gpus / count) + g);
      sw.nics = nics;
      d.switches.push_back(std::move(sw));
    }
  } else if (raw.is_array()) {
    auto items = k.objects("pcie_switches");
    if (items.empty()) throw ConfigError(k.file(), base, "must list at least one PCIe switch");
    std::vector<int> placed(static_cast<std::size_t>(d.gpus), -1);
    for (std::size_t i = 0; i < items.size(); ++i) {
      auto& s = items[i];
      PcieSwitchDesc sw;
      if (s.has("parent") && s.has("socket"))
        throw s.error("parent", "give either \"socket\" (attached to the CPU) or \"parent\" (under another PCIe switch), not both");
      if (s.has("parent")) {
        const auto p = s.integer("parent", {.min = 0});
        if (p >= static_cast<std::int64_t>(items.size()))
          throw s.error("parent", fmt::format("PCIe switch {} does not exist (this node kind has {} PCIe switches, 0-{})", p,
                                              items.size(), items.size() - 1));
        if (p >= static_cast<std::int64_t>(i))
          throw s.error("parent", fmt::format("the parent must be an earlier PCIe switch (index < {})", i));
        sw.parent = static_cast<int>(p);
        sw.socket = d.switches[static_cast<std::size_t>(p)].socket;
      } else {
        sw.socket = static_cast<int>(s.integer_or("socket", 0, {.min = 0, .max = static_cast<double>(d.sockets - 1)}));
      }
      if (s.has("gpus")) sw.gpus = read_int_list(s, "gpus", 0, d.gpus - 1);
      else s.accept("gpus");
      for (std::size_t j = 0; j < sw.gpus.size(); ++j) {
        auto& p = placed[static_cast<std::size_t>(sw.gpus[j])];
        if (p >= 0)
          throw ConfigError(s.file(), fmt::format("{}/{}", s.path_of("gpus"), j),
                            fmt::format("GPU {} is already on PCIe switch {}", sw.gpus[j], p));
        p = static_cast<int>(i);
      }
      std::sort(sw.gpus.begin(), sw.gpus.end());
      sw.nics = static_cast<int>(s.integer_or("nics", 0, {.min = 0, .max = 64}));
      s.finish();
      d.switches.push_back(std::move(sw));
    }
    std::vector<int> missing;
    for (int g = 0; g < d.gpus; ++g)
      if (placed[static_cast<std::size_t>(g)] < 0) missing.push_back(g);
    if (!missing.empty())
      throw ConfigError(k.file(), base, fmt::format("GPU{} {} {} on no PCIe switch (every GPU must be listed in one \"gpus\" array)",
                                                    missing.size() > 1 ? "s" : "", fmt::join(missing, ", "),
                                                    missing.size() > 1 ? "are" : "is"));
  } else {
    throw ConfigError(k.file(), base, fmt::format("expected an array of PCIe switch objects or an object {{\"count\", \"nics_per_switch\"}}, found {}",
                                                  raw.type_name()));
  }
}

NodeKindDesc parse_node_kind(const Catalog& cat, JsonReader& k, const std::string& name, bool achievable) {
  NodeKindDesc d;
  d.name = name;
  d.path = k.path();
  d.type = k.string_one_of("type", {"nvswitch", "pcie_tree", "nvlink_mesh"});
  k.string_or("description", "");
  d.gpu_kind = k.string("gpu");
  const auto* gpu = cat.find_gpu(d.gpu_kind);
  if (!gpu) throw k.error("gpu", fmt::format("unknown GPU kind \"{}\" (known: {})", d.gpu_kind, fmt::join(cat.gpu_names(), ", ")));
  d.gpus = static_cast<int>(k.integer("gpus", {.min = 1, .max = 1024}));

  // PCIe
  const auto pcie_name = k.string_or("pcie", gpu->pcie);
  const auto& pcie = link_kind(cat, k, "pcie", pcie_name, LinkClass::PCIe);
  const auto pcie_bw = read_bandwidth(k, "pcie_bandwidth");
  d.pcie = LinkSpec{.capacity_Bps = pcie_bw.value_or(pcie.bandwidth(achievable)), .latency = pcie.latency,
                    .link_class = LinkClass::PCIe, .kind = pcie.name};

  // Host: sockets and the inter-socket link.
  d.sockets = static_cast<int>(k.integer_or("sockets", 1, {.min = 1, .max = 8}));
  if (k.has("socket_link")) {
    const auto& sl = link_kind(cat, k, "socket_link", k.string("socket_link"), LinkClass::HostInterconnect);
    const int count = static_cast<int>(k.integer_or("socket_links", 1, {.min = 1, .max = 16}));
    d.socket_link = LinkSpec{.capacity_Bps = sl.bandwidth(achievable) * count, .latency = sl.latency,
                             .link_class = LinkClass::HostInterconnect, .kind = sl.name};
    if (d.sockets == 1) throw k.error("socket_link", "a node kind with 1 socket has no inter-socket link");
  } else if (k.has("socket_links")) {
    throw k.error("socket_links", "given without \"socket_link\" (the link kind)");
  } else {
    k.accept("socket_link");
    k.accept("socket_links");
  }
  d.p2p = parse_p2p(k.string_one_of_or("p2p", {"none", "switch", "host_bridge", "system"}, "switch"));

  parse_pcie_switches(k, d);
  for (auto& sw : d.switches) {
    sw.first_nic = d.nic_count;
    d.nic_count += sw.nics;
  }

  // NICs
  if (k.has("nic")) {
    d.nic_kind = k.string("nic");
    const auto* nic = cat.find_nic(d.nic_kind);
    if (!nic) throw k.error("nic", fmt::format("unknown NIC kind \"{}\" (known: {})", d.nic_kind, fmt::join(cat.nic_names(), ", ")));
    if (d.nic_count == 0) throw k.error("nic", "a NIC kind is given but no PCIe switch has \"nics\" (or \"nics_per_switch\")");
    const auto& nl = cat.link(nic->link);
    const auto bw = read_bandwidth(k, "nic_bandwidth");
    d.transport = nic->transport;
    d.nic_network = LinkSpec{.capacity_Bps = bw.value_or(nl.bandwidth(achievable) * nic->ports), .latency = nl.latency,
                             .link_class = LinkClass::NetworkAccess, .kind = nl.name};
    d.nic_pcie_Bps = d.pcie.capacity_Bps * nic->ports;
  } else {
    if (d.nic_count > 0) throw k.error("nic", fmt::format("required key is missing: the PCIe switches place {} NICs; name their NIC kind", d.nic_count));
    if (k.has("nic_bandwidth_Gbps") || k.has("nic_bandwidth_GBps"))
      throw k.error(k.has("nic_bandwidth_Gbps") ? "nic_bandwidth_Gbps" : "nic_bandwidth_GBps", "given but the node kind has no \"nic\"");
  }
  d.gpu_nic.assign(static_cast<std::size_t>(d.gpus), -1);
  if (k.has("gpu_nic")) {
    if (d.nic_count == 0) throw k.error("gpu_nic", "the node kind has no NICs");
    const auto path = k.path_of("gpu_nic");
    const auto vals = k.numbers("gpu_nic");
    if (vals.size() != static_cast<std::size_t>(d.gpus))
      throw k.error("gpu_nic", fmt::format("must list one NIC index per GPU ({} values), found {}", d.gpus, vals.size()));
    for (std::size_t i = 0; i < vals.size(); ++i) {
      if (vals[i] != std::floor(vals[i]) || vals[i] < 0)
        throw ConfigError(k.file(), fmt::format("{}/{}", path, i), "expected a NIC index (an integer >= 0)");
      if (vals[i] >= d.nic_count)
        throw ConfigError(k.file(), fmt::format("{}/{}", path, i),
                          fmt::format("NIC {} does not exist (this node kind has {} NICs, 0-{})", vals[i], d.nic_count, d.nic_count - 1));
      d.gpu_nic[i] = static_cast<int>(vals[i]);
    }
  } else if (d.nic_count > 0) {
    k.accept("gpu_nic");
    // Default: a NIC on the GPU's own PCIe switch, spread proportionally; else proportional over all NICs.
    for (const auto& sw : d.switches)
      for (std::size_t p = 0; p < sw.gpus.size(); ++p) {
        const auto g = static_cast<std::size_t>(sw.gpus[p]);
        d.gpu_nic[g] = sw.nics > 0 ? sw.first_nic + static_cast<int>(p) * sw.nics / static_cast<int>(sw.gpus.size())
                                   : static_cast<int>(g) * d.nic_count / d.gpus;
      }
  }

  // NVLink
  if (d.type != "pcie_tree") {
    const auto nv_name = k.string_or("nvlink", gpu->nvlink);
    if (nv_name.empty())
      throw k.error("nvlink", fmt::format("GPU kind {} has no NVLink; name an NVLink link kind (known: {}) or use \"type\": \"pcie_tree\"",
                                          d.gpu_kind, fmt::join(cat.link_names(LinkClass::NVLink), ", ")));
    const auto& nv = link_kind(cat, k, "nvlink", nv_name, LinkClass::NVLink);
    if (d.type == "nvswitch") {
      const auto bw = read_bandwidth(k, "nvlink_bandwidth");
      d.nvlink = LinkSpec{.capacity_Bps = bw.value_or(nv.bandwidth(achievable)), .latency = nv.latency,
                          .link_class = LinkClass::NVLink, .kind = nv.name};
      d.nvls = k.boolean_or("nvls", nv.nvls);
      if (d.nvls && !nv.nvls)
        throw k.error("nvls", fmt::format("NVLink kind {} has no NVLink SHARP (NVLS) support in the catalog", nv.name));
    } else {
      const double scale = nv.bandwidth(achievable) / nv.bandwidth_Bps;
      d.nvlink = LinkSpec{.capacity_Bps = nv.per_link_Bps * scale, .latency = nv.latency, .link_class = LinkClass::NVLink,
                          .kind = nv.name};
      std::vector<int> used(static_cast<std::size_t>(d.gpus), 0);
      std::set<std::pair<int, int>> seen;
      auto pairs = k.objects("nvlink_pairs");
      for (auto& p : pairs) {
        const auto ab = read_int_list(p, "gpus", 0, d.gpus - 1);
        if (ab.size() != 2 || ab[0] == ab[1]) throw p.error("gpus", "expected two different GPU indices [a, b]");
        NvlinkPair np{.a = std::min(ab[0], ab[1]), .b = std::max(ab[0], ab[1])};
        np.links = static_cast<int>(p.integer_or("links", 1, {.min = 1, .max = 64}));
        p.finish();
        if (!seen.insert({np.a, np.b}).second)
          throw p.error("gpus", fmt::format("GPUs {} and {} are paired twice (give the pair once with \"links\")", np.a, np.b));
        for (int g : {np.a, np.b}) {
          used[static_cast<std::size_t>(g)] += np.links;
          if (used[static_cast<std::size_t>(g)] > nv.links_per_gpu)
            throw p.error("links", fmt::format("GPU {} would use {} {} links; a {} GPU has {}", g, used[static_cast<std::size_t>(g)],
                                               nv.name, d.gpu_kind, nv.links_per_gpu));
        }
        d.pairs.push_back(np);
      }
    }
  }
  if (d.type != "nvswitch" && k.has("nvls"))
    throw k.error("nvls", fmt::format("NVLS needs an NVSwitch node (\"type\": \"nvswitch\"), not \"{}\"", d.type));
  k.finish();
  return d;
}

OverrideDesc parse_override(JsonReader& o) {
  OverrideDesc d;
  d.path = o.path();
  d.vertices = o.string("vertices");
  d.peers = o.string_or("peers", "");
  if (o.has("link_class")) {
    const auto c = o.string_one_of("link_class", {"nvlink", "pcie", "host", "network_access", "network_core"});
    for (auto lc : kAllLinkClasses)
      if (to_string(lc) == c) d.link_class = lc;
  }
  d.cap_Bps = read_bandwidth(o, "cap");
  if (o.has("scale")) d.scale = o.number("scale", {.min = 0, .max = 1, .min_exclusive = true});
  if (o.has("latency_us")) d.latency = us(o.number("latency_us", {.min = 0}));
  if (!d.cap_Bps && !d.scale && !d.latency)
    throw o.error_here("an override needs at least one of cap_GBps / cap_Gbps, scale, latency_us");
  o.finish();
  return d;
}

ClusterDesc parse_cluster(const Catalog& cat, const nlohmann::json& json, const std::string& file) {
  ClusterDesc c;
  c.file = file;
  JsonReader r(json, file);
  c.name = r.string_or("name", std::filesystem::path(file).stem().string());
  c.description = r.string_or("description", "");
  c.achievable = r.string_one_of_or("bandwidth_basis", {"spec", "achievable"}, "spec") == "achievable";
  auto kinds = r.members("node_kinds");
  if (kinds.empty()) throw r.error("node_kinds", "must define at least one node kind");
  for (auto& [name, k] : kinds) c.kinds.emplace(name, parse_node_kind(cat, k, name, c.achievable));

  auto groups = r.objects("nodes");
  if (groups.empty()) throw r.error("nodes", "must list at least one node group {\"kind\", \"count\"}");
  for (auto& g : groups) {
    GroupDesc gd;
    gd.path = g.path();
    gd.kind = g.string("kind");
    if (!c.kinds.contains(gd.kind)) {
      std::vector<std::string> known;
      for (const auto& [n, v] : c.kinds) known.push_back(n);
      throw g.error("kind", fmt::format("unknown node kind \"{}\" (defined in /node_kinds: {})", gd.kind, fmt::join(known, ", ")));
    }
    gd.count = static_cast<int>(g.integer_or("count", 1, {.min = 1, .max = 100000}));
    g.finish();
    c.groups.push_back(std::move(gd));
  }

  auto f = r.object("fabric");
  c.fabric.path = f.path();
  c.fabric.type = f.string_one_of("type", {"single_switch", "leaf_spine", "rail_optimized"});
  if (c.fabric.type != "single_switch") {
    c.fabric.nodes_per_leaf = static_cast<int>(c.fabric.type == "leaf_spine" ? f.integer("nodes_per_leaf", {.min = 1, .max = 100000})
                                                                             : f.integer_or("nodes_per_leaf", 0, {.min = 1, .max = 100000}));
    c.fabric.spines = static_cast<int>(f.integer("spines", {.min = 1, .max = 4096}));
    c.fabric.oversubscription = f.number_or("oversubscription", 1, {.min = 1});
  }
  if (f.has("latency_us")) c.fabric.latency = us(f.number("latency_us", {.min = 0}));
  f.finish();

  if (r.has("overrides"))
    for (auto& o : r.objects("overrides")) c.overrides.push_back(parse_override(o));
  else
    r.accept("overrides");
  r.finish();
  return c;
}

// ---------------------------------------------------------------------------------------
// Building.

/// '*' = any run of characters, '?' = one character.
bool glob_match(std::string_view pat, std::string_view s) {
  std::size_t p = 0, i = 0, star = std::string_view::npos, mark = 0;
  while (i < s.size()) {
    if (p < pat.size() && (pat[p] == '?' || pat[p] == s[i])) { ++p; ++i; }
    else if (p < pat.size() && pat[p] == '*') { star = p++; mark = i; }
    else if (star != std::string_view::npos) { p = star + 1; i = ++mark; }
    else return false;
  }
  while (p < pat.size() && pat[p] == '*') ++p;
  return p == pat.size();
}

struct BuiltNode {
  std::vector<VertexId> nics;
};

BuiltNode build_node(TopologyBuilder& b, const NodeKindDesc& k, int n) {
  const int node = b.add_node({.kind = k.name, .p2p = k.p2p, .nvls = k.nvls});
  const auto name = [n](std::string_view what, int i) { return fmt::format("n{}/{}{}", n, what, i); };
  std::vector<VertexId> sockets, bridges(static_cast<std::size_t>(k.sockets), kNoVertex), sws, gpus, nics;
  for (int s = 0; s < k.sockets; ++s) sockets.push_back(b.add_vertex(VertexKind::CpuSocket, name("cpu", s), node));
  if (k.socket_link)
    for (int s = 0; s < k.sockets; ++s)
      for (int t = s + 1; t < k.sockets; ++t) b.add_duplex_link(sockets[static_cast<std::size_t>(s)], sockets[static_cast<std::size_t>(t)], *k.socket_link);
  // Host bridges (root complexes): one per socket with PCIe switches under it; its link to
  // the socket is taken as non-blocking (the sum of its switches' uplinks).
  std::vector<double> root_Bps(static_cast<std::size_t>(k.sockets), 0);
  for (const auto& sw : k.switches)
    if (sw.parent < 0) root_Bps[static_cast<std::size_t>(sw.socket)] += k.pcie.capacity_Bps;
  for (int s = 0; s < k.sockets; ++s) {
    if (root_Bps[static_cast<std::size_t>(s)] <= 0) continue;
    bridges[static_cast<std::size_t>(s)] = b.add_vertex(VertexKind::HostBridge, name("hostbridge", s), node);
    b.add_duplex_link(bridges[static_cast<std::size_t>(s)], sockets[static_cast<std::size_t>(s)],
                      LinkSpec{.capacity_Bps = root_Bps[static_cast<std::size_t>(s)], .latency = Time::zero(),
                               .link_class = LinkClass::HostInterconnect, .kind = "root-complex"});
  }
  for (std::size_t i = 0; i < k.switches.size(); ++i) {
    const auto& sw = k.switches[i];
    sws.push_back(b.add_vertex(VertexKind::PcieSwitch, name("pcie", static_cast<int>(i)), node));
    const VertexId up = sw.parent >= 0 ? sws[static_cast<std::size_t>(sw.parent)] : bridges[static_cast<std::size_t>(sw.socket)];
    b.add_duplex_link(sws.back(), up, k.pcie);
  }
  VertexId nvswitch = kNoVertex;
  if (k.type == "nvswitch") nvswitch = b.add_vertex(VertexKind::NVSwitch, fmt::format("n{}/nvswitch", n), node);
  for (int g = 0; g < k.gpus; ++g) gpus.push_back(b.add_vertex(VertexKind::Gpu, name("gpu", g), node));
  for (std::size_t i = 0; i < k.switches.size(); ++i)
    for (int g : k.switches[i].gpus) b.add_duplex_link(gpus[static_cast<std::size_t>(g)], sws[i], k.pcie);
  if (nvswitch != kNoVertex)
    for (auto g : gpus) b.add_duplex_link(g, nvswitch, *k.nvlink);
  for (const auto& p : k.pairs) {
    LinkSpec l = *k.nvlink;
    l.capacity_Bps *= p.links;
    b.add_duplex_link(gpus[static_cast<std::size_t>(p.a)], gpus[static_cast<std::size_t>(p.b)], l);
  }
  const LinkSpec nic_pcie{.capacity_Bps = k.nic_pcie_Bps, .latency = k.pcie.latency, .link_class = LinkClass::PCIe, .kind = k.pcie.kind};
  for (std::size_t i = 0; i < k.switches.size(); ++i)
    for (int j = 0; j < k.switches[i].nics; ++j) {
      nics.push_back(b.add_vertex(VertexKind::Nic, name("nic", static_cast<int>(nics.size())), node));
      b.add_duplex_link(nics.back(), sws[i], nic_pcie);
    }
  for (int g = 0; g < k.gpus; ++g) {
    const int nic = k.gpu_nic[static_cast<std::size_t>(g)];
    b.add_gpu(gpus[static_cast<std::size_t>(g)], node, g, k.gpu_kind, nic >= 0 ? nics[static_cast<std::size_t>(nic)] : kNoVertex);
  }
  return BuiltNode{.nics = std::move(nics)};
}

Topology build_cluster(const ClusterDesc& c) {
  // Each node kind alone must be internally connected: report it at its JSON path.
  for (const auto& [name, k] : c.kinds) {
    TopologyBuilder one(c.name);
    build_node(one, k, 0);
    try {
      (void)std::move(one).seal();
    } catch (const InputError& e) {
      throw ConfigError(c.file, k.path,
                        fmt::format("{} (inside a node GPUs reach each other over NVLink, PCIe switches or the CPU sockets: "
                                    "check \"nvlink_pairs\", \"pcie_switches\" and, with several sockets, \"socket_link\")",
                                    e.what()));
    }
  }

  std::vector<const NodeKindDesc*> node_kind;
  for (const auto& g : c.groups)
    for (int i = 0; i < g.count; ++i) node_kind.push_back(&c.kinds.at(g.kind));
  const int N = static_cast<int>(node_kind.size());
  if (N > 100000) throw ConfigError(c.file, "/nodes", fmt::format("{} nodes in total; at most 100000 are supported", N));

  // Fabric consistency.
  const NodeKindDesc* first_nic_kind = nullptr;
  for (const auto& g : c.groups) {
    const auto& k = c.kinds.at(g.kind);
    if (k.nic_count == 0) {
      if (N > 1)
        throw ConfigError(c.file, k.path + "/nic",
                          fmt::format("the cluster has {} nodes but node kind \"{}\" has no NICs (give \"nic\" and place NICs on PCIe switches)", N, k.name));
      continue;
    }
    if (!first_nic_kind) first_nic_kind = &k;
    else if (k.transport != first_nic_kind->transport)
      throw ConfigError(c.file, k.path + "/nic",
                        fmt::format("NIC kind {} uses {}, but node kind \"{}\" uses {}: one fabric carries one transport", k.nic_kind,
                                    to_string(k.transport), first_nic_kind->name, to_string(first_nic_kind->transport)));
  }
  const auto& fab = c.fabric;
  int rails = 0;
  if (fab.type == "rail_optimized" && first_nic_kind) {
    rails = first_nic_kind->nic_count;
    for (const auto& g : c.groups) {
      const auto& k = c.kinds.at(g.kind);
      if (k.nic_count != rails)
        throw ConfigError(c.file, fab.path + "/type",
                          fmt::format("rail_optimized needs the same number of NICs (rails) in every node kind: \"{}\" has {}, \"{}\" has {}",
                                      first_nic_kind->name, rails, k.name, k.nic_count));
      if (k.gpus % rails != 0)
        throw ConfigError(c.file, fab.path + "/type",
                          fmt::format("rail_optimized: the {} GPUs of node kind \"{}\" are not divisible into {} rails", k.gpus, k.name, rails));
    }
  }

  TopologyBuilder b(c.name);
  if (first_nic_kind) b.set_fabric_transport(first_nic_kind->transport);
  std::vector<BuiltNode> built;
  built.reserve(static_cast<std::size_t>(N));
  for (int n = 0; n < N; ++n) built.push_back(build_node(b, *node_kind[static_cast<std::size_t>(n)], n));

  if (first_nic_kind) {
    const auto access = [&](const NodeKindDesc& k) {
      LinkSpec l = k.nic_network;
      if (fab.latency) l.latency = *fab.latency;
      return l;
    };
    LinkSpec core = first_nic_kind->nic_network;
    core.link_class = LinkClass::NetworkCore;
    if (fab.latency) core.latency = *fab.latency;
    if (fab.type == "single_switch") {
      const auto sw = b.add_vertex(VertexKind::NetworkSwitch, "switch");
      for (int n = 0; n < N; ++n)
        for (auto nic : built[static_cast<std::size_t>(n)].nics) b.add_duplex_link(nic, sw, access(*node_kind[static_cast<std::size_t>(n)]));
    } else {
      const int per_leaf = fab.nodes_per_leaf > 0 ? fab.nodes_per_leaf : N;
      const int pods = (N + per_leaf - 1) / per_leaf;
      const int leaves_per_pod = fab.type == "rail_optimized" ? rails : 1;
      std::vector<VertexId> leaves;
      for (int p = 0; p < pods; ++p)
        for (int r = 0; r < leaves_per_pod; ++r)
          leaves.push_back(b.add_vertex(VertexKind::NetworkSwitch,
                                        fab.type == "rail_optimized" ? fmt::format("pod{}/rail{}", p, r) : fmt::format("leaf{}", p)));
      std::vector<double> down(leaves.size(), 0);
      for (int n = 0; n < N; ++n) {
        const auto& k = *node_kind[static_cast<std::size_t>(n)];
        const auto& nics = built[static_cast<std::size_t>(n)].nics;
        for (std::size_t j = 0; j < nics.size(); ++j) {
          const auto leaf = static_cast<std::size_t>((n / per_leaf) * leaves_per_pod + (leaves_per_pod > 1 ? static_cast<int>(j) : 0));
          b.add_duplex_link(nics[j], leaves[leaf], access(k));
          down[leaf] += k.nic_network.capacity_Bps;
        }
      }
      // Each leaf's uplink capacity = the fullest leaf's downlink capacity / oversubscription,
      // split evenly over the spines (one aggregated link per leaf-spine pair).
      core.capacity_Bps = *std::max_element(down.begin(), down.end()) / (fab.oversubscription * fab.spines);
      std::vector<VertexId> spines;
      for (int s = 0; s < fab.spines; ++s) spines.push_back(b.add_vertex(VertexKind::NetworkSwitch, fmt::format("spine{}", s)));
      for (auto leaf : leaves)
        for (auto spine : spines) b.add_duplex_link(leaf, spine, core);
    }
  }

  // Per-link overrides.
  for (const auto& o : c.overrides) {
    std::size_t matched = 0;
    for (std::size_t l = 0; l < b.link_count(); ++l) {
      const LinkId id = LinkId::from(l);
      const auto& a = b.vertex(b.link_from(id)).name;
      const auto& z = b.vertex(b.link_to(id)).name;
      const bool hit = (glob_match(o.vertices, a) && (o.peers.empty() || glob_match(o.peers, z))) ||
                       (glob_match(o.vertices, z) && (o.peers.empty() || glob_match(o.peers, a)));
      auto& spec = b.link(id);
      if (!hit || (o.link_class && spec.link_class != *o.link_class)) continue;
      ++matched;
      if (o.cap_Bps) spec.capacity_Bps = std::min(spec.capacity_Bps, *o.cap_Bps);
      if (o.scale) spec.capacity_Bps *= *o.scale;
      if (o.latency) spec.latency = *o.latency;
    }
    if (matched == 0)
      throw ConfigError(c.file, o.path + "/vertices",
                        fmt::format("\"{}\"{} matches no link (vertex names look like n0/gpu0, n0/nic1, n0/pcie0, n0/nvswitch, "
                                    "n0/cpu0, switch, leaf0, pod0/rail0, spine0; '*' and '?' are wildcards)",
                                    o.vertices, o.peers.empty() ? "" : fmt::format(" with peers \"{}\"", o.peers)));
  }

  try {
    return std::move(b).seal();
  } catch (const InputError& e) {
    throw ConfigError(c.file, fab.path, e.what());
  }
}

Topology load_json(const nlohmann::json& json, const std::string& label, std::optional<int> nodes, const Catalog& cat) {
  ClusterDesc c = parse_cluster(cat, json, label);
  if (nodes) {
    if (*nodes < 1) throw InputError(fmt::format("--nodes must be >= 1, got {}", *nodes));
    if (c.groups.size() != 1) {
      std::vector<std::string> parts;
      for (const auto& g : c.groups) parts.push_back(fmt::format("{} x {}", g.count, g.kind));
      throw InputError(fmt::format("--nodes cannot be used with \"{}\": it has {} node groups ({}); set the counts in its "
                                   "\"nodes\" array instead (`moesim topo export --preset NAME > my.json` prints a preset to edit)",
                                   c.name, c.groups.size(), fmt::join(parts, ", ")));
    }
    c.groups[0].count = *nodes;
  }
  return build_cluster(c);
}

}  // namespace

std::optional<std::string_view> preset_text(std::string_view name) {
  for (const auto& f : topologies::embedded_presets())
    if (f.name == name) return f.contents;
  return std::nullopt;
}

std::vector<PresetInfo> list_presets() {
  std::vector<PresetInfo> out;
  for (const auto& f : topologies::embedded_presets()) {
    const auto label = fmt::format("preset {}", f.name);
    const auto json = JsonReader::parse_text(f.contents, label);
    PresetInfo p;
    p.name = std::string(f.name);
    p.description = json.value("description", "");
    if (json.contains("nodes") && json["nodes"].is_array())
      for (const auto& g : json["nodes"]) {
        ++p.node_groups;
        p.nodes += g.value("count", 1);
      }
    out.push_back(std::move(p));
  }
  std::sort(out.begin(), out.end(), [](const PresetInfo& a, const PresetInfo& b) { return a.name < b.name; });
  return out;
}

Topology load_cluster_text(std::string_view text, const std::string& label, std::optional<int> nodes, const Catalog& catalog) {
  return load_json(JsonReader::parse_text(text, label), label, nodes, catalog);
}

Topology load_cluster_text(std::string_view text, const std::string& label, std::optional<int> nodes) {
  return load_cluster_text(text, label, nodes, Catalog::embedded());
}

Topology load_cluster(const std::string& name_or_file, std::optional<int> nodes, const Catalog& catalog) {
  if (auto text = preset_text(name_or_file)) return load_cluster_text(*text, fmt::format("preset {}", name_or_file), nodes, catalog);
  std::error_code ec;
  const bool looks_like_file = name_or_file.find('/') != std::string::npos || name_or_file.ends_with(".json") ||
                               std::filesystem::exists(name_or_file, ec);
  if (!looks_like_file) {
    std::vector<std::string> names;
    for (const auto& p : list_presets()) names.push_back(p.name);
    throw InputError(fmt::format("unknown cluster \"{}\": not a preset and not a file (presets: {})", name_or_file, fmt::join(names, ", ")));
  }
  return load_json(JsonReader::parse_file(name_or_file), name_or_file, nodes, catalog);
}

Topology load_cluster(const std::string& name_or_file, std::optional<int> nodes) {
  return load_cluster(name_or_file, nodes, Catalog::embedded());
}

}  // namespace moesim
