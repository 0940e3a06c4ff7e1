#include "tools/common_options.h"

#include <fmt/format.h>

#include "sim/error.h"
#include "topologies/cluster_loader.h"

namespace moesim::cli {

void ClusterArgs::add_to(CLI::App& cmd) {
  cmd.add_option("--cluster", cluster, "Cluster preset name (see `moesim topo list`) or a cluster JSON file")->capture_default_str();
  const std::string own = default_cluster_nodes > 0
                              ? fmt::format("; default: {} for {}, else the cluster's own", default_cluster_nodes, kDefaultCluster)
                              : std::string("; default: the cluster's own");
  cmd.add_option("--nodes", nodes, "Number of nodes (for a preset or a single-kind cluster file" + own + ")")
      ->check(CLI::Range(1, 100000));
}

Topology ClusterArgs::load() const {
  if (!nodes && default_cluster_nodes > 0 && cluster == kDefaultCluster) return load_cluster(cluster, default_cluster_nodes);
  return load_cluster(cluster, nodes);
}

void CostArgs::add_to(CLI::App& cmd) {
  auto* cal = cmd.add_option("--calibration", calibration, "Cost factors / calibration JSON (overrides the embedded defaults)");
  cmd.add_flag("--ideal", ideal, "Ideal network: no per-message overheads, full protocol efficiency, all peers at once")
      ->excludes(cal);
}

CostFactors CostArgs::load() const {
  if (ideal) return CostFactors::ideal();
  if (!calibration.empty()) return CostFactors::load_file(calibration);
  return CostFactors::defaults();
}

}  // namespace moesim::cli
