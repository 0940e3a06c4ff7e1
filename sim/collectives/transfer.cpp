#include "sim/collectives/transfer.h"

#include <algorithm>
#include <limits>

#include "sim/error.h"

namespace moesim {

TransferService::TransferService(Engine& engine, Network& network, const Topology& topology, const CostFactors& costs)
    : engine_(engine), network_(network), topology_(topology), costs_(costs) {}

TransferService::Route TransferService::route(GpuId src, GpuId dst, std::vector<LinkId>& path) const {
  topology_.path(src, dst, path);
  Route r{std::numeric_limits<double>::infinity(), Time::zero(), topology_.transport(src, dst)};
  for (LinkId l : path) {
    const LinkSpec& spec = topology_.link(l);
    r.capacity_Bps = std::min(r.capacity_Bps, spec.capacity_Bps);
    r.latency += spec.latency;
  }
  return r;
}

void TransferService::send(GpuId src, GpuId dst, double bytes, std::function<void()> on_delivered) {
  if (src == dst) {
    network_.start_flow({.path = {}, .bytes = 0, .on_complete = std::move(on_delivered)});
    return;
  }
  const Route r = route(src, dst, path_);
  MOESIM_CHECK(!path_.empty(), "no path from GPU {} to GPU {}", src, dst);
  const ProtocolCost& p = costs_.transport(r.transport).choose(bytes, r.capacity_Bps);
  network_.start_flow({.path = path_,
                       .bytes = bytes,
                       .efficiency = p.efficiency,
                       .start_delay = p.overhead,
                       .end_delay = r.latency,
                       .on_complete = std::move(on_delivered)});
}

Time TransferService::isolated_time(GpuId src, GpuId dst, double bytes) const {
  if (src == dst) return Time::zero();
  const Route r = route(src, dst, path_);
  const ProtocolCost& p = costs_.transport(r.transport).choose(bytes, r.capacity_Bps);
  return p.overhead + Time::from_seconds_ceil(bytes / (p.efficiency * r.capacity_Bps)) + r.latency;
}

}  // namespace moesim
