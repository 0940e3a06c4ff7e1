#include "sim/collectives/collectives.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "tests/sim/issue_cluster.h"
#include "topologies/builders.h"

using namespace moesim;
using namespace moesim::time_literals;

namespace {

using testing_clusters::issue_cluster;

// Analytical bottleneck time of a uniform all-to-all of S bytes per GPU (S/P to each peer)
// with every transfer started at once and no overheads:
//  - one node: each GPU's NVLink egress carries 7 S/8 at 300 GB/s; + 2 x 1 us latency.
//  - N > 1: each NIC carries the off-node traffic of its 2 GPUs, 2 (P - 8) S / P, at
//    12.5 GB/s (the PCIe links carry the same bytes at twice the rate, NVLink far less);
//    + the latency of the slowest path: a cross-rail message goes over NVLink to the
//    destination's rail first (PXN, 2 us), then 1 + 1 + 2 + 2 + 1 + 1 = 8 us. The
//    intra-node flows end earlier, so the network flows decide the time.
double bottleneck_seconds(int nodes, double S) {
  const int P = 8 * nodes;
  if (nodes == 1) return 7.0 * S / 8 / 300e9 + 2e-6;
  return 2.0 * (P - 8) * S / P / 12.5e9 + 10e-6;
}

}  // namespace

class UniformAllToAll : public ::testing::TestWithParam<int> {};

TEST_P(UniformAllToAll, FinishesAtTheAnalyticalBottleneckTimeWithinOneMillionth) {
  const int nodes = GetParam();
  const Topology topo = build_simple_cluster(issue_cluster(nodes));
  const double S = 64.0 * 1024 * 1024;
  const auto r = simulate_collective(topo, CostFactors::ideal(), CollectiveOp::AllToAll, S);
  const double expect = bottleneck_seconds(nodes, S);
  EXPECT_NEAR(r.time.seconds(), expect, 1e-6 * expect) << nodes << " nodes";
  EXPECT_EQ(r.flows, static_cast<std::size_t>(8 * nodes) * (8 * nodes));  // every ordered pair incl. self
}

INSTANTIATE_TEST_SUITE_P(Nodes, UniformAllToAll, ::testing::Values(1, 2, 4, 8, 16));

TEST(UniformAllToAll, WithDefaultCostsIsSlowedByTheNetworkProtocolEfficiency) {
  // With the default cost factors every network byte costs 1/eta on the wire (eta = 0.743,
  // Simple protocol), so the NIC delivers eta of 12.5 GB/s: the time is the ideal bandwidth
  // term / eta plus per-message overheads and latency, which are microseconds on ~43 ms.
  const Topology topo = build_simple_cluster(issue_cluster(4));
  const double S = 256.0 * 1024 * 1024;
  const auto costs = CostFactors::defaults();
  const double eta = costs.transport(Transport::Efa).choose(S / 32, 12.5e9).efficiency;
  const auto r = simulate_collective(topo, costs, CollectiveOp::AllToAll, S);
  const double bound = (bottleneck_seconds(4, S) - 8e-6) / eta;
  EXPECT_GE(r.time.seconds(), bound);
  EXPECT_LE(r.time.seconds(), bound * 1.03);
}

TEST(Collectives, BusbwFollowsNcclTestsConventions) {
  EXPECT_DOUBLE_EQ(busbw_factor(CollectiveOp::AllToAll, 8), 7.0 / 8);
  EXPECT_DOUBLE_EQ(busbw_factor(CollectiveOp::AllGather, 8), 7.0 / 8);
  EXPECT_DOUBLE_EQ(busbw_factor(CollectiveOp::AllReduce, 8), 14.0 / 8);
}

TEST(Collectives, RingAllReduceOnOneNodeTakesTwoTimesPMinusOneStepsOfSOverP) {
  // Ring of 8 on NVSwitch, ideal costs: each step every GPU sends S/8 over its own NVLink
  // (300 GB/s) to the next: 14 steps x (S/8/300e9 + 2 us latency).
  const Topology topo = build_simple_cluster(issue_cluster(1));
  const double S = 8.0 * 1024 * 1024;
  const auto r = simulate_collective(topo, CostFactors::ideal(), CollectiveOp::AllReduce, S);
  const double expect = 14 * (S / 8 / 300e9 + 2e-6);
  EXPECT_NEAR(r.time.seconds(), expect, 1e-9 * expect + 14e-12);
  // busbw = algbw x 14/8 = S/t x 1.75 -> the NVLink rate 300 GB/s minus latency effects.
  EXPECT_NEAR(r.busbw_GBps, 1.75 * S / expect / 1e9, 1e-6 * r.busbw_GBps);
}

TEST(Collectives, RingAllGatherTakesPMinusOneSteps) {
  const Topology topo = build_simple_cluster(issue_cluster(1));
  const double S = 8.0 * 1024 * 1024;  // gathered output; each rank owns S/8
  const auto r = simulate_collective(topo, CostFactors::ideal(), CollectiveOp::AllGather, S);
  const double expect = 7 * (S / 8 / 300e9 + 2e-6);
  EXPECT_NEAR(r.time.seconds(), expect, 1e-9 * expect + 7e-12);
}

TEST(Collectives, MultiNodeRingsLeaveEachNodeThroughDifferentNics) {
  // 2 nodes, 4 NICs per node: 4 rings; ring c leaves node 0 from a different GPU each.
  const Topology topo = build_simple_cluster(issue_cluster(2));
  std::vector<GpuId> ranks;
  for (int i = 0; i < 16; ++i) ranks.push_back(GpuId::from(i));
  EXPECT_EQ(default_ring_channels(topo, ranks), 4);
  const auto rings = ring_orders(topo, ranks, 4);
  std::set<VertexId> exit_nics;
  for (const auto& ring : rings) {
    // Position 7 is the last GPU of node 0 in this ring, position 8 the first of node 1.
    EXPECT_EQ(topo.gpu(ranks[ring[7]]).node, 0);
    EXPECT_EQ(topo.gpu(ranks[ring[8]]).node, 1);
    exit_nics.insert(topo.gpu(ranks[ring[7]]).nic);
  }
  EXPECT_EQ(exit_nics.size(), 4u);
}

TEST(Collectives, P2pScheduleVisitsTheNodeFirstThenOtherNodesAndEveryPeerOnce) {
  const Topology topo = build_simple_cluster(issue_cluster(3));
  std::vector<GpuId> ranks;
  for (int i = 0; i < 24; ++i) ranks.push_back(GpuId::from(i));
  const auto order = p2p_schedule(topo, ranks, 10);  // node 1, local 2
  ASSERT_EQ(order.size(), 24u);
  EXPECT_EQ(order[0], 10);                           // itself first
  for (int k = 0; k < 8; ++k) EXPECT_EQ(topo.gpu(ranks[order[k]]).node, 1);
  EXPECT_EQ(order[8], 18);                           // node 2, local 2: same local index
  std::vector<int> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  for (int i = 0; i < 24; ++i) EXPECT_EQ(sorted[i], i);
}

TEST(Collectives, HierarchicalAllToAllMovesTheSameBytesAcrossNodesInFewerLargerMessages) {
  // 2 nodes x 8: direct sends 8 network messages per GPU; 2DH sends 1 (to the same local
  // index on the other node), carrying what the 8 carried.
  const Topology topo = build_simple_cluster(issue_cluster(2));
  std::vector<GpuId> ranks;
  for (int i = 0; i < 16; ++i) ranks.push_back(GpuId::from(i));
  auto count = [&](AllToAllAlgorithm alg, int& network_msgs, double& network_bytes) {
    TaskGraph g;
    append_alltoallv(g, topo, ranks, [](int, int) { return 1000.0; }, alg, 0);
    network_msgs = 0;
    network_bytes = 0;
    for (const Task& t : g.tasks())
      if (t.kind == TaskKind::Transfer && topo.gpu(t.src).node != topo.gpu(t.dst).node) {
        ++network_msgs;
        network_bytes += t.bytes;
      }
  };
  int m_direct, m_hier;
  double b_direct, b_hier;
  count(AllToAllAlgorithm::Direct, m_direct, b_direct);
  count(AllToAllAlgorithm::Hierarchical, m_hier, b_hier);
  EXPECT_EQ(m_direct, 16 * 8);
  EXPECT_EQ(m_hier, 16 * 1);
  EXPECT_DOUBLE_EQ(b_direct, b_hier);  // 16 GPUs x 8 peers x 1000 B
}

TEST(Collectives, BoundedPeersInFlightNeverExceedTheLimit) {
  // With at most 2 sends in flight per rank, a link from one GPU never carries more than 2
  // of that GPU's flows: the GPU's NVLink egress peak is <= 2.
  const Topology topo = build_simple_cluster(issue_cluster(1));
  std::vector<GpuId> ranks;
  for (int i = 0; i < 8; ++i) ranks.push_back(GpuId::from(i));
  TaskGraph g;
  append_alltoallv(g, topo, ranks, [](int, int) { return 1e6; }, AllToAllAlgorithm::Direct, 2);
  Engine e;
  Network net(e, topo.links());
  const CostFactors costs = CostFactors::ideal();
  TransferService ts(e, net, topo, costs);
  Executor(ts).run(g);
  std::vector<LinkId> path;
  topo.path(GpuId::from(0), GpuId::from(1), path);
  EXPECT_LE(net.link_stats()[path.front().index()].peak_flows, 2u);
  EXPECT_GE(net.link_stats()[path.front().index()].peak_flows, 1u);
}

TEST(Collectives, SameInputsGiveIdenticalResultsRunAfterRun) {
  const Topology topo = build_simple_cluster(issue_cluster(4));
  const auto a = simulate_collective(topo, CostFactors::defaults(), CollectiveOp::AllToAll, 3e6);
  const auto b = simulate_collective(topo, CostFactors::defaults(), CollectiveOp::AllToAll, 3e6);
  EXPECT_EQ(a.time, b.time);
  EXPECT_EQ(a.flows, b.flows);
}

TEST(Collectives, RingMacroStepsKeepBytesAndPerMessageCostsWithFewerTasks) {
  // 1 node x 8, ideal costs except a 2 us overhead per message: 14 ring steps of S/8, each
  // paying 2 us + 2 us latency. With max_steps 4 the ring runs as 4 macro-steps (4+4+4+2
  // steps) that pay the same 14 overheads and latencies and move the same bytes, so the
  // time is the same to within the ps rounding, with 4/14 of the transfers.
  const Topology topo = build_simple_cluster(issue_cluster(1));
  CostFactors costs = CostFactors::ideal();
  for (auto t : kAllTransports) costs.transport(t).protocols[0].overhead = 2_us;
  std::vector<GpuId> ranks;
  for (int i = 0; i < 8; ++i) ranks.push_back(GpuId::from(i));
  auto run = [&](int max_steps, std::size_t& transfers) {
    TaskGraph g;
    append_allreduce_ring(g, topo, ranks, 8e6, 1, {}, 0, max_steps);
    transfers = 0;
    for (const Task& t : g.tasks()) transfers += t.kind == TaskKind::Transfer;
    Engine e;
    Network net(e, topo.links());
    TransferService ts(e, net, topo, costs);
    return Executor(ts).run(g);
  };
  std::size_t full_n = 0, macro_n = 0;
  const Time full = run(0, full_n);
  const Time macro = run(4, macro_n);
  EXPECT_EQ(full_n, 14u * 8);
  EXPECT_EQ(macro_n, 4u * 8);
  const double expect = 14 * (8e6 / 8 / 300e9 + 2e-6 + 2e-6);
  EXPECT_NEAR(full.seconds(), expect, 1e-9);
  EXPECT_NEAR(macro.seconds(), expect, 1e-9);
}

TEST(TaskGraph, ChainedMarkersRunOnceEachInDependencyOrder) {
  // Regression: markers with no dependencies finish at once; one that readies a later marker
  // must not make the executor start that marker a second time.
  const Topology topo = build_simple_cluster(issue_cluster(1));
  TaskGraph g;
  const TaskId a = g.add_marker();
  const TaskId b = g.add_marker();
  const TaskId c = g.add_transfer(GpuId::from(0), GpuId::from(1), 1e6);
  g.depend(a, b);
  g.depend(b, c);
  Engine e;
  Network net(e, topo.links());
  const CostFactors costs = CostFactors::ideal();
  TransferService ts(e, net, topo, costs);
  const Time end = Executor(ts).run(g);
  EXPECT_EQ(net.flows_completed(), 1u);
  EXPECT_EQ(end, g.task(c).finish);
  EXPECT_LE(g.task(b).finish, g.task(c).start);
}
