#pragma once
// Cluster descriptions -> sealed Topology. The JSON schema is documented, with a full
// example, in docs/CLUSTERS.md; presets live in topologies/presets/*.json (compiled in).
//
// A description has node kinds ("nvswitch", "pcie_tree", "nvlink_mesh"), node groups
// (kind x count, node-major GPU numbering in group order), a fabric ("single_switch",
// "leaf_spine", "rail_optimized") and optional per-link overrides. Hardware values come
// from the Catalog (topologies/catalog/*.json) unless a description overrides them.
//
// Errors: a malformed description throws ConfigError whose file() is the file path (or
// "preset <name>") and whose json_path() points at the offending value (unknown keys,
// wrong types, out-of-range or impossible values, unknown catalog names listing the known
// ones, disconnected GPUs). Unknown cluster names and an unusable `nodes` throw InputError.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "topologies/catalog.h"
#include "topologies/topology.h"

namespace moesim {

/// Loads a preset by name, else a cluster JSON file by path. `nodes` replaces the node count
/// of a cluster with one node group (a preset's default count otherwise); a cluster with
/// several node groups rejects it (InputError: set the counts in the file instead).
Topology load_cluster(const std::string& name_or_file, std::optional<int> nodes = std::nullopt);
Topology load_cluster(const std::string& name_or_file, std::optional<int> nodes, const Catalog& catalog);

/// Loads a description from JSON text; `label` names it in errors.
Topology load_cluster_text(std::string_view json_text, const std::string& label, std::optional<int> nodes = std::nullopt);
Topology load_cluster_text(std::string_view json_text, const std::string& label, std::optional<int> nodes,
                           const Catalog& catalog);

struct PresetInfo {
  std::string name;         // e.g. "p4d.24xlarge"
  std::string description;  // one line
  int nodes = 0;            // total nodes by default
  int node_groups = 0;      // > 1: `nodes` cannot be overridden
};

/// Every embedded preset, sorted by name.
std::vector<PresetInfo> list_presets();
/// The JSON text of a preset, if `name` is one.
std::optional<std::string_view> preset_text(std::string_view name);

}  // namespace moesim
