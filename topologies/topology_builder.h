#pragma once
// TopologyBuilder: assembles vertices, directed links, nodes and GPUs, then validates and
// seals them into an immutable Topology (DESIGN.md rule 5: build, validate, seal).
//
// Rules a built topology must satisfy (seal() checks them and throws InputError otherwise):
//  - every GPU vertex belongs to a node; GPUs are added node-major, local indices 0, 1, ...
//  - a link joins two vertices of the same node, a NIC and a network switch, or two network
//    switches (no direct node-to-node links); capacities are > 0 (checked by add_link);
//  - every GPU reaches every other GPU (intra-node by the path rules below, inter-node
//    through its NIC and the fabric); otherwise the error names the disconnected GPUs.
//
// Path rules (what Topology::path returns; see docs/CLUSTERS.md "Paths"):
//  - intra-node, in order of preference: (1) NVLink only, through NVSwitches (transport
//    NVLink); (2) PCIe peer-to-peer, through the vertex kinds the node's P2pLevel allows
//    (PcieP2P); (3) through a CPU socket, i.e. host memory (PcieHost). Each stage takes a
//    fewest-hops path; GPUs and NICs are never intermediate hops.
//  - inter-node: src GPU -> its NIC (fewest PCIe/host hops) -> NIC's network switch ->
//    fewest-hop switch route (ECMP among equal-cost next hops by a fixed hash of
//    (src, dst)) -> dst GPU's NIC -> dst GPU. Transport = the fabric transport.
//
// Cost of seal(): one small BFS set per distinct node structure (nodes with the same
// structure share one template of precomputed paths), one BFS per network switch over the
// switch graph, and an S x S next-hop table (S = network switches). Queries are then
// O(path length).
#include <string>
#include <utility>
#include <vector>

#include "sim/ids.h"
#include "sim/link.h"
#include "topologies/topology.h"

namespace moesim {

/// How far PCIe peer-to-peer may reach inside a node (NCCL's NCCL_P2P_LEVEL).
enum class P2pLevel : std::uint8_t {
  None,        // never: every GPU-GPU PCIe transfer goes through host memory (NCCL "LOC")
  Switch,      // through PCIe switches only (NCCL "PXB"; NCCL's default on Intel CPUs)
  HostBridge,  // also through the socket's PCIe host bridge / root complex (NCCL "PHB")
  System,      // also across CPU sockets (NCCL "SYS")
};
std::string_view to_string(P2pLevel p);

struct NodeSpec {
  std::string kind;                    // node kind name, e.g. "p4d.24xlarge"
  P2pLevel p2p = P2pLevel::Switch;     // PCIe P2P reach inside this node
  bool nvls = false;                   // its NVSwitch supports NVLS (needs an NVSwitch vertex)
};

class TopologyBuilder {
 public:
  explicit TopologyBuilder(std::string name);
  TopologyBuilder(TopologyBuilder&&) noexcept;
  TopologyBuilder& operator=(TopologyBuilder&&) noexcept;
  ~TopologyBuilder();

  /// Adds a node; returns its index (0, 1, ...).
  int add_node(NodeSpec spec);
  /// Adds a vertex; `node` = -1 for fabric switches. Names must be unique.
  VertexId add_vertex(VertexKind kind, std::string name, int node = -1);
  /// Adds one directed link; capacity must be > 0 and latency >= 0 (InputError otherwise).
  LinkId add_link(VertexId from, VertexId to, LinkSpec spec);
  /// Adds a -> b and b -> a with the same spec; returns (a->b, b->a).
  std::pair<LinkId, LinkId> add_duplex_link(VertexId a, VertexId b, const LinkSpec& spec);
  /// Declares `vertex` (of kind Gpu, in `node`) a GPU. Call in node-major order with
  /// local_index 0, 1, ... inside each node. `nic` = kNoVertex when the GPU has no NIC
  /// (only valid in a single-node cluster). Returns its GpuId.
  GpuId add_gpu(VertexId vertex, int node, int local_index, std::string gpu_kind, VertexId nic);
  /// Transport class of inter-node messages (default InfiniBand).
  void set_fabric_transport(Transport t);

  // Inspection and editing before seal() (the loader applies per-link overrides here).
  std::size_t vertex_count() const;
  const VertexInfo& vertex(VertexId v) const;
  std::size_t link_count() const;
  LinkSpec& link(LinkId l);
  VertexId link_from(LinkId l) const;
  VertexId link_to(LinkId l) const;
  int node_count() const;

  /// Validates and freezes. Throws InputError naming the problem (e.g. disconnected GPUs).
  Topology seal() &&;

  struct State;

 private:
  std::unique_ptr<State> s_;
};

}  // namespace moesim
