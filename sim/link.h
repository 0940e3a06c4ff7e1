#pragma once
// What the network layer knows about a link and a transport. No MoE, no topology building.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "sim/time.h"

namespace moesim {

/// Physical category of a directed link (for per-link-kind utilization reports).
enum class LinkClass : std::uint8_t {
  NVLink,          // GPU <-> NVSwitch or GPU <-> GPU NVLink
  PCIe,            // GPU/NIC <-> PCIe switch, PCIe switch <-> host bridge
  HostInterconnect,// CPU socket <-> CPU socket (UPI / Infinity Fabric), host bridge internals
  NetworkAccess,   // NIC <-> first network switch (leaf / ToR)
  NetworkCore,     // switch <-> switch (leaf <-> spine)
};
inline constexpr std::array<LinkClass, 5> kAllLinkClasses = {
    LinkClass::NVLink, LinkClass::PCIe, LinkClass::HostInterconnect, LinkClass::NetworkAccess, LinkClass::NetworkCore};
std::string_view to_string(LinkClass c);

/// How a message between two GPUs moves; selects per-message overhead and protocol
/// efficiency in the cost factors (DESIGN.md "Network").
enum class Transport : std::uint8_t {
  NVLink,      // NVLink / NVSwitch
  PcieP2P,     // PCIe peer-to-peer (GPUDirect P2P through a PCIe switch)
  PcieHost,    // PCIe through the CPU / host memory (no P2P)
  Efa,         // AWS EFA (SRD)
  InfiniBand,  // InfiniBand RDMA
  RoCE,        // RDMA over Converged Ethernet
};
inline constexpr std::array<Transport, 6> kAllTransports = {Transport::NVLink, Transport::PcieP2P,
    Transport::PcieHost, Transport::Efa, Transport::InfiniBand, Transport::RoCE};
/// Names used in JSON: "nvlink", "pcie_p2p", "pcie_host", "efa", "infiniband", "roce".
std::string_view to_string(Transport t);
std::optional<Transport> transport_from_string(std::string_view s);
inline bool is_network(Transport t) { return t == Transport::Efa || t == Transport::InfiniBand || t == Transport::RoCE; }

/// One directed link. Full duplex = two LinkSpecs.
struct LinkSpec {
  double capacity_Bps = 0;     // bytes per second, > 0
  Time latency;                // propagation + switching latency of this hop
  LinkClass link_class = LinkClass::NVLink;
  std::string kind;            // catalog name, e.g. "nvlink4", "pcie-gen5", "efa-v2", "ib-ndr"
};

}  // namespace moesim
