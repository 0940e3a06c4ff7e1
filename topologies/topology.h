#pragma once
// A sealed cluster graph: GPUs, NVSwitches, PCIe switches, host bridges / CPU sockets, NICs,
// network switches, and directed links between them. Built by TopologyBuilder (or the
// cluster loader / presets), validated, then sealed: const for the whole simulation.
//
// This is the contract the network and collectives rely on:
//  - links(): every directed link (capacity, latency, class, kind); LinkId indexes it.
//  - path(src, dst, out): the directed links a message from GPU src to GPU dst crosses,
//    deterministic (same inputs -> same path), with ECMP spreading across equal-cost
//    spines by a fixed hash of (src, dst). Cost: O(path length) per query after seal().
//  - transport(src, dst): which transport class carries src -> dst (NVLink inside an
//    NVSwitch node, PCIe P2P / host inside a PCIe node, the fabric's class across nodes).
//  - gpus are numbered node-major: node n's local GPU i has a smaller id than node n+1's.
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "sim/ids.h"
#include "sim/link.h"
#include "sim/time.h"

namespace moesim {

enum class VertexKind : std::uint8_t { Gpu, NVSwitch, PcieSwitch, HostBridge, CpuSocket, Nic, NetworkSwitch };
std::string_view to_string(VertexKind k);

/// "No vertex" (e.g. GpuInfo::nic of a GPU in a single-node cluster without NICs).
inline constexpr VertexId kNoVertex{std::numeric_limits<VertexId::value_type>::max()};

struct VertexInfo {
  VertexKind kind = VertexKind::Gpu;
  std::string name;  // unique, e.g. "n3/gpu5", "n3/nic2", "leaf7", "spine0"
  int node = -1;     // owning node, -1 for fabric switches
};

struct GpuInfo {
  VertexId vertex;
  int node = 0;          // node index
  int local_index = 0;   // index inside the node
  std::string kind;      // catalog GPU kind, e.g. "h100-sxm"
  VertexId nic;          // the NIC this GPU uses for inter-node traffic (rail)
};

struct NodeInfo {
  std::string kind;      // node kind name, e.g. "p4d.24xlarge"
  GpuId first_gpu;       // GPUs of the node are [first_gpu, first_gpu + gpu_count)
  int gpu_count = 0;
  int nic_count = 0;
  /// The node's NVSwitch supports NVLink SHARP (NVLS: reductions and multicast in the switch).
  bool nvls = false;
};

class Topology {
 public:
  Topology(Topology&&) noexcept;
  Topology& operator=(Topology&&) noexcept;
  ~Topology();

  std::string_view name() const;
  int gpu_count() const;
  int node_count() const;
  const GpuInfo& gpu(GpuId g) const;
  const NodeInfo& node(int n) const;
  std::span<const LinkSpec> links() const;
  const LinkSpec& link(LinkId l) const;
  /// Endpoints of a directed link.
  VertexId link_from(LinkId l) const;
  VertexId link_to(LinkId l) const;
  std::size_t vertex_count() const;
  const VertexInfo& vertex(VertexId v) const;

  /// Appends to `out` (after clearing it) the links from src to dst; empty if src == dst.
  void path(GpuId src, GpuId dst, std::vector<LinkId>& out) const;
  Transport transport(GpuId src, GpuId dst) const;
  /// Sum of the latencies along path(src, dst).
  Time path_latency(GpuId src, GpuId dst) const;

  // ---- Additions (topologies area) ----
  /// All GPUs, indexed by GpuId.
  std::span<const GpuInfo> gpus() const;
  /// Transport of every inter-node message (the NICs' class: EFA, InfiniBand or RoCE).
  Transport fabric_transport() const;
  /// Directed links leaving / entering a vertex, in increasing LinkId order. O(1).
  std::span<const LinkId> out_links(VertexId v) const;
  std::span<const LinkId> in_links(VertexId v) const;
  /// The vertex with this name, if any. O(log V).
  std::optional<VertexId> find_vertex(std::string_view name) const;
  /// Index of g's NIC among its node's NICs (its rail), or -1 when it has none.
  int rail(GpuId g) const;
  /// Number of NICs (in the whole cluster) and network switches.
  std::size_t nic_count() const;
  std::size_t network_switch_count() const;

  struct Impl;  // defined in topology.cpp (Boost.Graph inside)
 private:
  friend class TopologyBuilder;
  explicit Topology(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace moesim
