#pragma once
// Options shared by several commands: which cluster, which cost factors.
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "models/compute_cost.h"
#include "sim/cost_factors.h"
#include "topologies/topology.h"

namespace moesim::cli {

struct ClusterArgs {
  static constexpr const char* kDefaultCluster = "p4d.24xlarge";
  std::string cluster = kDefaultCluster;
  std::optional<int> nodes;  // --nodes
  /// The node count of the default cluster when --nodes is absent (0: the preset's own). Any
  /// other cluster without --nodes keeps its own count (a multi-group cluster has no other).
  int default_cluster_nodes = 0;
  void add_to(CLI::App& cmd);
  Topology load() const;
};

struct CostArgs {
  std::string calibration;
  bool ideal = false;
  void add_to(CLI::App& cmd);
  /// --ideal: no overheads, full efficiency, unbounded concurrency; --calibration FILE:
  /// defaults overridden by the file; else the embedded defaults.
  CostFactors load() const;
  /// The compute efficiency curves that go with them: the "compute" section of --calibration
  /// FILE (a `moesim calibrate` output) over the embedded defaults, or the embedded defaults
  /// when there is no file or it has no such section. --ideal changes only the network.
  /// Defined in tools/compute_options.cpp (it needs the models and validation libraries, which
  /// commands that link common_options.cpp alone do not).
  ComputeEfficiency load_compute() const;
  /// Where load_compute() takes its values from, for headers.
  std::string compute_origin() const;
};

}  // namespace moesim::cli
