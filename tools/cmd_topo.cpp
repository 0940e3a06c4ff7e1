// moesim topo: inspect cluster topologies.
//   moesim topo list                                  presets with one-line descriptions
//   moesim topo catalog                               GPU, link and NIC kinds of the catalog
//   moesim topo show  --cluster NAME|FILE [--nodes N] readable summary
//   moesim topo check --cluster NAME|FILE [--nodes N] validate; prints "ok: ..." or throws
//   moesim topo dot   --cluster NAME|FILE [--nodes N] Graphviz to stdout
//   moesim topo export --preset NAME                  a preset's JSON, to copy and edit
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "sim/error.h"
#include "tools/commands.h"
#include "topologies/catalog.h"
#include "topologies/cluster_loader.h"
#include "topologies/topology_report.h"

namespace moesim::cli {
namespace {

struct TopoArgs {
  std::string cluster;
  std::optional<int> nodes;
};

void add_cluster_options(CLI::App& cmd, TopoArgs& a) {
  cmd.add_option("--cluster", a.cluster, "Cluster preset name (see `moesim topo list`) or a cluster JSON file")->required();
  cmd.add_option("--nodes", a.nodes, "Number of nodes (for a preset or a cluster file with one node group)")
      ->check(CLI::Range(1, 100000));
}

void run_list() {
  const auto presets = list_presets();
  fmt::print("{:<18} {:>6}  {}\n", "preset", "nodes", "description");
  for (const auto& p : presets)
    fmt::print("{:<18} {:>6}  {}\n", p.name, p.node_groups > 1 ? fmt::format("{}*", p.nodes) : std::to_string(p.nodes), p.description);
  fmt::print("\n--cluster NAME uses a preset; --nodes N changes its node count (* = several node groups: not accepted).\n"
             "--cluster FILE.json loads a description (docs/CLUSTERS.md).\n");
}

void run_catalog() {
  const Catalog c = Catalog::embedded();
  fmt::print("GPU kinds (peak dense TFLOPS):\n");
  for (const auto& [name, g] : c.gpus()) {
    std::vector<std::string> peaks;
    for (const auto* d : {"fp64", "fp32", "tf32", "bf16", "fp16", "fp8"})
      if (auto f = g.peak_flops(d)) peaks.push_back(fmt::format("{} {:g}", d, *f / 1e12));
    fmt::print("  {:<16} {}; {:g} GB, {:g} GB/s; nvlink {}, {}\n    source: {}\n", name, fmt::join(peaks, ", "), g.memory_bytes / 1e9,
               g.memory_bandwidth_Bps / 1e9, g.nvlink.empty() ? "none" : g.nvlink, g.pcie, g.source);
  }
  fmt::print("\nlink kinds (per direction):\n");
  for (const auto& [name, l] : c.links()) {
    fmt::print("  {:<10} {:<15} {:g} GB/s{}, latency {}\n    source: {}\n", name, to_string(l.link_class), l.bandwidth_Bps / 1e9,
               l.achievable_Bps ? fmt::format(" (measured {:g} GB/s)", *l.achievable_Bps / 1e9) : "", l.latency, l.source);
  }
  fmt::print("\nNIC kinds:\n");
  for (const auto& [name, n] : c.nics())
    fmt::print("  {:<14} {} x {}, {}\n    source: {}\n", name, n.ports, n.link, to_string(n.transport), n.source);
}

void run_show(const TopoArgs& a) {
  const Catalog cat = Catalog::embedded();
  const Topology t = load_cluster(a.cluster, a.nodes, cat);
  fmt::print("{}", describe_topology(t, cat));
}

void run_check(const TopoArgs& a) {
  const Topology t = load_cluster(a.cluster, a.nodes);
  // seal() already proved every pair connected; re-walk every path as an end-to-end check.
  std::vector<LinkId> p;
  std::map<Transport, std::size_t> transports;
  for (int s = 0; s < t.gpu_count(); ++s)
    for (int d = 0; d < t.gpu_count(); ++d) {
      if (s == d) continue;
      const GpuId src = GpuId::from(s), dst = GpuId::from(d);
      t.path(src, dst, p);
      bool ok = !p.empty() && t.link_from(p.front()) == t.gpu(src).vertex && t.link_to(p.back()) == t.gpu(dst).vertex;
      for (std::size_t i = 1; ok && i < p.size(); ++i) ok = t.link_to(p[i - 1]) == t.link_from(p[i]);
      if (!ok) throw InvariantError(fmt::format("topo check: the path from GPU {} to GPU {} is broken", s, d));
      ++transports[t.transport(src, dst)];
    }
  std::vector<std::string> parts;
  for (const auto& [tr, n] : transports) parts.push_back(fmt::format("{} {}", to_string(tr), n));
  fmt::print("ok: {}: {} nodes, {} GPUs, {} vertices, {} links; all {} ordered GPU pairs have a path ({})\n", t.name(), t.node_count(),
             t.gpu_count(), t.vertex_count(), t.links().size(), static_cast<std::size_t>(t.gpu_count()) * (t.gpu_count() - 1),
             parts.empty() ? "single GPU" : fmt::format("{}", fmt::join(parts, ", ")));
}

void run_dot(const TopoArgs& a) {
  const Topology t = load_cluster(a.cluster, a.nodes);
  fmt::print("{}", topology_to_dot(t));
}

void run_export(const std::string& name) {
  const auto text = preset_text(name);
  if (!text) {
    std::vector<std::string> names;
    for (const auto& p : list_presets()) names.push_back(p.name);
    throw InputError(fmt::format("unknown preset \"{}\" (presets: {})", name, fmt::join(names, ", ")));
  }
  fmt::print("{}", *text);
}

}  // namespace

void add_topo_command(CLI::App& app) {
  auto* topo = app.add_subcommand("topo", "Inspect cluster topologies: list presets, show, check, dot");
  topo->require_subcommand(1);

  topo->add_subcommand("list", "List the cluster presets with one-line descriptions")->callback(run_list);
  topo->add_subcommand("catalog", "List the hardware catalog: GPU, link and NIC kinds with their sources")->callback(run_catalog);

  struct Sub {
    const char* name;
    const char* help;
    void (*run)(const TopoArgs&);
  };
  for (const Sub& s : {Sub{"show", "Summarize a cluster: GPUs by kind, NICs, vertices, links per kind and class, bandwidths", run_show},
                       Sub{"check", "Validate a cluster description; prints \"ok: ...\" or fails with the error", run_check},
                       Sub{"dot", "Print the cluster graph in Graphviz dot format", run_dot}}) {
    auto args = std::make_shared<TopoArgs>();
    auto* cmd = topo->add_subcommand(s.name, s.help);
    add_cluster_options(*cmd, *args);
    cmd->callback([args, run = s.run] { run(*args); });
  }

  auto preset = std::make_shared<std::string>();
  auto* exp = topo->add_subcommand("export", "Print a preset's JSON description (to copy into a file and edit)");
  exp->add_option("--preset", *preset, "Preset name (see `moesim topo list`)")->required();
  exp->callback([preset] { run_export(*preset); });
}

}  // namespace moesim::cli
