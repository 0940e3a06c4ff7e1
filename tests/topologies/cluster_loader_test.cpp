// Tests of cluster descriptions: presets, path shapes for each node and fabric type, the
// mixed cluster, overrides, and the errors of malformed descriptions (file + JSON path +
// message).
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/error.h"
#include "topologies/catalog.h"
#include "topologies/cluster_loader.h"
#include "topologies/topology_report.h"

using namespace moesim;
using nlohmann::json;

namespace {

const Catalog& catalog() {
  static const Catalog c = Catalog::embedded();  // test-local cache; parse once
  return c;
}

Topology load(const json& j, std::optional<int> nodes = std::nullopt) {
  return load_cluster_text(j.dump(), "test.json", nodes, catalog());
}

std::vector<std::string> hops(const Topology& t, int src, int dst) {
  std::vector<LinkId> p;
  t.path(GpuId::from(src), GpuId::from(dst), p);
  std::vector<std::string> out;
  if (!p.empty()) out.push_back(t.vertex(t.link_from(p.front())).name);
  for (auto l : p) out.push_back(t.vertex(t.link_to(l)).name);
  return out;
}

/// A valid 2-node cluster of 8-GPU NVSwitch nodes, 4 NICs, one switch; tests break it.
json base() {
  return json::parse(R"({
    "name": "t",
    "node_kinds": {
      "k": {"type": "nvswitch", "gpu": "a100-sxm4-40gb", "gpus": 8,
            "pcie_switches": {"count": 4, "nics_per_switch": 1}, "nic": "efa-v1-100g"}
    },
    "nodes": [{"kind": "k", "count": 2}],
    "fabric": {"type": "single_switch"}
  })");
}

/// An 8-GPU PCIe node: 2 sockets, 2 switches per socket with 2 GPUs each, NIC on switch 0.
json pcie_node(const std::string& p2p) {
  auto j = json::parse(R"({
    "name": "pcie",
    "node_kinds": {
      "k": {"type": "pcie_tree", "gpu": "rtx-a6000", "gpus": 8, "sockets": 2, "socket_link": "upi-10.4",
            "pcie_switches": [{"socket": 0, "gpus": [0, 1], "nics": 1}, {"socket": 0, "gpus": [2, 3]},
                              {"socket": 1, "gpus": [4, 5]}, {"socket": 1, "gpus": [6, 7]}],
            "nic": "cx5-ib-edr"}
    },
    "nodes": [{"kind": "k", "count": 2}],
    "fabric": {"type": "single_switch"}
  })");
  j["node_kinds"]["k"]["p2p"] = p2p;
  return j;
}

/// Expects a ConfigError from test.json at exactly `path` whose message contains `text`.
void expect_error(const json& j, const std::string& path, const std::string& text) {
  try {
    (void)load(j);
    ADD_FAILURE() << "expected a ConfigError at " << path;
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.file(), "test.json");
    EXPECT_EQ(e.json_path(), path) << e.what();
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
  }
}

}  // namespace

// ---- presets ----

TEST(Presets, EveryPresetLoadsAndEveryGpuPairHasAConnectedPath) {
  const auto presets = list_presets();
  ASSERT_GE(presets.size(), 8u);
  std::vector<LinkId> p;
  for (const auto& info : presets) {
    SCOPED_TRACE(info.name);
    const Topology t = load_cluster(info.name, std::nullopt, catalog());
    EXPECT_EQ(t.node_count(), info.nodes);
    EXPECT_FALSE(info.description.empty());
    for (int s = 0; s < t.gpu_count(); ++s)
      for (int d = 0; d < t.gpu_count(); ++d) {
        t.path(GpuId::from(s), GpuId::from(d), p);
        if (s == d) continue;
        ASSERT_FALSE(p.empty());
        ASSERT_EQ(t.link_from(p.front()), t.gpu(GpuId::from(s)).vertex);
        ASSERT_EQ(t.link_to(p.back()), t.gpu(GpuId::from(d)).vertex);
        for (std::size_t i = 1; i < p.size(); ++i) ASSERT_EQ(t.link_to(p[i - 1]), t.link_from(p[i]));
      }
    for (const auto& g : t.gpus()) EXPECT_NE(catalog().find_gpu(g.kind), nullptr) << g.kind;
  }
}

TEST(Presets, TheNamedPresetsOfTheBriefAllExist) {
  std::set<std::string> names;
  for (const auto& p : list_presets()) names.insert(p.name);
  for (const char* n : {"dgx-a100", "dgx-h100", "p4d.24xlarge", "p5.48xlarge", "p3dn.24xlarge", "a6000-pcie", "pcie-gen4-8gpu",
                        "mixed-a100-v100"})
    EXPECT_TRUE(names.contains(n)) << n;
}

TEST(Presets, NodesOptionSetsTheNodeCountOfASingleKindPreset) {
  const Topology t = load_cluster("p4d.24xlarge", 2, catalog());
  EXPECT_EQ(t.node_count(), 2);
  EXPECT_EQ(t.gpu_count(), 16);
  const Topology big = load_cluster("dgx-h100", 64, catalog());
  EXPECT_EQ(big.gpu_count(), 512);
  // 64 nodes / 32 per scalable unit = 2 pods x 8 rails = 16 leaves + 4 spines.
  EXPECT_EQ(big.network_switch_count(), 20u);
}

TEST(Presets, NodesOptionIsRejectedForTheMixedPresetWithAnExplanation) {
  try {
    (void)load_cluster("mixed-a100-v100", 4, catalog());
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("2 node groups"), std::string::npos) << e.what();
  }
}

TEST(Presets, UnknownClusterNamesListThePresets) {
  try {
    (void)load_cluster("dgx-a101", std::nullopt, catalog());
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("dgx-a100"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("p5.48xlarge"), std::string::npos) << e.what();
  }
}

TEST(Presets, MissingClusterFilesNameTheFile) {
  try {
    (void)load_cluster("/nonexistent/cluster.json", std::nullopt, catalog());
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.file(), "/nonexistent/cluster.json");
  }
}

TEST(Presets, P4dGpuPairsShareANicAndGetHalfOfIt) {
  const Topology t = load_cluster("p4d.24xlarge", std::nullopt, catalog());
  EXPECT_EQ(t.gpu(GpuId(0)).nic, t.gpu(GpuId(1)).nic);
  EXPECT_NE(t.gpu(GpuId(1)).nic, t.gpu(GpuId(2)).nic);
  EXPECT_EQ(t.fabric_transport(), Transport::Efa);
  // 100 Gbps = 12.5 GB/s shared by 2 GPUs: 6.25 GB/s each.
  for (double bw : gpu_network_Bps(t)) EXPECT_DOUBLE_EQ(bw, 6.25e9);
  // Intra-node: GPU -> NVSwitch -> GPU; inter-node: GPU3 (NIC 1) -> GPU 9 (node 1, local 1: NIC 0).
  EXPECT_EQ(hops(t, 0, 5), (std::vector<std::string>{"n0/gpu0", "n0/nvswitch", "n0/gpu5"}));
  EXPECT_EQ(hops(t, 3, 9), (std::vector<std::string>{"n0/gpu3", "n0/pcie1", "n0/nic1", "switch", "n1/nic0", "n1/pcie0", "n1/gpu1"}));
  // Bisection: nodes 0-1 -> 2-3 through 8 NICs of 12.5 GB/s = 100 GB/s.
  EXPECT_DOUBLE_EQ(network_bisection_Bps(t), 100e9);
}

TEST(Presets, P5ModelsOneAggregated400GbpsNicPerGpu) {
  const Topology t = load_cluster("p5.48xlarge", std::nullopt, catalog());
  EXPECT_EQ(t.node(0).nic_count, 8);
  for (double bw : gpu_network_Bps(t)) EXPECT_DOUBLE_EQ(bw, 50e9);  // 4 x 100 Gbps = 50 GB/s
}

TEST(Presets, DgxH100SameRailTrafficStaysOnItsLeafAndCrossRailTrafficCrossesASpine) {
  const Topology t = load_cluster("dgx-h100", std::nullopt, catalog());
  EXPECT_EQ(t.fabric_transport(), Transport::InfiniBand);
  EXPECT_EQ(t.rail(GpuId(3)), 3);
  // n0/gpu3 -> n1/gpu3 (GPU 11): rail 3 both ends.
  EXPECT_EQ(hops(t, 3, 11), (std::vector<std::string>{"n0/gpu3", "n0/pcie1", "n0/nic3", "pod0/rail3", "n1/nic3", "n1/pcie1", "n1/gpu3"}));
  // n0/gpu3 -> n1/gpu5 (GPU 13): rail 3 -> spine -> rail 5 (8 links).
  const auto h = hops(t, 3, 13);
  ASSERT_EQ(h.size(), 9u);
  EXPECT_EQ(h[3], "pod0/rail3");
  EXPECT_EQ(h[4].rfind("spine", 0), 0u);
  EXPECT_EQ(h[5], "pod0/rail5");
  EXPECT_EQ(h[6], "n1/nic5");
}

TEST(Presets, P3dnHybridCubeMeshUsesDirectNVLinkOrTheHost) {
  const Topology t = load_cluster("p3dn.24xlarge", std::nullopt, catalog());
  // GPUs 0 and 3 share 2 NVLink2 links: one direct link of 2 x 25 GB/s.
  std::vector<LinkId> p;
  t.path(GpuId(0), GpuId(3), p);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_DOUBLE_EQ(t.link(p[0]).capacity_Bps, 50e9);
  t.path(GpuId(0), GpuId(1), p);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_DOUBLE_EQ(t.link(p[0]).capacity_Bps, 25e9);
  // GPUs 0 and 5 have no NVLink and sit on different sockets: through host memory,
  // gpu0 -> pcie0 -> hostbridge0 -> cpu0 -> cpu1 -> hostbridge1 -> pcie2 -> gpu5.
  EXPECT_EQ(t.transport(GpuId(0), GpuId(5)), Transport::PcieHost);
  EXPECT_EQ(hops(t, 0, 5), (std::vector<std::string>{"n0/gpu0", "n0/pcie0", "n0/hostbridge0", "n0/cpu0", "n0/cpu1", "n0/hostbridge1",
                                                     "n0/pcie2", "n0/gpu5"}));
  // All 8 GPUs share the one NIC: 12.5 GB/s / 8.
  for (double bw : gpu_network_Bps(t)) EXPECT_DOUBLE_EQ(bw, 12.5e9 / 8);
}

// ---- PCIe trees ----

TEST(PcieTree, GpusUnderOneSwitchUsePeerToPeerThroughIt) {
  const Topology t = load(pcie_node("switch"));
  EXPECT_EQ(hops(t, 0, 1), (std::vector<std::string>{"n0/gpu0", "n0/pcie0", "n0/gpu1"}));
  EXPECT_EQ(t.transport(GpuId(0), GpuId(1)), Transport::PcieP2P);
}

TEST(PcieTree, WithSwitchLevelP2PGpusUnderTwoSwitchesGoThroughHostMemory) {
  const Topology t = load(pcie_node("switch"));
  // Up to the socket (host memory) and back down: 6 links.
  EXPECT_EQ(hops(t, 0, 2), (std::vector<std::string>{"n0/gpu0", "n0/pcie0", "n0/hostbridge0", "n0/cpu0", "n0/hostbridge0", "n0/pcie1",
                                                     "n0/gpu2"}));
  EXPECT_EQ(t.transport(GpuId(0), GpuId(2)), Transport::PcieHost);
}

TEST(PcieTree, WithHostBridgeLevelP2PTheSameSocketPairGoesPeerToPeer) {
  const Topology t = load(pcie_node("host_bridge"));
  EXPECT_EQ(hops(t, 0, 2), (std::vector<std::string>{"n0/gpu0", "n0/pcie0", "n0/hostbridge0", "n0/pcie1", "n0/gpu2"}));
  EXPECT_EQ(t.transport(GpuId(0), GpuId(2)), Transport::PcieP2P);
  EXPECT_EQ(t.transport(GpuId(0), GpuId(4)), Transport::PcieHost);  // across sockets still through the host
}

TEST(PcieTree, WithSystemLevelP2PCrossSocketPairsGoPeerToPeerOverUpi) {
  const Topology t = load(pcie_node("system"));
  EXPECT_EQ(t.transport(GpuId(0), GpuId(4)), Transport::PcieP2P);
  EXPECT_EQ(hops(t, 0, 4).size(), 8u);  // 7 links: gpu, pcie0, hb0, cpu0, cpu1, hb1, pcie2, gpu4
}

TEST(PcieTree, WithoutP2PEvenGpusUnderOneSwitchGoThroughTheHost) {
  const Topology t = load(pcie_node("none"));
  EXPECT_EQ(t.transport(GpuId(0), GpuId(1)), Transport::PcieHost);
  EXPECT_EQ(hops(t, 0, 1).size(), 7u);  // gpu0, pcie0, hb0, cpu0, hb0, pcie0, gpu1
}

TEST(PcieTree, AGpuOnTheOtherSocketReachesTheNicAcrossUpi) {
  const Topology t = load(pcie_node("switch"));
  // GPU 5 (socket 1) -> GPU 13 (node 1, local 5): both use NIC 0 on socket 0's first switch.
  // 7 links to the NIC, 2 network links, 7 links down = 16 links.
  const auto h = hops(t, 5, 13);
  EXPECT_EQ(h.size(), 17u);
  EXPECT_EQ(h[4], "n0/cpu0");
  EXPECT_EQ(h[7], "n0/nic0");
  EXPECT_EQ(h[8], "switch");
  EXPECT_EQ(t.transport(GpuId(5), GpuId(13)), Transport::InfiniBand);
}

// ---- Leaf-spine and ECMP ----

TEST(LeafSpine, EcmpSpreadsInterLeafPairsOverAllSpinesDeterministically) {
  auto j = base();
  j["nodes"][0]["count"] = 4;
  j["fabric"] = {{"type", "leaf_spine"}, {"nodes_per_leaf", 2}, {"spines", 4}};
  const Topology t = load(j);
  const Topology again = load(j);
  EXPECT_EQ(t.network_switch_count(), 6u);  // 2 leaves + 4 spines
  // Leaf 0 has 2 nodes x 4 NICs x 12.5 GB/s = 100 GB/s down; 4 spines: 25 GB/s per uplink.
  const auto spine0 = *t.find_vertex("spine0");
  for (auto l : t.in_links(spine0)) EXPECT_DOUBLE_EQ(t.link(l).capacity_Bps, 25e9);
  std::map<std::string, int> per_spine;
  std::vector<LinkId> p, q;
  for (int s = 0; s < 16; ++s)       // nodes 0-1: leaf 0
    for (int d = 16; d < 32; ++d) {  // nodes 2-3: leaf 1
      t.path(GpuId::from(s), GpuId::from(d), p);
      again.path(GpuId::from(s), GpuId::from(d), q);
      ASSERT_EQ(p, q);  // same inputs, same path
      ASSERT_EQ(p.size(), 8u);  // 2 PCIe + NIC->leaf + leaf->spine + spine->leaf + leaf->NIC + 2 PCIe
      ++per_spine[t.vertex(t.link_to(p[3])).name];
    }
  // 256 pairs over 4 spines: every spine is used, none gets more than twice its share of 64.
  ASSERT_EQ(per_spine.size(), 4u);
  for (const auto& [spine, n] : per_spine) {
    EXPECT_GT(n, 32) << spine;
    EXPECT_LT(n, 128) << spine;
  }
  // Same leaf: no spine, 6 links.
  t.path(GpuId(0), GpuId(8), p);
  EXPECT_EQ(p.size(), 6u);
  EXPECT_EQ(t.path_latency(GpuId(0), GpuId(8)),
            Time::from_ps(4 * 500000 + 2 * 1000000));  // 4 PCIe hops of 0.5 us + 2 EFA hops of 1 us
}

TEST(LeafSpine, OversubscriptionDividesTheUplinks) {
  auto j = base();
  j["nodes"][0]["count"] = 4;
  j["fabric"] = {{"type", "leaf_spine"}, {"nodes_per_leaf", 2}, {"spines", 2}, {"oversubscription", 4}};
  const Topology t = load(j);
  // 100 GB/s down per leaf / 4 / 2 spines = 12.5 GB/s per leaf-spine link; bisection = 2 x 12.5.
  EXPECT_DOUBLE_EQ(t.link(t.in_links(*t.find_vertex("spine1"))[0]).capacity_Bps, 12.5e9);
  EXPECT_DOUBLE_EQ(network_bisection_Bps(t), 25e9);
}

// ---- Mixed cluster ----

TEST(MixedCluster, SlowGpusAndTheirLinksAreWhereTheDescriptionPutsThem) {
  const Topology t = load_cluster("mixed-a100-v100", std::nullopt, catalog());
  ASSERT_EQ(t.gpu_count(), 128);
  for (int g = 0; g < 64; ++g) EXPECT_EQ(t.gpu(GpuId::from(g)).kind, "a100-sxm4-40gb");
  for (int g = 64; g < 128; ++g) EXPECT_EQ(t.gpu(GpuId::from(g)).kind, "v100-sxm2-32gb");
  EXPECT_EQ(t.node(7).kind, "p4d.24xlarge");
  EXPECT_EQ(t.node(8).kind, "p3dn.24xlarge");
  EXPECT_EQ(t.node(8).first_gpu, GpuId(64));
  // A100 node: 300 GB/s NVLink to the NVSwitch; V100 node: direct NVLink2 pairs.
  std::vector<LinkId> p;
  t.path(GpuId(0), GpuId(1), p);
  EXPECT_DOUBLE_EQ(t.link(p[0]).capacity_Bps, 300e9);
  t.path(GpuId(64), GpuId(67), p);  // n8 local 0 -> 3: NV2
  ASSERT_EQ(p.size(), 1u);
  EXPECT_DOUBLE_EQ(t.link(p[0]).capacity_Bps, 50e9);
  EXPECT_EQ(t.link(p[0]).kind, "nvlink2");
  EXPECT_EQ(t.transport(GpuId(64), GpuId(69)), Transport::PcieHost);  // local 0 -> 5: no NVLink
  EXPECT_EQ(t.transport(GpuId(0), GpuId(64)), Transport::Efa);
  // The V100 nodes' GPUs share one NIC each: 1.5625 GB/s per GPU vs 6.25 on A100 nodes.
  const auto bw = gpu_network_Bps(t);
  EXPECT_DOUBLE_EQ(bw[0], 6.25e9);
  EXPECT_DOUBLE_EQ(bw[100], 12.5e9 / 8);
}

// ---- bandwidth basis and overrides ----

TEST(ClusterFile, AchievableBasisUsesMeasuredFiguresWhereTheCatalogHasThem) {
  auto j = base();
  j["bandwidth_basis"] = "achievable";
  const Topology t = load(j);
  std::vector<LinkId> p;
  t.path(GpuId(0), GpuId(9), p);
  EXPECT_DOUBLE_EQ(t.link(p[0]).capacity_Bps, 25.5e9);  // pcie-gen4 measured
  t.path(GpuId(0), GpuId(1), p);
  EXPECT_DOUBLE_EQ(t.link(p[0]).capacity_Bps, 237.5e9);  // nvlink3 measured
}

TEST(ClusterFile, AnOverrideCapsOneNodesNicsTo50Gbps) {
  auto j = base();
  j["overrides"] = json::array({{{"vertices", "n0/nic*"}, {"link_class", "network_access"}, {"cap_Gbps", 50}}});
  const Topology t = load(j);
  std::vector<LinkId> p;
  t.path(GpuId(0), GpuId(8), p);  // n0/gpu0 -> n0/pcie0 -> n0/nic0 -> switch -> n1/nic0 ...
  EXPECT_DOUBLE_EQ(t.link(p[1]).capacity_Bps, 31.5e9);  // the NIC's PCIe link is not network_access
  EXPECT_DOUBLE_EQ(t.link(p[2]).capacity_Bps, 6.25e9);  // 50 Gbps
  EXPECT_DOUBLE_EQ(t.link(p[3]).capacity_Bps, 12.5e9);  // switch -> n1/nic0 untouched
  t.path(GpuId(8), GpuId(0), p);
  EXPECT_DOUBLE_EQ(t.link(p[3]).capacity_Bps, 6.25e9);  // switch -> n0/nic0 capped too
}

TEST(ClusterFile, AnOverrideCanScaleOneNVLinkAndSetItsLatency) {
  auto j = base();
  j["overrides"] = json::array({{{"vertices", "n1/gpu2"}, {"peers", "n1/nvswitch"}, {"scale", 0.5}, {"latency_us", 2}}});
  const Topology t = load(j);
  std::vector<LinkId> p;
  t.path(GpuId(10), GpuId(11), p);
  EXPECT_DOUBLE_EQ(t.link(p[0]).capacity_Bps, 150e9);
  EXPECT_EQ(t.link(p[0]).latency, Time::from_ps(2000000));
  EXPECT_DOUBLE_EQ(t.link(p[1]).capacity_Bps, 300e9);
}

TEST(ClusterFile, ExplicitGpuNicMappingIsHonoured) {
  auto j = base();
  j["node_kinds"]["k"]["gpu_nic"] = {3, 3, 3, 3, 0, 0, 0, 0};
  const Topology t = load(j);
  EXPECT_EQ(t.rail(GpuId(0)), 3);
  EXPECT_EQ(t.rail(GpuId(7)), 0);
}

// ---- malformed descriptions ----

TEST(MalformedCluster, UnknownKeysAreRejectedWithTheirPath) {
  auto j = base();
  j["node_kinds"]["k"]["gpu_count"] = 8;
  expect_error(j, "/node_kinds/k/gpu_count", "unknown key \"gpu_count\"");
}

TEST(MalformedCluster, WrongTypesAreRejected) {
  auto j = base();
  j["node_kinds"]["k"]["gpus"] = "8";
  expect_error(j, "/node_kinds/k/gpus", "expected an integer");
}

TEST(MalformedCluster, ZeroGpusIsOutOfRange) {
  auto j = base();
  j["node_kinds"]["k"]["gpus"] = 0;
  expect_error(j, "/node_kinds/k/gpus", "out of range");
}

TEST(MalformedCluster, UnknownGpuKindsListTheKnownOnes) {
  auto j = base();
  j["node_kinds"]["k"]["gpu"] = "a100";
  expect_error(j, "/node_kinds/k/gpu", "unknown GPU kind \"a100\" (known: a100-pcie-80gb, a100-sxm4-40gb");
}

TEST(MalformedCluster, UnknownNicKindsListTheKnownOnes) {
  auto j = base();
  j["node_kinds"]["k"]["nic"] = "efa-v3";
  expect_error(j, "/node_kinds/k/nic", "efa-v1-100g");
}

TEST(MalformedCluster, APcieSwitchUnderAMissingSwitchIsRejected) {
  auto j = base();
  j["node_kinds"]["k"]["pcie_switches"] =
      json::parse(R"([{"socket": 0, "gpus": [0, 1, 2, 3], "nics": 2}, {"parent": 7, "gpus": [4, 5, 6, 7], "nics": 2}])");
  expect_error(j, "/node_kinds/k/pcie_switches/1/parent", "PCIe switch 7 does not exist");
}

TEST(MalformedCluster, AGpuMappedToAMissingNicIsRejected) {
  auto j = base();
  j["node_kinds"]["k"]["gpu_nic"] = {0, 0, 1, 4, 2, 2, 3, 3};
  expect_error(j, "/node_kinds/k/gpu_nic/3", "NIC 4 does not exist (this node kind has 4 NICs");
}

TEST(MalformedCluster, GpusOnNoPcieSwitchAreNamed) {
  auto j = base();
  j["node_kinds"]["k"]["pcie_switches"] = json::parse(R"([{"gpus": [0, 1, 2, 3], "nics": 2}, {"gpus": [4, 5], "nics": 2}])");
  expect_error(j, "/node_kinds/k/pcie_switches", "GPUs 6, 7 are on no PCIe switch");
}

TEST(MalformedCluster, GpusNotDivisibleIntoRailsAreRejected) {
  auto j = base();
  j["node_kinds"]["k"]["gpus"] = 6;
  j["node_kinds"]["k"]["pcie_switches"] = json::parse(R"([{"gpus": [0, 1, 2], "nics": 2}, {"gpus": [3, 4, 5], "nics": 2}])");
  j["fabric"] = {{"type", "rail_optimized"}, {"spines", 2}};
  expect_error(j, "/fabric/type", "not divisible into 4 rails");
}

TEST(MalformedCluster, DisconnectedGpusAreReportedAtTheirNodeKind) {
  auto j = pcie_node("switch");
  j["node_kinds"]["k"].erase("socket_link");  // two sockets, no link between them
  expect_error(j, "/node_kinds/k", "disconnected GPUs");
}

TEST(MalformedCluster, UnknownNodeKindsInGroupsAreRejected) {
  auto j = base();
  j["nodes"][0]["kind"] = "kk";
  expect_error(j, "/nodes/0/kind", "unknown node kind \"kk\" (defined in /node_kinds: k)");
}

TEST(MalformedCluster, TooManyNVLinksPerGpuAreRejected) {
  auto j = base();
  j["node_kinds"]["k"]["type"] = "nvlink_mesh";
  j["node_kinds"]["k"]["gpu"] = "v100-sxm2-32gb";
  j["node_kinds"]["k"]["nvlink_pairs"] = json::parse(R"([{"gpus": [0, 1], "links": 4}, {"gpus": [0, 2], "links": 3}])");
  expect_error(j, "/node_kinds/k/nvlink_pairs/1/links", "GPU 0 would use 7 nvlink2 links; a v100-sxm2-32gb GPU has 6");
}

TEST(MalformedCluster, OverridesThatMatchNoLinkAreRejected) {
  auto j = base();
  j["overrides"] = json::array({{{"vertices", "node0/nic*"}, {"cap_Gbps", 50}}});
  expect_error(j, "/overrides/0/vertices", "matches no link");
}

TEST(MalformedCluster, LeafSpineWithoutSpinesIsRejected) {
  auto j = base();
  j["fabric"] = {{"type", "leaf_spine"}, {"nodes_per_leaf", 2}};
  expect_error(j, "/fabric/spines", "required key is missing");
}

TEST(MalformedCluster, SeveralNodesWithoutNicsAreRejected) {
  auto j = base();
  j["node_kinds"]["k"].erase("nic");
  j["node_kinds"]["k"]["pcie_switches"] = {{"count", 4}};
  expect_error(j, "/node_kinds/k/nic", "has no NICs");
}

TEST(MalformedCluster, MalformedJsonNamesTheLine) {
  try {
    (void)load_cluster_text("{\n  \"name\": \"x\",\n  oops\n}", "test.json", std::nullopt, catalog());
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.file(), "test.json");
    EXPECT_NE(std::string(e.what()).find("line 3"), std::string::npos) << e.what();
  }
}

TEST(MalformedCluster, MixingTransportsInOneFabricIsRejected) {
  auto j = base();
  j["node_kinds"]["ib"] = j["node_kinds"]["k"];
  j["node_kinds"]["ib"]["nic"] = "cx6-ib-hdr";
  j["nodes"].push_back({{"kind", "ib"}, {"count", 1}});
  try {
    (void)load(j);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("one fabric carries one transport"), std::string::npos) << e.what();
  }
}

// ---- documentation ----

TEST(Documentation, TheFullExampleInClustersMdLoads) {
  // The first ```json block of docs/CLUSTERS.md.
  std::ifstream in(std::string(MOESIM_SOURCE_DIR) + "/docs/CLUSTERS.md");
  ASSERT_TRUE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string doc = ss.str();
  const auto begin = doc.find("```json\n");
  ASSERT_NE(begin, std::string::npos);
  const auto end = doc.find("```", begin + 8);
  const Topology t = load_cluster_text(doc.substr(begin + 8, end - begin - 8), "CLUSTERS.md example", std::nullopt, catalog());
  EXPECT_EQ(t.node_count(), 6);
  EXPECT_EQ(t.gpu(GpuId(40)).kind, "rtx-a6000");
  EXPECT_EQ(t.network_switch_count(), 5u);  // 3 leaves + 2 spines
  EXPECT_EQ(t.rail(GpuId(36)), 1);          // n4/gpu4 -> gpu_nic[4] = 1
  EXPECT_EQ(t.transport(GpuId(32), GpuId(33)), Transport::PcieP2P);  // under one switch
  EXPECT_EQ(t.transport(GpuId(32), GpuId(36)), Transport::PcieHost);  // across sockets
}

// ---- NVLink SHARP (NVLS) ----

TEST(Presets, H100NVSwitchNodesSupportNvlsAndA100NodesDoNot) {
  for (const char* p : {"dgx-h100", "p5.48xlarge"}) {
    const Topology t = load_cluster(p, std::nullopt, catalog());
    for (int n = 0; n < t.node_count(); ++n) EXPECT_TRUE(t.node(n).nvls) << p << " node " << n;
  }
  for (const char* p : {"dgx-a100", "p4d.24xlarge", "p3dn.24xlarge", "pcie-gen4-8gpu"}) {
    const Topology t = load_cluster(p, std::nullopt, catalog());
    for (int n = 0; n < t.node_count(); ++n) EXPECT_FALSE(t.node(n).nvls) << p << " node " << n;
  }
}

TEST(ClusterLoader, ANodeKindMayTurnNvlsOffButNotOnWithoutCatalogSupport) {
  auto h100 = base();
  h100["node_kinds"]["k"]["gpu"] = "h100-sxm";
  EXPECT_TRUE(load(h100).node(0).nvls);  // from the nvlink4 catalog entry
  h100["node_kinds"]["k"]["nvls"] = false;  // e.g. NCCL_NVLS_ENABLE=0
  EXPECT_FALSE(load(h100).node(1).nvls);
  auto a100 = base();
  a100["node_kinds"]["k"]["nvls"] = true;
  expect_error(a100, "/node_kinds/k/nvls", "no NVLink SHARP");
  a100["node_kinds"]["k"]["nvls"] = "yes";
  expect_error(a100, "/node_kinds/k/nvls", "");
  auto pcie = pcie_node("switch");
  pcie["node_kinds"]["k"]["nvls"] = false;
  expect_error(pcie, "/node_kinds/k/nvls", "needs an NVSwitch node");
}
