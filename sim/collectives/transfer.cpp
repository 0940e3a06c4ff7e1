#include "sim/collectives/transfer.h"

#include <algorithm>
#include <array>
#include <limits>
#include <optional>

#include "sim/error.h"

namespace moesim {

TransferService::TransferService(Engine& engine, Network& network, const Topology& topology, const CostFactors& costs,
                                 Options options)
    : engine_(engine), network_(network), topology_(topology), costs_(costs), options_(options) {
  if (options_.cache_routes) route_slots_ = BlockRows<std::uint32_t>(topology_.gpu_count(), topology_.gpu_count(), kNoRoute);
  if (costs_.collective().pxn && topology_.node_count() >= 2) index_rails();
  if (options_.declare_dominated_links) declare_dominated_links();  // after index_rails: PXN routes
}

void TransferService::index_rails() {
  for (int g = 0; g < topology_.gpu_count(); ++g) max_rails_ = std::max(max_rails_, topology_.rail(GpuId::from(g)) + 1);
  by_node_rail_.resize(static_cast<std::size_t>(topology_.node_count()) * max_rails_);
  for (int g = 0; g < topology_.gpu_count(); ++g) {
    const int r = topology_.rail(GpuId::from(g));
    if (r >= 0) by_node_rail_[static_cast<std::size_t>(topology_.gpu(GpuId::from(g)).node) * max_rails_ + r].push_back(GpuId::from(g));
  }
}

GpuId TransferService::pxn_proxy(GpuId src, GpuId dst) const {
  if (by_node_rail_.empty()) return src;
  const GpuInfo& s = topology_.gpu(src);
  const GpuInfo& d = topology_.gpu(dst);
  const int rs = topology_.rail(src), rd = topology_.rail(dst);
  if (s.node == d.node || rs < 0 || rd < 0 || rs == rd) return src;
  const auto& candidates = by_node_rail_[static_cast<std::size_t>(s.node) * max_rails_ + rd];
  if (candidates.empty()) return src;
  GpuId proxy = candidates.front();
  for (GpuId c : candidates)
    if (topology_.gpu(c).local_index == d.local_index) proxy = c;
  return topology_.transport(src, proxy) == Transport::NVLink ? proxy : src;
}

void TransferService::compute_path(GpuId src, GpuId dst) const {
  const GpuId proxy = pxn_proxy(src, dst);
  if (proxy == src) {
    topology_.path(src, dst, path_);
  } else {
    topology_.path(src, proxy, path_);
    topology_.path(proxy, dst, tail_);
    path_.insert(path_.end(), tail_.begin(), tail_.end());
  }
  MOESIM_CHECK(!path_.empty(), "no path from GPU {} to GPU {}", src, dst);
}

void TransferService::declare_dominated_links() {
  MOESIM_CHECK(network_.active_flows() == 0 && network_.flows_completed() == 0,
               "declare_dominated_links after the first send ({} flows sent)", network_.active_flows() + network_.flows_completed());
  // As the solver's dynamic rule (sim/maxmin.h), over every route instead of the flows of the
  // moment: the first route through l names l's candidates (up to 4 of its links that precede
  // l: smaller capacity, or equal and a smaller index, smallest first); each later route
  // through l keeps those it also crosses. A link left with a candidate is declared.
  constexpr std::size_t kMax = 4;
  const std::size_t L = network_.link_count();
  std::vector<std::array<std::uint32_t, kMax>> cand(L);
  std::vector<std::uint8_t> ncand(L, 0);
  std::vector<char> seen(L, 0);
  std::vector<std::uint32_t> mark(L, 0);
  std::uint32_t epoch = 0;
  auto precedes = [&](std::uint32_t d, std::uint32_t c) { return network_.may_dominate(LinkId::from(d), LinkId::from(c)); };
  const int P = topology_.gpu_count();
  for (int s = 0; s < P; ++s)
    for (int d = 0; d < P; ++d) {
      if (s == d) continue;
      compute_path(GpuId::from(s), GpuId::from(d));
      ++epoch;
      for (LinkId l : path_) mark[l.index()] = epoch;
      for (LinkId l : path_) {
        const auto c = static_cast<std::uint32_t>(l.index());
        if (!seen[c]) {
          seen[c] = 1;
          for (LinkId m : path_) {
            const auto x = static_cast<std::uint32_t>(m.index());
            if (x == c || !precedes(x, c)) continue;
            std::size_t i = ncand[c] < kMax ? ncand[c]++ : kMax;  // sorted insert, the largest dropped
            while (i > 0 && precedes(x, cand[c][i - 1])) {
              if (i < kMax) cand[c][i] = cand[c][i - 1];
              --i;
            }
            if (i < kMax) cand[c][i] = x;
          }
        } else if (ncand[c] > 0) {
          std::uint8_t kept = 0;
          for (std::uint8_t i = 0; i < ncand[c]; ++i)
            if (mark[cand[c][i]] == epoch) cand[c][kept++] = cand[c][i];
          ncand[c] = kept;
        }
      }
    }
  for (std::uint32_t c = 0; c < L; ++c)
    if (seen[c] && ncand[c] > 0) network_.declare_dominated(LinkId::from(c), LinkId::from(cand[c][0]));
}

TransferService::Route TransferService::route(GpuId src, GpuId dst) const {
  std::uint32_t* slot = nullptr;
  if (options_.cache_routes) {
    const auto P = static_cast<std::size_t>(route_slots_.rows());
    MOESIM_CHECK(src.index() < P && dst.index() < P, "route from GPU {} to GPU {}: the topology has {} GPUs", src, dst, P);
    slot = &route_slots_.slot(src.index(), dst.index());
    if (*slot != kNoRoute) return routes_[*slot];
  }
  compute_path(src, dst);
  Route r{std::numeric_limits<double>::infinity(), Time::zero(), topology_.transport(src, dst), 0,
          static_cast<std::uint32_t>(path_.size())};
  for (LinkId l : path_) {
    const LinkSpec& spec = topology_.link(l);
    r.capacity_Bps = std::min(r.capacity_Bps, spec.capacity_Bps);
    r.latency += spec.latency;
  }
  if (slot) {
    *slot = static_cast<std::uint32_t>(routes_.size());
    r.first = static_cast<std::uint32_t>(route_links_.size());
    route_links_.insert(route_links_.end(), path_.begin(), path_.end());
    routes_.push_back(r);
  }
  return r;
}

TransferService::MessageCost TransferService::cost_of(const Route& r, double bytes, int repeat) const {
  const ProtocolCost& p = costs_.transport(r.transport).choose(bytes / repeat, r.capacity_Bps);
  return MessageCost{.capacity_Bps = r.capacity_Bps, .latency = r.latency, .overhead = p.overhead, .efficiency = p.efficiency};
}

void TransferService::send(GpuId src, GpuId dst, double bytes, std::function<void()> on_delivered, int repeat) {
  MOESIM_CHECK(repeat >= 1, "repeat must be >= 1, got {}", repeat);
  if (src == dst) {
    network_.start_flow({.path = {}, .bytes = 0, .on_complete = std::move(on_delivered)});
    return;
  }
  const Route r = route(src, dst);
  const MessageCost c = cost_of(r, bytes, repeat);
  network_.start_flow({.path = links_of(r),
                       .bytes = bytes,
                       .efficiency = c.efficiency,
                       .start_delay = c.overhead * repeat + c.latency * (repeat - 1),
                       .end_delay = c.latency,
                       .on_complete = std::move(on_delivered)});
}

TransferService::MessageCost TransferService::message_cost(GpuId src, GpuId dst, double bytes, std::vector<LinkId>& path,
                                                         int repeat) const {
  MOESIM_CHECK(repeat >= 1, "repeat must be >= 1, got {}", repeat);
  if (src == dst) {
    path.clear();
    return MessageCost{.capacity_Bps = std::numeric_limits<double>::infinity()};
  }
  const Route r = route(src, dst);
  const auto links = links_of(r);
  path.assign(links.begin(), links.end());
  return cost_of(r, bytes, repeat);
}

LinkId TransferService::switch_link(GpuId g, bool up) const {
  const VertexId v = topology_.gpu(g).vertex;
  std::optional<LinkId> found;
  for (LinkId l : up ? topology_.out_links(v) : topology_.in_links(v)) {
    const VertexId other = up ? topology_.link_to(l) : topology_.link_from(l);
    if (topology_.vertex(other).kind != VertexKind::NVSwitch) continue;
    MOESIM_CHECK(!found, "GPU {} has several NVSwitch links; NVLS needs one (aggregated) NVSwitch", g);
    found = l;
  }
  MOESIM_CHECK(found.has_value(), "GPU {} has no NVSwitch link for NVLS", g);
  return *found;
}

TransferService::MessageCost TransferService::switch_cost(SwitchOp op, GpuId gpu, std::span<const GpuId> peers,
                                                        double bytes, std::vector<LinkId>& links) const {
  MOESIM_CHECK(op != SwitchOp::None, "switch_cost needs an NVLS operation");
  links.clear();
  const bool reduce = op == SwitchOp::Reduce;
  links.push_back(switch_link(gpu, !reduce));  // multicast: gpu's uplink; reduce: its downlink
  for (GpuId p : peers)
    if (p != gpu) links.push_back(switch_link(p, reduce));
  MessageCost c{.capacity_Bps = std::numeric_limits<double>::infinity()};
  Time up = Time::zero(), down = Time::zero();
  for (LinkId l : links) {
    const LinkSpec& spec = topology_.link(l);
    c.capacity_Bps = std::min(c.capacity_Bps, spec.capacity_Bps);
    const bool is_up = topology_.vertex(topology_.link_to(l)).kind == VertexKind::NVSwitch;
    (is_up ? up : down) = std::max(is_up ? up : down, spec.latency);
  }
  c.latency = up + down;
  const TransportCost& nvlink = costs_.transport(Transport::NVLink);
  const std::string& named = costs_.collective().nvls_protocol;
  const ProtocolCost* fixed = named.empty() ? nullptr : nvlink.find(named);
  MOESIM_CHECK(named.empty() || fixed, "NVLS protocol \"{}\" is not an NVLink protocol", named);
  const ProtocolCost& p = fixed ? *fixed : nvlink.choose(bytes, c.capacity_Bps);
  c.overhead = p.overhead;
  c.efficiency = p.efficiency;
  return c;
}

void TransferService::send_switch(SwitchOp op, GpuId gpu, std::span<const GpuId> peers, double bytes,
                                  std::function<void()> on_delivered) {
  const MessageCost c = switch_cost(op, gpu, peers, bytes, path_);
  network_.start_flow({.path = path_,
                       .bytes = bytes,
                       .efficiency = c.efficiency,
                       .start_delay = c.overhead,
                       .end_delay = c.latency,
                       .on_complete = std::move(on_delivered)});
}

Time TransferService::isolated_time(GpuId src, GpuId dst, double bytes) const {
  if (src == dst) return Time::zero();
  const MessageCost c = cost_of(route(src, dst), bytes, 1);
  return c.overhead + Time::from_seconds_ceil(bytes / (c.efficiency * c.capacity_Bps)) + c.latency;
}

}  // namespace moesim
