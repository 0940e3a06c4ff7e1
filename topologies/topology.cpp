#include "topologies/topology.h"

#include <algorithm>

#include "sim/error.h"
#include "topologies/topology_impl.h"

namespace moesim {

std::string_view to_string(VertexKind k) {
  switch (k) {
    case VertexKind::Gpu: return "gpu";
    case VertexKind::NVSwitch: return "nvswitch";
    case VertexKind::PcieSwitch: return "pcie_switch";
    case VertexKind::HostBridge: return "host_bridge";
    case VertexKind::CpuSocket: return "cpu_socket";
    case VertexKind::Nic: return "nic";
    case VertexKind::NetworkSwitch: return "network_switch";
  }
  return "?";
}

Topology::Topology(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Topology::Topology(Topology&&) noexcept = default;
Topology& Topology::operator=(Topology&&) noexcept = default;
Topology::~Topology() = default;

std::string_view Topology::name() const { return impl_->name; }
int Topology::gpu_count() const { return static_cast<int>(impl_->gpus.size()); }
int Topology::node_count() const { return static_cast<int>(impl_->nodes.size()); }

const GpuInfo& Topology::gpu(GpuId g) const {
  MOESIM_CHECK(g.index() < impl_->gpus.size(), "GPU {} out of range ({} GPUs)", g, impl_->gpus.size());
  return impl_->gpus[g.index()];
}

const NodeInfo& Topology::node(int n) const {
  MOESIM_CHECK(n >= 0 && static_cast<std::size_t>(n) < impl_->nodes.size(), "node {} out of range", n);
  return impl_->nodes[static_cast<std::size_t>(n)];
}

std::span<const LinkSpec> Topology::links() const { return impl_->links; }

const LinkSpec& Topology::link(LinkId l) const {
  MOESIM_CHECK(l.index() < impl_->links.size(), "link {} out of range", l);
  return impl_->links[l.index()];
}

VertexId Topology::link_from(LinkId l) const { return impl_->from.at(l.index()); }
VertexId Topology::link_to(LinkId l) const { return impl_->to.at(l.index()); }
std::size_t Topology::vertex_count() const { return impl_->vertices.size(); }

const VertexInfo& Topology::vertex(VertexId v) const {
  MOESIM_CHECK(v.index() < impl_->vertices.size(), "vertex {} out of range", v);
  return impl_->vertices[v.index()];
}

void Topology::path(GpuId src, GpuId dst, std::vector<LinkId>& out) const {
  out.clear();
  MOESIM_CHECK(src.index() < impl_->gpus.size() && dst.index() < impl_->gpus.size(), "GPU pair ({}, {}) out of range",
               src, dst);
  impl_->for_each_link(src, dst, [&out](LinkId l) { out.push_back(l); });
}

Transport Topology::transport(GpuId src, GpuId dst) const {
  MOESIM_CHECK(src.index() < impl_->gpus.size() && dst.index() < impl_->gpus.size(), "GPU pair ({}, {}) out of range",
               src, dst);
  const auto& gs = impl_->gpu_routes[src.index()];
  const auto& gd = impl_->gpu_routes[dst.index()];
  if (gs.node != gd.node) return impl_->fabric;
  const auto& t = impl_->templates[impl_->node_routes[gs.node].template_id];
  return t.gpu_gpu_transport[static_cast<std::size_t>(gs.local) * t.gpu_count + gd.local];
}

Time Topology::path_latency(GpuId src, GpuId dst) const {
  MOESIM_CHECK(src.index() < impl_->gpus.size() && dst.index() < impl_->gpus.size(), "GPU pair ({}, {}) out of range",
               src, dst);
  Time sum = Time::zero();
  impl_->for_each_link(src, dst, [&](LinkId l) { sum += impl_->links[l.index()].latency; });
  return sum;
}

std::span<const GpuInfo> Topology::gpus() const { return impl_->gpus; }
Transport Topology::fabric_transport() const { return impl_->fabric; }

std::span<const LinkId> Topology::out_links(VertexId v) const {
  MOESIM_CHECK(v.index() < impl_->vertices.size(), "vertex {} out of range", v);
  const auto b = impl_->out_offsets[v.index()], e = impl_->out_offsets[v.index() + 1];
  return std::span<const LinkId>(impl_->out_list).subspan(b, e - b);
}

std::span<const LinkId> Topology::in_links(VertexId v) const {
  MOESIM_CHECK(v.index() < impl_->vertices.size(), "vertex {} out of range", v);
  const auto b = impl_->in_offsets[v.index()], e = impl_->in_offsets[v.index() + 1];
  return std::span<const LinkId>(impl_->in_list).subspan(b, e - b);
}

std::optional<VertexId> Topology::find_vertex(std::string_view name) const {
  const auto& v = impl_->by_name;
  auto it = std::lower_bound(v.begin(), v.end(), name, [](const auto& p, std::string_view n) { return p.first < n; });
  if (it == v.end() || it->first != name) return std::nullopt;
  return it->second;
}

int Topology::rail(GpuId g) const { return impl_->gpu_routes.at(g.index()).nic_local; }
std::size_t Topology::nic_count() const { return impl_->nic_routes.size(); }
std::size_t Topology::network_switch_count() const { return impl_->switches.size(); }

}  // namespace moesim
