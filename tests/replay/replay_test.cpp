// Tests of replay_traffic (sim/collectives/replay.h): a captured traffic matrix replayed as one
// all-to-all-v, against the collective simulation and against closed-form max-min times.
#include "sim/collectives/replay.h"

#include <algorithm>
#include <cmath>
#include <string>

#include <gtest/gtest.h>

#include "topologies/builders.h"
#include "topologies/cluster_loader.h"

using namespace moesim;
using namespace moesim::time_literals;

namespace {

constexpr double kMiB = 1024.0 * 1024.0;
constexpr double kNic_Bps = 12.5e9;

// The issue's cluster: per node 8 GPUs on an NVSwitch (300 GB/s), a 25 GB/s PCIe link per GPU,
// 4 NICs of 12.5 GB/s each shared by 2 GPUs, one non-blocking switch. Latencies per link:
// NVLink 0.5 us, PCIe 1 us, NIC <-> switch 2 us.
SimpleClusterSpec issue_spec(int nodes) {
  return {.nodes = nodes,
          .gpus_per_node = 8,
          .nvlink_GBps = 300,
          .nvlink_latency = 500_ns,
          .nics_per_node = 4,
          .pcie_GBps = 25,
          .pcie_latency = 1_us,
          .nic_GBps = 12.5,
          .nic_latency = 2_us};
}

// Inter-node paths. Plain: GPU -> PCIe switch -> NIC -> switch -> NIC -> PCIe switch -> GPU =
// 4 PCIe links (1 us each) + 2 NIC links (2 us each) = 8 us. With PXN (on by default in every
// cost-factor set, ideal included, as NCCL >= 2.12), a message to another node whose GPU sits
// on a different rail (NIC) first crosses NVLink to the sender node's GPU with the
// destination's local index (on the destination's rail), then goes rail-aligned: 2 more NVLink
// links (0.5 us each) = 9 us. Rail of local index i = i / 2.
constexpr double kPlainLatency_s = 8e-6;
constexpr double kPxnLatency_s = 9e-6;

CostFactors ideal_without_pxn() {
  CostFactors c = CostFactors::ideal();
  c.collective().pxn = false;
  return c;
}

TrafficMatrix uniform(int P, double per_pair) {
  TrafficMatrix m = TrafficMatrix::zeros(P, "uniform");
  std::fill(m.bytes.begin(), m.bytes.end(), per_pair);
  return m;
}

std::string name_of(const Topology& topo, LinkId l) {
  return topo.vertex(topo.link_from(l)).name + " -> " + topo.vertex(topo.link_to(l)).name;
}

std::string example_cluster() {
  return std::string(MOESIM_SOURCE_DIR) + "/tests/replay/data/ideal-8gpu-4nic.json";
}

}  // namespace

TEST(Replay, AUniformMatrixTakesAsLongAsTheAllToAllCollectiveOfTheSameBuffer) {
  // simulate_collective(AllToAll, S) sends S / P from every rank to every rank, self included
  // (a zero-time local copy), with the cost factors' peer bound: the same graph as the matrix.
  const Topology topo = build_simple_cluster(issue_spec(2));
  const int P = topo.gpu_count();
  const double S = 64 * kMiB;
  const TrafficMatrix m = uniform(P, S / P);
  for (const CostFactors& costs : {CostFactors::defaults(), CostFactors::ideal()})
    for (AllToAllAlgorithm alg : {AllToAllAlgorithm::Direct, AllToAllAlgorithm::Hierarchical}) {
      SCOPED_TRACE(fmt::format("{}, {}", costs.origin(), to_string(alg)));
      const auto expected = simulate_collective(topo, costs, CollectiveOp::AllToAll, S, {.algorithm = alg});
      const ReplayResult r = replay_traffic(topo, costs, m, alg);
      EXPECT_EQ(r.completion, expected.time);
      EXPECT_EQ(r.transfers, expected.flows);
      EXPECT_DOUBLE_EQ(r.self_bytes, P * (S / P));
      EXPECT_DOUBLE_EQ(r.total_bytes, P * (P - 1) * (S / P));
    }
}

TEST(Replay, AnIdealUniformAllToAllEndsAtTheBusiestNicsBytesOverItsBandwidthPlusThePathLatency) {
  // b bytes per ordered pair, N nodes. Every inter-node flow crosses exactly one NIC uplink
  // and one NIC downlink. Plain routing: a NIC carries its 2 GPUs' flows to the 8 (N - 1)
  // remote GPUs. PXN: a NIC carries the flows of all 8 GPUs of its node to the 2 (N - 1)
  // remote GPUs on its rail. Either way 16 (N - 1) b per NIC link: the busiest links (a GPU's
  // PCIe link carries 8 (N - 1) b at 25 GB/s, half the NIC's time; NVLink at most
  // (7 + 6 (N - 1)) b at 300 GB/s). All 16 (N - 1) flows on a NIC get 12.5 GB/s / (16 (N - 1))
  // from t = 0 to the end (the NIC stays their bottleneck when the intra-node flows end), so
  // every inter-node flow ends its bandwidth phase at 16 (N - 1) b / 12.5e9, and the last
  // delivery is that plus the longest inter-node path latency:
  //   T = 16 (N - 1) b / 12.5e9 + 9 us (PXN; cross-rail flows) or + 8 us (plain paths).
  const double b = 16 * kMiB;
  for (int nodes : {2, 3, 4})
    for (bool pxn : {true, false}) {
      SCOPED_TRACE(fmt::format("{} nodes, pxn {}", nodes, pxn));
      const Topology topo = build_simple_cluster(issue_spec(nodes));
      const int P = topo.gpu_count();
      TrafficMatrix m = uniform(P, b);
      for (int g = 0; g < P; ++g) m.at(g, g) = 0;
      const ReplayResult r =
          replay_traffic(topo, pxn ? CostFactors::ideal() : ideal_without_pxn(), m, AllToAllAlgorithm::Direct);
      const double nic_bytes = 16.0 * (nodes - 1) * b;
      const double expected_s = nic_bytes / kNic_Bps + (pxn ? kPxnLatency_s : kPlainLatency_s);
      EXPECT_NEAR(r.completion.seconds(), expected_s, 1e-9 * expected_s);
      for (int g = 0; g < P; ++g) {  // every GPU sends and receives inter-node (and cross-rail) flows
        EXPECT_EQ(r.send_finish[g], r.completion) << g;
        EXPECT_EQ(r.recv_finish[g], r.completion) << g;
        EXPECT_DOUBLE_EQ(r.bytes_sent[g], (P - 1) * b);
      }
      const auto busiest = busiest_links(topo, r, 1);
      ASSERT_EQ(busiest.size(), 1u);
      EXPECT_EQ(topo.link(busiest[0].link).link_class, LinkClass::NetworkAccess);
      EXPECT_DOUBLE_EQ(busiest[0].bytes, nic_bytes);
      // utilization = bytes / (capacity x T): a NIC idles only for the final latency.
      EXPECT_NEAR(busiest[0].utilization, (nic_bytes / kNic_Bps) / expected_s, 1e-9);
    }
}

TEST(Replay, AHotDestinationIsLimitedByItsNarrowestIncomingLink) {
  // Every other GPU sends H to the hot GPU 5 (n0/gpu5, rail 2, behind n0/nic2); the GPUs of
  // the other nodes also exchange s among themselves over NVLink. Into the hot GPU: 7 H over
  // NVLink (300 GB/s) and 8 (N - 1) H from the other nodes, all through switch -> n0/nic2
  // (12.5 GB/s), the narrowest link on the way in (then n0/nic2 -> n0/pcie2 and
  // n0/pcie2 -> n0/gpu5, both 25 GB/s). With PXN each other node sends them all through its
  // own nic2 (8 flows per uplink, >= the 8 (N - 1) sharing the downlink; the NVLink relay
  // hops have far more capacity than the flows' share), so the remote flows share the hot
  // downlink equally from t = 0 and end together; the cross-rail ones arrive last:
  //   T = 8 (N - 1) H / 12.5e9 + 9 us.
  const double H = 8 * kMiB, s = 1 * kMiB;
  const int hot = 5;
  for (int nodes : {2, 4}) {
    SCOPED_TRACE(nodes);
    const Topology topo = build_simple_cluster(issue_spec(nodes));
    const int P = topo.gpu_count();
    TrafficMatrix m = TrafficMatrix::zeros(P, "hot");
    for (int g = 0; g < P; ++g)
      if (g != hot) m.at(g, hot) = H;
    for (int a = 8; a < P; ++a)
      for (int c = 8; c < P; ++c)
        if (a != c && a / 8 == c / 8) m.at(a, c) = s;
    const ReplayResult r = replay_traffic(topo, CostFactors::ideal(), m, AllToAllAlgorithm::Direct);
    const double remote_bytes = 8.0 * (nodes - 1) * H;
    const double expected_s = remote_bytes / kNic_Bps + kPxnLatency_s;
    EXPECT_NEAR(r.completion.seconds(), expected_s, 1e-9 * expected_s);
    EXPECT_EQ(r.recv_finish[hot], r.completion);
    EXPECT_DOUBLE_EQ(r.bytes_received[hot], (P - 1) * H);
    for (int g = 0; g < P; ++g) {
      if (g != hot) {
        EXPECT_LT(r.recv_finish[g], r.completion) << g;
      }
    }
    const auto busiest = busiest_links(topo, r, 3);
    ASSERT_FALSE(busiest.empty());
    EXPECT_EQ(name_of(topo, busiest[0].link), "switch -> n0/nic2");
    EXPECT_DOUBLE_EQ(busiest[0].bytes, remote_bytes);
    EXPECT_EQ(busiest[0].peak_flows, 8u * (nodes - 1));
  }
}

TEST(Replay, LinkBytesAddUpToTheMatrixOnEveryLinkClass) {
  // Direct all-to-all-v: each off-diagonal entry crosses its path once. Inside a node the
  // path is GPU -> NVSwitch -> GPU (2 NVLink links); across nodes 4 PCIe links and 2 NIC
  // links, plus 2 NVLink links for a cross-rail message under PXN.
  const Topology topo = build_simple_cluster(issue_spec(3));
  const int P = topo.gpu_count();
  TrafficMatrix m = TrafficMatrix::zeros(P, "skewed");
  double intra = 0, inter = 0, cross_rail = 0;
  for (int a = 0; a < P; ++a)
    for (int c = 0; c < P; ++c) {
      const double b = (1 + (a * 7 + c * 3) % 11) * 1000.0;
      m.at(a, c) = b;
      if (a == c) continue;
      (a / 8 == c / 8 ? intra : inter) += b;
      if (a / 8 != c / 8 && (a % 8) / 2 != (c % 8) / 2) cross_rail += b;
    }
  for (const CostFactors& costs : {CostFactors::defaults(), CostFactors::ideal(), ideal_without_pxn()}) {
    SCOPED_TRACE(costs.origin());
    const ReplayResult r = replay_traffic(topo, costs, m, AllToAllAlgorithm::Direct);
    double nvlink = 0, pcie = 0, access = 0;
    for (const auto& k : usage_by_link_kind(topo, r)) {
      if (k.link_class == LinkClass::NVLink) nvlink += k.bytes;
      if (k.link_class == LinkClass::PCIe) pcie += k.bytes;
      if (k.link_class == LinkClass::NetworkAccess) access += k.bytes;
      EXPECT_LE(k.utilization, 1 + 1e-12);
      EXPECT_LE(k.max_utilization, 1 + 1e-12);
    }
    EXPECT_NEAR(nvlink, 2 * intra + (costs.collective().pxn ? 2 * cross_rail : 0), 1e-6);
    EXPECT_NEAR(pcie, 4 * inter, 1e-6);
    EXPECT_NEAR(access, 2 * inter, 1e-6);
    EXPECT_DOUBLE_EQ(r.total_bytes, intra + inter);
  }
}

TEST(Replay, SelfCopiesTakeNoTime) {
  const Topology topo = build_simple_cluster(issue_spec(2));
  TrafficMatrix m = TrafficMatrix::zeros(topo.gpu_count(), "self");
  for (int g = 0; g < topo.gpu_count(); ++g) m.at(g, g) = 1e9;
  for (AllToAllAlgorithm alg : {AllToAllAlgorithm::Direct, AllToAllAlgorithm::Hierarchical}) {
    const ReplayResult r = replay_traffic(topo, CostFactors::defaults(), m, alg);
    EXPECT_EQ(r.completion, Time::zero());
    EXPECT_DOUBLE_EQ(r.self_bytes, 16e9);
    EXPECT_DOUBLE_EQ(r.total_bytes, 0);
    EXPECT_TRUE(busiest_links(topo, r, 5).empty());
  }
}

TEST(Replay, HierarchicalRelaysThroughTheGpuWithTheDestinationsLocalIndex) {
  // GPU 0 (n0/gpu0) sends B to GPU 13 (n1/gpu5). Hierarchical: phase 1 n0/gpu0 -> n0/gpu5 over
  // NVLink (B / 300e9 + 1 us), then phase 2 n0/gpu5 -> n1/gpu5, rail-aligned through nic2 of
  // each node (B / 12.5e9 + 8 us). GPU 0's last send is its phase-1 copy; GPU 5 (the relay)
  // sends last. Direct with PXN: one flow over the same links (relay n0/gpu5 included) at the
  // NIC's 12.5 GB/s: B / 12.5e9 + 9 us.
  const Topology topo = build_simple_cluster(issue_spec(2));
  TrafficMatrix m = TrafficMatrix::zeros(topo.gpu_count(), "one");
  const double B = 4 * kMiB;
  m.at(0, 13) = B;
  const ReplayResult r = replay_traffic(topo, CostFactors::ideal(), m, AllToAllAlgorithm::Hierarchical);
  const double phase1 = B / 300e9 + 1e-6, phase2 = B / kNic_Bps + kPlainLatency_s;
  const double ps = 1e-12;  // each phase ends rounded up to a whole picosecond (sim/time.h)
  EXPECT_NEAR(r.completion.seconds(), phase1 + phase2, 2 * ps);
  EXPECT_GE(r.completion.seconds(), phase1 + phase2);
  EXPECT_NEAR(r.send_finish[0].seconds(), phase1, ps);
  EXPECT_EQ(r.send_finish[5], r.completion);
  EXPECT_EQ(r.recv_finish[5], r.send_finish[0]);
  EXPECT_EQ(r.recv_finish[13], r.completion);
  const auto busiest = busiest_links(topo, r, 1);
  ASSERT_EQ(busiest.size(), 1u);
  EXPECT_EQ(name_of(topo, busiest[0].link), "n0/nic2 -> switch");  // ties with switch -> n1/nic2: lower link id
  const ReplayResult d = replay_traffic(topo, CostFactors::ideal(), m, AllToAllAlgorithm::Direct);
  const double direct = B / kNic_Bps + kPxnLatency_s;
  EXPECT_NEAR(d.completion.seconds(), direct, 1e-9 * direct);
  EXPECT_EQ(d.send_finish[0], d.completion);
  EXPECT_EQ(d.send_finish[5], Time::zero());  // a PXN relay is not a sender
}

TEST(Replay, HierarchicalWithGpusThatReceiveNothingInPhaseOneCompletes) {
  // A sparse matrix leaves most GPUs without phase-1 data; every transfer must run once.
  const Topology topo = build_simple_cluster(issue_spec(3));
  TrafficMatrix m = TrafficMatrix::zeros(topo.gpu_count(), "sparse");
  m.at(1, 20) = 1e6;
  m.at(9, 2) = 2e6;
  m.at(17, 17) = 5e6;
  const ReplayResult r = replay_traffic(topo, CostFactors::defaults(), m, AllToAllAlgorithm::Hierarchical);
  // Transfers: 1 -> 4 and 4 -> 20 (phase 1, 2); 9 -> 10 and 10 -> 2; the self copy 17 -> 17.
  EXPECT_EQ(r.transfers, 5u);
  EXPECT_GT(r.recv_finish[20], r.recv_finish[4]);
  EXPECT_EQ(r.completion, std::max(r.recv_finish[20], r.recv_finish[2]));
}

TEST(Replay, TheTransferLogListsEveryNetworkTransferWithItsTimes) {
  // Plain paths, ideal: GPU 0 sends B to GPU 1 (NVLink: B / 300e9 + 1 us) and to GPU 9
  // (n1/gpu1 through nic0 of each node: B / 12.5e9 + 8 us); the self copy is not listed.
  const Topology topo = build_simple_cluster(issue_spec(2));
  TrafficMatrix m = TrafficMatrix::zeros(topo.gpu_count(), "log");
  const double B = 1e6;
  m.at(0, 0) = B;
  m.at(0, 1) = B;
  m.at(0, 9) = B;
  const ReplayResult r =
      replay_traffic(topo, ideal_without_pxn(), m, AllToAllAlgorithm::Direct, {.record_transfers = true});
  ASSERT_EQ(r.transfer_log.size(), 2u);
  EXPECT_EQ(r.transfer_log[0].dst, GpuId(1));
  EXPECT_EQ(r.transfer_log[0].start, Time::zero());
  EXPECT_NEAR(r.transfer_log[0].finish.seconds(), B / 300e9 + 1e-6, 1e-12);
  EXPECT_EQ(r.transfer_log[1].dst, GpuId(9));
  EXPECT_NEAR(r.transfer_log[1].finish.seconds(), B / kNic_Bps + kPlainLatency_s, 1e-12);
  EXPECT_EQ(r.transfers, 3u);  // the self copy is a (zero-time) transfer too
  EXPECT_TRUE(replay_traffic(topo, ideal_without_pxn(), m).transfer_log.empty());
}

TEST(Replay, TheExampleClusterFileBuildsTheSameClusterAsTheBuilder) {
  // tests/replay/data/ideal-8gpu-4nic.json states every bandwidth and latency explicitly; it
  // must replay exactly like build_simple_cluster with the same figures.
  for (int nodes : {2, 3}) {
    const Topology file = load_cluster(example_cluster(), nodes);
    const Topology built = build_simple_cluster(issue_spec(nodes));
    ASSERT_EQ(file.gpu_count(), built.gpu_count());
    const int P = built.gpu_count();
    TrafficMatrix m = TrafficMatrix::zeros(P, "zipf");
    for (int a = 0; a < P; ++a)
      for (int c = 0; c < P; ++c)
        if (a != c) m.at(a, c) = 1e6 / std::pow(c + 1.0, 1.2);
    for (const CostFactors& costs : {CostFactors::defaults(), CostFactors::ideal()}) {
      const ReplayResult x = replay_traffic(file, costs, m, AllToAllAlgorithm::Direct);
      const ReplayResult y = replay_traffic(built, costs, m, AllToAllAlgorithm::Direct);
      EXPECT_EQ(x.completion, y.completion);
      EXPECT_EQ(x.send_finish, y.send_finish);
      EXPECT_EQ(x.recv_finish, y.recv_finish);
      const auto bx = busiest_links(file, x, 4), by = busiest_links(built, y, 4);
      ASSERT_EQ(bx.size(), by.size());
      for (std::size_t i = 0; i < bx.size(); ++i) {
        EXPECT_EQ(name_of(file, bx[i].link), name_of(built, by[i].link));
        EXPECT_DOUBLE_EQ(bx[i].utilization, by[i].utilization);
      }
    }
  }
}

TEST(Replay, AMatrixOfTheWrongSizeIsAnInputErrorNamingTheMatrix) {
  const Topology topo = build_simple_cluster(issue_spec(2));
  const TrafficMatrix m = TrafficMatrix::zeros(8, "small.json");
  try {
    replay_traffic(topo, CostFactors::ideal(), m);
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("small.json: the traffic matrix has 8 GPUs but cluster"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("has 16"), std::string::npos) << e.what();
  }
  TrafficMatrix bad = TrafficMatrix::zeros(16, "made.json");
  bad.at(3, 4) = -1;
  EXPECT_THROW(replay_traffic(topo, CostFactors::ideal(), bad), InputError);
}
