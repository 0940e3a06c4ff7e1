#include "topologies/builders.h"

#include <vector>

#include <fmt/format.h>

#include "sim/error.h"
#include "topologies/topology_builder.h"

namespace moesim {

Topology build_simple_cluster(const SimpleClusterSpec& spec) {
  if (spec.nodes < 1 || spec.gpus_per_node < 1)
    throw InputError(fmt::format("simple cluster: nodes ({}) and gpus_per_node ({}) must be >= 1", spec.nodes, spec.gpus_per_node));
  if (spec.nics_per_node < 0 || (spec.nics_per_node == 0 && spec.nodes > 1))
    throw InputError(fmt::format("simple cluster: nics_per_node ({}) must be >= 1 when there are several nodes", spec.nics_per_node));
  if (spec.nics_per_node > 0 && spec.gpus_per_node % spec.nics_per_node != 0)
    throw InputError(fmt::format("simple cluster: gpus_per_node ({}) must be a multiple of nics_per_node ({})",
                                 spec.gpus_per_node, spec.nics_per_node));
  if (!(spec.nvlink_GBps > 0) || !(spec.pcie_GBps > 0) || !(spec.nic_GBps > 0))
    throw InputError("simple cluster: bandwidths must be > 0");
  if (!is_network(spec.network))
    throw InputError(fmt::format("simple cluster: network must be efa, infiniband or roce, not {}", to_string(spec.network)));

  TopologyBuilder b(fmt::format("simple-{}x{}", spec.nodes, spec.gpus_per_node));
  b.set_fabric_transport(spec.network);
  const LinkSpec nvlink{.capacity_Bps = spec.nvlink_GBps * 1e9, .latency = spec.nvlink_latency, .link_class = LinkClass::NVLink, .kind = "nvlink"};
  const LinkSpec pcie{.capacity_Bps = spec.pcie_GBps * 1e9, .latency = spec.pcie_latency, .link_class = LinkClass::PCIe, .kind = "pcie"};
  const LinkSpec nic{.capacity_Bps = spec.nic_GBps * 1e9, .latency = spec.nic_latency, .link_class = LinkClass::NetworkAccess,
                     .kind = std::string(to_string(spec.network))};
  const VertexId net = spec.nics_per_node > 0 ? b.add_vertex(VertexKind::NetworkSwitch, "switch") : kNoVertex;
  const int gpus_per_nic = spec.nics_per_node > 0 ? spec.gpus_per_node / spec.nics_per_node : 0;
  for (int n = 0; n < spec.nodes; ++n) {
    const int node = b.add_node({.kind = "simple", .p2p = P2pLevel::Switch, .nvls = spec.nvls});
    const VertexId nvs = b.add_vertex(VertexKind::NVSwitch, fmt::format("n{}/nvswitch", n), node);
    std::vector<VertexId> gpus, sws, nics;
    for (int i = 0; i < spec.gpus_per_node; ++i) {
      gpus.push_back(b.add_vertex(VertexKind::Gpu, fmt::format("n{}/gpu{}", n, i), node));
      b.add_duplex_link(gpus.back(), nvs, nvlink);
    }
    for (int k = 0; k < spec.nics_per_node; ++k) {
      sws.push_back(b.add_vertex(VertexKind::PcieSwitch, fmt::format("n{}/pcie{}", n, k), node));
      nics.push_back(b.add_vertex(VertexKind::Nic, fmt::format("n{}/nic{}", n, k), node));
      b.add_duplex_link(nics.back(), sws.back(), pcie);
      b.add_duplex_link(nics.back(), net, nic);
    }
    for (int i = 0; i < spec.gpus_per_node; ++i) {
      VertexId my_nic = kNoVertex;
      if (gpus_per_nic > 0) {
        const auto k = static_cast<std::size_t>(i / gpus_per_nic);
        b.add_duplex_link(gpus[static_cast<std::size_t>(i)], sws[k], pcie);
        my_nic = nics[k];
      }
      b.add_gpu(gpus[static_cast<std::size_t>(i)], node, i, spec.gpu_kind, my_nic);
    }
  }
  return std::move(b).seal();
}

}  // namespace moesim
