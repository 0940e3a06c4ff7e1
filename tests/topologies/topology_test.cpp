// Tests of the sealed Topology built programmatically: build_simple_cluster and hand-built
// TopologyBuilder graphs (path shapes, transports, validation errors).
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "sim/error.h"
#include "topologies/builders.h"
#include "topologies/topology_builder.h"

using namespace moesim;
using namespace moesim::time_literals;

namespace {

std::vector<std::string> names_of(const Topology& t, const std::vector<LinkId>& path) {
  std::vector<std::string> out;
  for (auto l : path) out.push_back(t.vertex(t.link_from(l)).name + ">" + t.vertex(t.link_to(l)).name);
  return out;
}

SimpleClusterSpec two_nodes() {
  return SimpleClusterSpec{.nodes = 2, .gpus_per_node = 8, .nvlink_GBps = 300, .nvlink_latency = 1_us, .nics_per_node = 4,
                           .pcie_GBps = 25, .pcie_latency = 2_us, .nic_GBps = 12.5, .nic_latency = 3_us};
}

}  // namespace

TEST(SimpleCluster, TwoNodesHaveTheHandCountedVerticesAndLinks) {
  const Topology t = build_simple_cluster(two_nodes());
  // Per node: 1 NVSwitch + 8 GPUs + 4 PCIe switches + 4 NICs = 17; two nodes + 1 switch = 35.
  EXPECT_EQ(t.vertex_count(), 35u);
  // Per node, duplex pairs: 8 GPU-NVSwitch + 8 GPU-PCIe + 4 NIC-PCIe + 4 NIC-switch = 24 pairs
  // = 48 directed links; two nodes = 96.
  EXPECT_EQ(t.links().size(), 96u);
  EXPECT_EQ(t.gpu_count(), 16);
  EXPECT_EQ(t.node_count(), 2);
  EXPECT_EQ(t.node(1).first_gpu, GpuId(8));
  EXPECT_EQ(t.node(1).nic_count, 4);
  EXPECT_EQ(t.nic_count(), 8u);
  EXPECT_EQ(t.network_switch_count(), 1u);
  EXPECT_EQ(t.fabric_transport(), Transport::Efa);
}

TEST(SimpleCluster, IntraNodePathGoesThroughTheNVSwitch) {
  const Topology t = build_simple_cluster(two_nodes());
  std::vector<LinkId> p;
  t.path(GpuId(1), GpuId(6), p);
  EXPECT_EQ(names_of(t, p), (std::vector<std::string>{"n0/gpu1>n0/nvswitch", "n0/nvswitch>n0/gpu6"}));
  EXPECT_EQ(t.transport(GpuId(1), GpuId(6)), Transport::NVLink);
  EXPECT_EQ(t.path_latency(GpuId(1), GpuId(6)), 2_us);  // two NVLink hops of 1 us
  // GPUs 0 and 1 share a PCIe switch, but NVLink is preferred.
  EXPECT_EQ(t.transport(GpuId(0), GpuId(1)), Transport::NVLink);
}

TEST(SimpleCluster, InterNodePathUsesBothGpusOwnNics) {
  const Topology t = build_simple_cluster(two_nodes());
  std::vector<LinkId> p;
  // GPU 3 is node 0's local 3 -> NIC 1 (2 GPUs per NIC); GPU 12 is node 1's local 4 -> NIC 2.
  t.path(GpuId(3), GpuId(12), p);
  EXPECT_EQ(names_of(t, p), (std::vector<std::string>{"n0/gpu3>n0/pcie1", "n0/pcie1>n0/nic1", "n0/nic1>switch", "switch>n1/nic2",
                                                      "n1/nic2>n1/pcie2", "n1/pcie2>n1/gpu4"}));
  EXPECT_EQ(t.transport(GpuId(3), GpuId(12)), Transport::Efa);
  // 4 PCIe hops of 2 us + 2 network hops of 3 us = 14 us.
  EXPECT_EQ(t.path_latency(GpuId(3), GpuId(12)), 14_us);
  EXPECT_EQ(t.rail(GpuId(3)), 1);
  EXPECT_EQ(t.vertex(t.gpu(GpuId(12)).nic).name, "n1/nic2");
}

TEST(SimpleCluster, PathToItselfIsEmptyAndClearsTheOutput) {
  const Topology t = build_simple_cluster(two_nodes());
  std::vector<LinkId> p{LinkId(5)};
  t.path(GpuId(4), GpuId(4), p);
  EXPECT_TRUE(p.empty());
  EXPECT_EQ(t.path_latency(GpuId(4), GpuId(4)), Time::zero());
}

TEST(SimpleCluster, EveryPairHasAConnectedPathFromSourceToDestination) {
  const Topology t = build_simple_cluster(two_nodes());
  std::vector<LinkId> p;
  for (int s = 0; s < t.gpu_count(); ++s)
    for (int d = 0; d < t.gpu_count(); ++d) {
      t.path(GpuId::from(s), GpuId::from(d), p);
      if (s == d) continue;
      ASSERT_FALSE(p.empty());
      EXPECT_EQ(t.link_from(p.front()), t.gpu(GpuId::from(s)).vertex);
      EXPECT_EQ(t.link_to(p.back()), t.gpu(GpuId::from(d)).vertex);
      for (std::size_t i = 1; i < p.size(); ++i) EXPECT_EQ(t.link_to(p[i - 1]), t.link_from(p[i]));
      EXPECT_EQ(p.size(), t.gpu(GpuId::from(s)).node == t.gpu(GpuId::from(d)).node ? 2u : 6u);
    }
}

TEST(SimpleCluster, OneNodeWithoutNicsIsValid) {
  const Topology t = build_simple_cluster({.nodes = 1, .gpus_per_node = 4, .nics_per_node = 0});
  EXPECT_EQ(t.gpu_count(), 4);
  EXPECT_EQ(t.gpu(GpuId(0)).nic, kNoVertex);
  EXPECT_EQ(t.rail(GpuId(0)), -1);
}

TEST(SimpleCluster, GpusNotDivisibleAmongNicsAreRejected) {
  EXPECT_THROW(build_simple_cluster({.nodes = 2, .gpus_per_node = 6, .nics_per_node = 4}), InputError);
  EXPECT_THROW(build_simple_cluster({.nodes = 2, .gpus_per_node = 8, .nics_per_node = 0}), InputError);
}

TEST(SimpleCluster, AdjacencyListsAndNameLookupAgreeWithLinks) {
  const Topology t = build_simple_cluster(two_nodes());
  const auto nvs = t.find_vertex("n1/nvswitch");
  ASSERT_TRUE(nvs.has_value());
  EXPECT_EQ(t.out_links(*nvs).size(), 8u);
  EXPECT_EQ(t.in_links(*nvs).size(), 8u);
  for (auto l : t.out_links(*nvs)) EXPECT_EQ(t.link_from(l), *nvs);
  EXPECT_FALSE(t.find_vertex("n7/gpu0").has_value());
}

// ---- TopologyBuilder validation ----

TEST(TopologyBuilder, ZeroCapacityLinksAreRejected) {
  TopologyBuilder b("t");
  const int n = b.add_node({.kind = "k"});
  const auto a = b.add_vertex(VertexKind::Gpu, "a", n);
  const auto c = b.add_vertex(VertexKind::NVSwitch, "c", n);
  EXPECT_THROW(b.add_link(a, c, LinkSpec{.capacity_Bps = 0}), InputError);
}

TEST(TopologyBuilder, DuplicateVertexNamesAreRejected) {
  TopologyBuilder b("t");
  const int n = b.add_node({.kind = "k"});
  b.add_vertex(VertexKind::Gpu, "a", n);
  EXPECT_THROW(b.add_vertex(VertexKind::Gpu, "a", n), InputError);
}

TEST(TopologyBuilder, DisconnectedGpusAreNamedInTheError) {
  // Two GPUs on an NVSwitch, a third GPU with no link at all.
  TopologyBuilder b("island");
  const int n = b.add_node({.kind = "k"});
  const auto sw = b.add_vertex(VertexKind::NVSwitch, "sw", n);
  const LinkSpec nv{.capacity_Bps = 1e9, .link_class = LinkClass::NVLink, .kind = "nvlink"};
  for (int i = 0; i < 3; ++i) {
    const auto g = b.add_vertex(VertexKind::Gpu, fmt::format("g{}", i), n);
    if (i < 2) b.add_duplex_link(g, sw, nv);
    b.add_gpu(g, n, i, "x", kNoVertex);
  }
  try {
    (void)std::move(b).seal();
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("disconnected GPUs"), std::string::npos) << what;
    EXPECT_NE(what.find("g2"), std::string::npos) << what;
    EXPECT_EQ(what.find("g0 cannot reach g1"), std::string::npos) << what;
  }
}

TEST(TopologyBuilder, GpusMustBeAddedNodeMajor) {
  TopologyBuilder b("t");
  const int n0 = b.add_node({.kind = "k"});
  const int n1 = b.add_node({.kind = "k"});
  const auto g0 = b.add_vertex(VertexKind::Gpu, "g0", n0);
  const auto g1 = b.add_vertex(VertexKind::Gpu, "g1", n1);
  b.add_gpu(g1, n1, 0, "x", kNoVertex);
  EXPECT_THROW(b.add_gpu(g0, n0, 0, "x", kNoVertex), InputError);
}

TEST(TopologyBuilder, PcieOnlyNodeUsesP2PUnderASwitchAndTheHostAcrossSockets) {
  // Socket s0 -- UPI -- s1; host bridge hb<s> under each socket; one PCIe switch per host
  // bridge with GPUs 2s and 2s+1. P2P level Switch (NCCL PXB).
  TopologyBuilder b("pcie");
  const int n = b.add_node({.kind = "pcie", .p2p = P2pLevel::Switch});
  const LinkSpec pcie{.capacity_Bps = 25e9, .latency = 1_us, .link_class = LinkClass::PCIe, .kind = "pcie-gen4"};
  const LinkSpec host{.capacity_Bps = 40e9, .latency = 1_us, .link_class = LinkClass::HostInterconnect, .kind = "upi"};
  std::vector<VertexId> sock, gpus;
  for (int s = 0; s < 2; ++s) {
    sock.push_back(b.add_vertex(VertexKind::CpuSocket, fmt::format("s{}", s), n));
    const auto hb = b.add_vertex(VertexKind::HostBridge, fmt::format("hb{}", s), n);
    b.add_duplex_link(hb, sock.back(), host);
    const auto sw = b.add_vertex(VertexKind::PcieSwitch, fmt::format("sw{}", s), n);
    b.add_duplex_link(sw, hb, pcie);
    for (int i = 0; i < 2; ++i) {
      gpus.push_back(b.add_vertex(VertexKind::Gpu, fmt::format("g{}", 2 * s + i), n));
      b.add_duplex_link(gpus.back(), sw, pcie);
    }
  }
  b.add_duplex_link(sock[0], sock[1], host);
  for (int i = 0; i < 4; ++i) b.add_gpu(gpus[static_cast<std::size_t>(i)], n, i, "x", kNoVertex);
  const Topology t = std::move(b).seal();
  std::vector<LinkId> p;
  // Same switch: g0 -> sw0 -> g1, P2P.
  t.path(GpuId(0), GpuId(1), p);
  EXPECT_EQ(names_of(t, p), (std::vector<std::string>{"g0>sw0", "sw0>g1"}));
  EXPECT_EQ(t.transport(GpuId(0), GpuId(1)), Transport::PcieP2P);
  // Across sockets: through host memory, g0 -> sw0 -> hb0 -> s0 -> s1 -> hb1 -> sw1 -> g2 (7 links).
  t.path(GpuId(0), GpuId(2), p);
  EXPECT_EQ(names_of(t, p), (std::vector<std::string>{"g0>sw0", "sw0>hb0", "hb0>s0", "s0>s1", "s1>hb1", "hb1>sw1", "sw1>g2"}));
  EXPECT_EQ(t.transport(GpuId(0), GpuId(2)), Transport::PcieHost);
}
