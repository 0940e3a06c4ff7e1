#pragma once
// Read-only reports on a sealed Topology: what `moesim topo show|dot` print.
#include <string>
#include <vector>

#include "topologies/catalog.h"
#include "topologies/topology.h"

namespace moesim {

/// Network capacity from the first half of the nodes (by index) to the second half, one
/// direction, in bytes/s: a max-flow over NICs and network switches (Boost push-relabel).
/// 0 for a single node. Cost: O(V^2 sqrt(E)) worst case on the network part; milliseconds
/// for thousands of NICs.
double network_bisection_Bps(const Topology& t);

/// Per GPU: the bandwidth it can get to the network when every GPU sends at once =
/// min(capacity of its path to its NIC, its NIC's access link / GPUs sharing that NIC).
/// 0 for GPUs without a NIC.
std::vector<double> gpu_network_Bps(const Topology& t);

/// Human-readable summary (GPUs by kind with catalog specs, node kinds, vertices, links by
/// kind and class, per-GPU network bandwidth, bisection bandwidth).
std::string describe_topology(const Topology& t, const Catalog& catalog);

/// Graphviz text: one cluster per node; duplex link pairs drawn once with dir=both.
std::string topology_to_dot(const Topology& t);

}  // namespace moesim
