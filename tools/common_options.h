#pragma once
// Options shared by several commands: which cluster, which cost factors.
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "sim/cost_factors.h"
#include "topologies/topology.h"

namespace moesim::cli {

struct ClusterArgs {
  std::string cluster = "p4d.24xlarge";
  std::optional<int> nodes;
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
};

}  // namespace moesim::cli
