#pragma once
// The cluster of the foundation issue, shared by the collective and fluid-model tests.
#include "topologies/builders.h"

namespace moesim::testing_clusters {

// N nodes x 8 GPUs, 4 NICs per node (2 GPUs per NIC through a PCIe switch), one non-blocking
// switch. NVLink 300 GB/s, PCIe 25 GB/s, NIC 12.5 GB/s; latencies 1, 1 and 2 us.
inline SimpleClusterSpec issue_cluster(int nodes) {
  using namespace moesim::time_literals;
  return SimpleClusterSpec{.nodes = nodes, .gpus_per_node = 8, .nvlink_GBps = 300, .nvlink_latency = 1_us,
                           .nics_per_node = 4, .pcie_GBps = 25, .pcie_latency = 1_us, .nic_GBps = 12.5,
                           .nic_latency = 2_us};
}

}  // namespace moesim::testing_clusters
