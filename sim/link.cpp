#include "sim/link.h"

namespace moesim {

std::string_view to_string(LinkClass c) {
  switch (c) {
    case LinkClass::NVLink: return "nvlink";
    case LinkClass::PCIe: return "pcie";
    case LinkClass::HostInterconnect: return "host";
    case LinkClass::NetworkAccess: return "network_access";
    case LinkClass::NetworkCore: return "network_core";
  }
  return "?";
}

std::string_view to_string(Transport t) {
  switch (t) {
    case Transport::NVLink: return "nvlink";
    case Transport::PcieP2P: return "pcie_p2p";
    case Transport::PcieHost: return "pcie_host";
    case Transport::Efa: return "efa";
    case Transport::InfiniBand: return "infiniband";
    case Transport::RoCE: return "roce";
  }
  return "?";
}

std::optional<Transport> transport_from_string(std::string_view s) {
  for (auto t : kAllTransports)
    if (to_string(t) == s) return t;
  return std::nullopt;
}

}  // namespace moesim
