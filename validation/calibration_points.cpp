#include "validation/calibration_points.h"

namespace moesim::validation {

std::vector<TransportPoint> transport_points(const MeasurementSet& set, const CollectiveFilter& filter,
                                             double capacity_Bps) {
  std::vector<TransportPoint> out;
  for (const auto& c : set.collectives) {
    if (c.op != filter.op || c.bytes <= 0 || !(c.time_us > 0)) continue;
    if (c.in_place && !filter.include_in_place) continue;
    if (filter.ranks && c.ranks != *filter.ranks) continue;
    if (filter.nodes && c.nodes != filter.nodes) continue;
    out.push_back({.bytes = static_cast<double>(c.bytes), .time_s = c.time_us * 1e-6,
                   .bottleneck_capacity_Bps = capacity_Bps});
  }
  return out;
}

std::vector<AllToAllPoint> alltoall_points(const MeasurementSet& set, std::optional<int> nodes, double capacity_Bps) {
  std::vector<AllToAllPoint> out;
  for (const auto& c : set.collectives) {
    if (c.op != CollectiveOp::AllToAll || c.in_place || c.ranks < 2 || c.bytes <= 0 || !(c.time_us > 0)) continue;
    if (nodes && c.nodes != nodes) continue;
    out.push_back({.bytes = static_cast<double>(c.bytes), .rounds = static_cast<double>(c.ranks - 1),
                   .time_s = c.time_us * 1e-6, .bottleneck_capacity_Bps = capacity_Bps});
  }
  return out;
}

std::vector<GemmPoint> gemm_points(const MeasurementSet& set) {
  std::vector<GemmPoint> out;
  for (const auto& g : set.gemms)
    out.push_back({.m = static_cast<double>(g.m), .n = static_cast<double>(g.n), .k = static_cast<double>(g.k),
                   .dtype = g.dtype, .time_s = g.time_us * 1e-6});
  return out;
}

std::vector<KernelPoint> kernel_points(const MeasurementSet& set, std::string_view name) {
  std::vector<KernelPoint> out;
  for (const auto& k : set.kernels)
    if (k.name == name && k.bytes > 0) out.push_back({.bytes = static_cast<double>(k.bytes), .time_s = k.time_us * 1e-6});
  return out;
}

}  // namespace moesim::validation
