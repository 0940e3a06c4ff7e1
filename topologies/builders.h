#pragma once
// Programmatic cluster builders for tests and quick experiments (no JSON, no catalog).
#include <string>

#include "sim/link.h"
#include "sim/time.h"
#include "topologies/topology.h"

namespace moesim {

/// A uniform cluster of NVSwitch nodes on one non-blocking network switch. GB = 1e9 bytes.
///
/// Shape, per node n (vertex names in quotes):
///  - one NVSwitch "n<n>/nvswitch"; each GPU "n<n>/gpu<i>" has a duplex NVLink link to it
///    (nvlink_GBps per direction, kind "nvlink");
///  - nics_per_node PCIe switches "n<n>/pcie<k>", each shared by gpus_per_node / nics_per_node
///    consecutive GPUs and one NIC "n<n>/nic<k>" (GPU <-> switch and NIC <-> switch duplex at
///    pcie_GBps, kind "pcie"); GPU i uses NIC i / (gpus_per_node / nics_per_node);
///  - each NIC has a duplex link at nic_GBps (kind = to_string(network), class NetworkAccess)
///    to the single network switch "switch", shared by all nodes.
/// Paths: intra-node GPU -> NVSwitch -> GPU (2 links, NVLink); inter-node
/// GPU -> PCIe switch -> NIC -> switch -> NIC -> PCIe switch -> GPU (6 links, `network`).
/// Throws InputError if a count is < 1 (nics_per_node may be 0 for one node), if
/// gpus_per_node is not a multiple of nics_per_node, or if a bandwidth is <= 0.
struct SimpleClusterSpec {
  int nodes = 1;
  int gpus_per_node = 8;
  std::string gpu_kind = "generic";
  double nvlink_GBps = 300;
  Time nvlink_latency = Time::zero();
  int nics_per_node = 4;
  double pcie_GBps = 25;
  Time pcie_latency = Time::zero();
  double nic_GBps = 12.5;
  Time nic_latency = Time::zero();
  Transport network = Transport::Efa;
  bool nvls = false;  // the NVSwitches support NVLink SHARP (NodeInfo::nvls)
};

Topology build_simple_cluster(const SimpleClusterSpec& spec);

}  // namespace moesim
