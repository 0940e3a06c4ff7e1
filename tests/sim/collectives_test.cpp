#include "sim/collectives/collectives.h"

#include <algorithm>
#include <cmath>
#include <set>

#include <gtest/gtest.h>

#include "tests/sim/issue_cluster.h"
#include "sim/error.h"
#include "topologies/builders.h"
#include "topologies/cluster_loader.h"

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

TEST(TaskGraph, ProgressIsReportedEveryPowerOfTwoTasksAndOnceWhenAllHaveFinished) {
  // 11 tasks: a chain of 5 transfers and 6 markers after it; reports every 4 tasks.
  const Topology topo = build_simple_cluster(issue_cluster(1));
  auto run = [&](std::size_t every) {
    TaskGraph g;
    TaskId prev = g.add_transfer(GpuId::from(0), GpuId::from(1), 1e6);
    for (int i = 0; i < 4; ++i) {
      const TaskId t = g.add_transfer(GpuId::from(0), GpuId::from(1), 1e6);
      g.depend(prev, t);
      prev = t;
    }
    for (int i = 0; i < 6; ++i) g.depend(prev, g.add_marker());
    Engine e;
    Network net(e, topo.links());
    const CostFactors costs = CostFactors::ideal();
    TransferService ts(e, net, topo, costs);
    Executor exec(ts);
    std::vector<std::pair<std::size_t, std::size_t>> calls;
    exec.on_progress([&](std::size_t done, std::size_t total) { calls.emplace_back(done, total); }, every);
    exec.run(g);
    return calls;
  };
  using Calls = std::vector<std::pair<std::size_t, std::size_t>>;
  EXPECT_EQ(run(4), (Calls{{4, 11}, {8, 11}, {11, 11}}));
  EXPECT_EQ(run(1).size(), 11u);         // every task, the last one (11, 11) once
  EXPECT_EQ(run(16), (Calls{{11, 11}}));  // fewer tasks than `every`: the final report only
  Engine e;
  Network net(e, topo.links());
  const CostFactors costs = CostFactors::ideal();
  TransferService ts(e, net, topo, costs);
  Executor exec(ts);
  EXPECT_THROW(exec.on_progress([](std::size_t, std::size_t) {}, 3), InvariantError);
  EXPECT_THROW(exec.on_progress([](std::size_t, std::size_t) {}, 0), InvariantError);
}

// ---- tree all-reduce (NCCL's double binary tree) -------------------------------------------

namespace {

std::vector<GpuId> all_gpus(const Topology& topo) {
  std::vector<GpuId> ranks;
  for (int g = 0; g < topo.gpu_count(); ++g) ranks.push_back(GpuId::from(g));
  return ranks;
}

CollectiveResult allreduce(const Topology& topo, const CostFactors& costs, double S, AllReduceAlgorithm a) {
  return simulate_collective(topo, costs, CollectiveOp::AllReduce, S, {.allreduce_algorithm = a});
}

// Chunk bytes of one tree of the issue cluster on `nodes` nodes (4 channels x 2 trees).
double issue_tree_chunk(double S, const TreePipeline& p) {
  const double D = S / 8;
  return D / p.chunks(D);
}

// Runs `g` with the busy time of `categories` categories tracked (Executor::track_busy).
struct TrackedRun {
  TrackedRun(const Topology& topo, CostFactors c, TaskGraph& g, int categories)
      : net(engine, topo.links()), costs(std::move(c)), transfers(engine, net, topo, costs), exec(transfers) {
    exec.track_busy(categories);
    exec.run(g);
  }
  Engine engine;
  Network net;
  CostFactors costs;
  TransferService transfers;
  Executor exec;
};

}  // namespace

TEST(TaskGraph, BusyTimeIsTheUnionOfEachGpuAndCategorysIntervals) {
  // GPU 0, category 1: delays [0, 3) and [1, 2) overlap, [3, 5) touches them, [7, 8) is apart:
  // busy 5 + 1 = 6 us. Category 2 on GPU 0: a zero-length delay (0). GPU 1, category 1: two
  // computes on one stream run back to back, [0, 4) and [4, 6): 6 us. Category 3 is not
  // tracked (track_busy(3)), and markers never count.
  const Topology topo = build_simple_cluster(issue_cluster(1));
  TaskGraph g;
  const GpuId g0 = GpuId::from(0), g1 = GpuId::from(1);
  const TaskId a = g.add_delay(g0, 3_us, 1);
  g.add_delay(g0, 1_us, 1);  // [0, 1): inside a
  const TaskId wait1 = g.add_delay(g0, 1_us, 3);
  const TaskId b = g.add_delay(g0, 1_us, 1);  // [1, 2) after wait1
  g.depend(wait1, b);
  const TaskId c = g.add_delay(g0, 2_us, 1);  // [3, 5) after a
  g.depend(a, c);
  const TaskId wait7 = g.add_delay(g0, 7_us, 3);
  const TaskId d = g.add_delay(g0, 1_us, 1);  // [7, 8)
  g.depend(wait7, d);
  g.add_delay(g0, Time::zero(), 2);
  g.add_compute(g1, 4_us, 1);
  g.add_compute(g1, 2_us, 1);
  g.add_marker(1);
  const TrackedRun run(topo, CostFactors::ideal(), g, 3);
  const Executor& exec = run.exec;
  EXPECT_EQ(exec.busy(g0, 1), 6_us);
  EXPECT_EQ(exec.busy(g0, 2), Time::zero());
  EXPECT_EQ(exec.busy(g1, 1), 6_us);
  EXPECT_EQ(exec.busy(g1, 0), Time::zero());
  EXPECT_THROW((void)exec.busy(g0, 3), InvariantError);
}

TEST(TaskGraph, BusyTimeMatchesASortedUnionOnAnAllToAll) {
  // Uneven all-to-all-v on 2 nodes with default costs: many overlapping and touching
  // transfer intervals per GPU; busy() must equal the union computed by sorting them.
  const Topology topo = build_simple_cluster(issue_cluster(2));
  const std::vector<GpuId> ranks = all_gpus(topo);
  TaskGraph g;
  append_alltoallv(g, topo, ranks, [](int s, int d) { return 1e5 * (1 + (s * 7 + d * 3) % 11); }, AllToAllAlgorithm::Direct, 4, {}, 2);
  const TrackedRun run(topo, CostFactors::defaults(), g, 4);
  const Executor& exec = run.exec;
  for (const GpuId r : ranks) {
    std::vector<std::pair<std::int64_t, std::int64_t>> iv;
    for (const Task& t : g.tasks())
      if (t.kind == TaskKind::Transfer && t.src == r) iv.emplace_back(t.start.ps(), t.finish.ps());
    std::sort(iv.begin(), iv.end());
    std::int64_t total = 0, cs = iv.front().first, ce = iv.front().second;
    for (const auto& [s, f] : iv) {
      if (s > ce) {
        total += ce - cs;
        cs = s;
      }
      ce = std::max(ce, f);
    }
    total += ce - cs;
    EXPECT_EQ(exec.busy(r, 2).ps(), total) << "GPU " << r.value();
    EXPECT_GT(total, 0);
  }
}

TEST(TransferService, DeclaresThePcieLinksBehindTheNicsDominatedAndNoTimeChanges) {
  // 2 x p4d: a GPU's PCIe links (31.5 GB/s) carry only its network traffic, which also
  // crosses a 12.5 GB/s EFA link, so they are declared; NVLink links never are. With two
  // nodes, node 0's NIC k uplink carries exactly the flows of node 1's NIC k downlink (and
  // back), so one link of each such pair is declared, never both. An uneven all-to-all-v
  // then runs to the same picosecond, with the same link statistics.
  const Topology topo = load_cluster("p4d.24xlarge", 2);
  const std::vector<GpuId> ranks = all_gpus(topo);
  const CostFactors costs = CostFactors::defaults();
  auto run = [&](bool declare, TaskGraph& g, std::vector<LinkStats>& stats, std::vector<bool>& declared) {
    append_alltoallv(g, topo, ranks, [](int s, int d) { return 1e5 * (1 + (s * 7 + d * 3) % 11); }, AllToAllAlgorithm::Direct, 4);
    Engine engine;
    Network net(engine, topo.links());
    TransferService transfers(engine, net, topo, costs, {.cache_routes = true, .declare_dominated_links = declare});
    for (std::size_t l = 0; l < topo.links().size(); ++l) declared.push_back(net.declared_dominated(LinkId::from(l)));
    Executor exec(transfers);
    exec.run(g);
    stats.assign(net.link_stats().begin(), net.link_stats().end());
    EXPECT_EQ(net.solver_stats().undeclared, 0u);
  };
  TaskGraph plain, fast;
  std::vector<LinkStats> plain_stats, fast_stats;
  std::vector<bool> none, declared;
  run(false, plain, plain_stats, none);
  run(true, fast, fast_stats, declared);
  EXPECT_EQ(std::count(none.begin(), none.end(), true), 0);
  int pcie = 0, network = 0, network_declared = 0;
  for (std::size_t l = 0; l < declared.size(); ++l) {
    const LinkSpec& spec = topo.links()[l];
    if (spec.link_class == LinkClass::NVLink) {
      EXPECT_FALSE(declared[l]) << "link " << l << " (" << spec.kind << ")";
    }
    if (spec.link_class == LinkClass::NetworkAccess) {
      ++network;
      network_declared += declared[l] ? 1 : 0;
    }
    if (declared[l] && spec.link_class == LinkClass::PCIe) ++pcie;
  }
  EXPECT_GE(pcie, 2 * 8 * 2);  // each GPU's two PCIe hops to its NIC, both directions at least
  EXPECT_GT(network, 0);
  EXPECT_EQ(2 * network_declared, network);
  ASSERT_EQ(plain.tasks().size(), fast.tasks().size());
  for (std::size_t i = 0; i < plain.tasks().size(); ++i) {
    ASSERT_EQ(plain.tasks()[i].start, fast.tasks()[i].start) << "task " << i;
    ASSERT_EQ(plain.tasks()[i].finish, fast.tasks()[i].finish) << "task " << i;
  }
  for (std::size_t l = 0; l < plain_stats.size(); ++l) {
    EXPECT_EQ(plain_stats[l].bytes, fast_stats[l].bytes) << "link " << l;
    EXPECT_EQ(plain_stats[l].wire_bytes, fast_stats[l].wire_bytes) << "link " << l;
    EXPECT_EQ(plain_stats[l].busy, fast_stats[l].busy) << "link " << l;
    EXPECT_EQ(plain_stats[l].peak_flows, fast_stats[l].peak_flows) << "link " << l;
  }
}

TEST(AllReduceAlgorithm, PrintsAndParsesItsNames) {
  for (auto a : {AllReduceAlgorithm::Ring, AllReduceAlgorithm::Tree, AllReduceAlgorithm::Nvls, AllReduceAlgorithm::Auto})
    EXPECT_EQ(allreduce_algorithm_from_string(to_string(a)), a);
  EXPECT_EQ(to_string(AllReduceAlgorithm::Tree), "tree");
  EXPECT_EQ(to_string(AllReduceAlgorithm::Nvls), "nvls");
  EXPECT_FALSE(allreduce_algorithm_from_string("sharp").has_value());
  EXPECT_FALSE(allreduce_algorithm_from_string("Ring").has_value());
}

TEST(DoubleBinaryTree, MatchesTheTwelveRankDiagramInNcclsTreesCc) {
  // src/graph/trees.cc draws, for 12 ranks, tree 0: 0-8, 8-{4,10}, 4-{2,6}, 2-{1,3},
  // 6-{5,7}, 10-{9,11}; tree 1 is its mirror (r -> 11 - r): 11-3, 3-{7,1}, 7-{9,5}, ...
  const std::vector<int> t0{-1, 2, 4, 2, 8, 6, 4, 6, 0, 10, 8, 10};
  EXPECT_EQ(dtree_node_parents(12, 0), t0);
  std::vector<int> t1(12);
  for (int r = 0; r < 12; ++r) t1[r] = t0[11 - r] < 0 ? -1 : 11 - t0[11 - r];
  EXPECT_EQ(dtree_node_parents(12, 1), t1);
  EXPECT_EQ(t1[3], 11);
  // 13 ranks (odd): tree 1 is tree 0 shifted by one: the drawing's root 1 with child 9.
  const auto s = dtree_node_parents(13, 1);
  EXPECT_EQ(s[1], -1);
  EXPECT_EQ(s[9], 1);
  EXPECT_EQ(s[5], 9);
  EXPECT_EQ(s[0], 9);
}

TEST(DoubleBinaryTree, EveryTreeIsATreeAndWithAnEvenCountNoNodeIsInteriorInBoth) {
  for (int n = 1; n <= 33; ++n) {
    std::vector<int> children[2];
    for (int t = 0; t < 2; ++t) {
      const auto parent = dtree_node_parents(n, t);
      children[t].assign(n, 0);
      int roots = 0;
      for (int r = 0; r < n; ++r) {
        if (parent[r] < 0)
          ++roots;
        else
          ++children[t][parent[r]];
        // Following parents reaches the root in fewer than n steps (no cycle).
        int x = r, steps = 0;
        while (parent[x] >= 0 && steps <= n) x = parent[x], ++steps;
        EXPECT_LT(steps, n) << n << " nodes, tree " << t << ", rank " << r;
      }
      EXPECT_EQ(roots, 1) << n << " nodes, tree " << t;
      for (int r = 0; r < n; ++r) EXPECT_LE(children[t][r], 2) << n << " nodes, tree " << t;
    }
    if (n % 2 != 0) continue;
    for (int r = 0; r < n; ++r)
      EXPECT_FALSE(children[0][r] > 0 && children[1][r] > 0) << n << " nodes: rank " << r << " is interior in both";
  }
}

TEST(TreeAllReduce, MovesTwoTimesPMinusOneBuffersAndEveryRankSendsWhatItReceives) {
  // Each of the 2 x 4 trees carries D = S/8. In a tree every non-root rank sends its share up
  // once and receives the result down once: 2 (P - 1) D per tree, 2 (P - 1) S in all. A rank
  // with c children in a tree (plus its parent) sends and receives (c + 1) D there, so per rank
  // sent == received.
  const Topology topo = build_simple_cluster(issue_cluster(3));
  const auto ranks = all_gpus(topo);
  const int P = 24;
  const double S = 48e6;
  TaskGraph g;
  append_allreduce_tree(g, topo, ranks, S, 4, {.chunk_bytes = 1e6, .max_chunks = 4});
  double total = 0;
  std::vector<double> sent(P, 0), received(P, 0);
  std::size_t transfers = 0;
  for (const Task& t : g.tasks()) {
    if (t.kind != TaskKind::Transfer) continue;
    ++transfers;
    total += t.bytes;
    sent[t.src.index()] += t.bytes;
    received[t.dst.index()] += t.bytes;
  }
  EXPECT_NEAR(total, 2.0 * (P - 1) * S, 1e-6 * S);
  for (int r = 0; r < P; ++r) EXPECT_NEAR(sent[r], received[r], 1e-6 * S) << r;
  // D = 6e6 bytes in ceil(6e6 / 1e6) = 6 chunks, capped at 4: 8 trees x 46 edges x 4 chunks.
  EXPECT_EQ(transfers, 8u * 2 * (P - 1) * 4);
}

TEST(TreeAllReduce, EveryRanksResultWaitsForEveryRanksInput) {
  // Reduce then broadcast: holding back one rank's input for 1 ms holds back every rank's
  // result (its done marker), whichever rank it is (a chain tail, a node head, the root).
  const Topology topo = build_simple_cluster(issue_cluster(3));
  const auto ranks = all_gpus(topo);
  const int P = static_cast<int>(ranks.size());
  const CostFactors costs = CostFactors::ideal();
  const Time hold = Time::from_ps(1'000'000'000);
  for (int late : {0, 5, 8, 23}) {
    TaskGraph g;
    std::vector<TaskId> start(P);
    for (int r = 0; r < P; ++r) start[r] = r == late ? g.add_delay(ranks[r], hold) : g.add_marker();
    const auto h = append_allreduce_tree(g, topo, ranks, 1e6, 2, {}, start);
    Engine e;
    Network net(e, topo.links());
    TransferService ts(e, net, topo, costs);
    Executor(ts).run(g);
    for (int r = 0; r < P; ++r)
      EXPECT_GT(g.task(h.done[r]).finish, hold) << "rank " << r << " did not wait for " << late;
  }
}

TEST(TreeAllReduce, AcrossTwoNodesEachNodeSendsItsBufferOverTheNetworkOnce) {
  // 2 nodes: in each tree one node's head sends D up to the other, which sends D back down, so
  // each node sends S over the network in all (each of its 4 NICs S/4): half the ring's
  // 2 (P - 1) / P S.
  const Topology topo = build_simple_cluster(issue_cluster(2));
  const auto ranks = all_gpus(topo);
  const double S = 64e6;
  auto network_bytes_per_node = [&](AllReduceAlgorithm a) {
    TaskGraph g;
    if (a == AllReduceAlgorithm::Tree)
      append_allreduce_tree(g, topo, ranks, S, 4, {});
    else
      append_allreduce_ring(g, topo, ranks, S, 4);
    std::vector<double> out(2, 0);
    std::set<VertexId> nics;
    for (const Task& t : g.tasks())
      if (t.kind == TaskKind::Transfer && topo.gpu(t.src).node != topo.gpu(t.dst).node) {
        out[topo.gpu(t.src).node] += t.bytes;
        nics.insert(topo.gpu(t.src).nic);
      }
    EXPECT_EQ(nics.size(), 8u);  // every NIC of both nodes
    return out;
  };
  const auto tree = network_bytes_per_node(AllReduceAlgorithm::Tree);
  const auto ring = network_bytes_per_node(AllReduceAlgorithm::Ring);
  for (int n = 0; n < 2; ++n) {
    EXPECT_NEAR(tree[n], S, 1e-6 * S);
    EXPECT_NEAR(ring[n], 2.0 * 15 / 16 * S, 1e-6 * S);
  }
}

TEST(TreeAllReduce, AtFourNodesAnInteriorNodeSendsTwiceItsBufferSoTheTreeSavesNoNetworkBytes) {
  // Over 4 nodes, tree 0 is 0-2, 2-{1,3} and tree 1 its mirror 3-1, 1-{2,0}: node 2 sends D up
  // and 2 D down in tree 0 and D up in tree 1, 4 D per channel = 2 S; nodes 0 and 3 send S.
  // The ring sends 2 (P - 1) / P S from every node: the double binary tree only matches the
  // ring's bandwidth beyond 2 nodes; its gain there is latency (log depth).
  const Topology topo = build_simple_cluster(issue_cluster(4));
  const auto ranks = all_gpus(topo);
  const double S = 64e6;
  TaskGraph g;
  append_allreduce_tree(g, topo, ranks, S, 4, {});
  std::vector<double> out(4, 0);
  for (const Task& t : g.tasks())
    if (t.kind == TaskKind::Transfer && topo.gpu(t.src).node != topo.gpu(t.dst).node)
      out[topo.gpu(t.src).node] += t.bytes;
  EXPECT_NEAR(out[0], S, 1e-6 * S);
  EXPECT_NEAR(out[1], 2 * S, 1e-6 * S);
  EXPECT_NEAR(out[2], 2 * S, 1e-6 * S);
  EXPECT_NEAR(out[3], S, 1e-6 * S);
}

TEST(TreeAllReduce, OneChunkTakesTheDepthTimesLatencyPlusChunkTime) {
  // Issue cluster, 2 nodes, ideal costs, S = 1 MiB: 4 channels x 2 trees of D = S/8 = 128 KiB,
  // one chunk (< 512 KiB). The longest path: up the leaf node's chain (7 NVLink hops, 2 us
  // each; both trees of the channel send up the same chain at once, so each hop carries 2D at
  // 300 GB/s), over the network to the root (8 us, D alone on 12.5 GB/s: the other tree's
  // network hop is one stage earlier), back to the leaf node's head (same), down its chain
  // (7 hops; the other tree's chain there runs one stage apart, so D alone on NVLink).
  const Topology topo = build_simple_cluster(issue_cluster(2));
  const double S = 1024.0 * 1024;
  const double D = S / 8;
  const auto r = allreduce(topo, CostFactors::ideal(), S, AllReduceAlgorithm::Tree);
  const double expect = 2 * (8e-6 + D / 12.5e9) + 7 * (2e-6 + 2 * D / 300e9) + 7 * (2e-6 + D / 300e9);
  EXPECT_NEAR(r.time.seconds(), expect, 1e-9 * expect + 30e-12);
  EXPECT_EQ(r.flows, 8u * 2 * 15);
  EXPECT_EQ(r.allreduce_algorithm, AllReduceAlgorithm::Tree);
}

TEST(TreeAllReduce, LargeMessagesPipelineToTheNicBoundPlusTheFill) {
  // S = 1 GiB: D = 128 MiB per tree in K = 64 chunks (the cap) of q = 2 MiB. Each NIC carries
  // two trees' edges (one tree's up, the other's down), which move in step once the pipeline
  // is full: (K - 1) periods of 8 us + 2q / 12.5 GB/s on the critical network edge, plus the
  // fill: both network hops with q alone and the 14 NVLink hops of the path above.
  const Topology topo = build_simple_cluster(issue_cluster(2));
  const auto costs = CostFactors::ideal();
  const TreePipeline p = TreePipeline::from(costs.collective());
  ASSERT_EQ(p.chunks(1024.0 * 1024 * 1024 / 8), 64);
  const double S = 1024.0 * 1024 * 1024;
  const double q = issue_tree_chunk(S, p);
  const auto r = allreduce(topo, costs, S, AllReduceAlgorithm::Tree);
  const double expect =
      63 * (8e-6 + 2 * q / 12.5e9) + 2 * (8e-6 + q / 12.5e9) + 7 * (2e-6 + 2 * q / 300e9) + 7 * (2e-6 + q / 300e9);
  EXPECT_NEAR(r.time.seconds(), expect, 0.01 * expect);
  // Never faster than the NICs' bytes: 2D per NIC at 12.5 GB/s.
  EXPECT_GT(r.time.seconds(), 2 * (S / 8) / 12.5e9);
}

TEST(TreeAllReduce, BeatsTheRingAcrossTwoNodesForLargeMessages) {
  // Across 2 nodes each node sends S over its NICs in the tree and 2 (P - 1) / P S in the ring.
  for (const char* preset : {"dgx-h100", "p5.48xlarge", "p4d.24xlarge"}) {
    const Topology topo = load_cluster(preset, 2);
    for (double S : {64.0 * 1024 * 1024, 1024.0 * 1024 * 1024}) {
      const auto ring = allreduce(topo, CostFactors::defaults(), S, AllReduceAlgorithm::Ring);
      const auto tree = allreduce(topo, CostFactors::defaults(), S, AllReduceAlgorithm::Tree);
      EXPECT_LT(tree.time.seconds(), 0.95 * ring.time.seconds()) << preset << ", " << S << " B";
    }
  }
  const Topology issue = build_simple_cluster(issue_cluster(2));
  const double S = 1024.0 * 1024 * 1024;
  EXPECT_LT(allreduce(issue, CostFactors::ideal(), S, AllReduceAlgorithm::Tree).time.seconds(),
            0.6 * allreduce(issue, CostFactors::ideal(), S, AllReduceAlgorithm::Ring).time.seconds());
}

TEST(TreeAllReduce, InsideOneNodeTheRingWinsOrTies) {
  // One node: the tree is the node's chain, which moves each GPU's data over NVLink twice (up
  // and down) against the ring's 2 (P - 1) / P; at 8 B both are latency and tie.
  for (const char* preset : {"dgx-a100", "dgx-h100"}) {
    const Topology topo = load_cluster(preset, 1);
    for (double S : {8.0, 1024.0 * 1024, 64.0 * 1024 * 1024, 1024.0 * 1024 * 1024}) {
      const auto ring = allreduce(topo, CostFactors::defaults(), S, AllReduceAlgorithm::Ring);
      const auto tree = allreduce(topo, CostFactors::defaults(), S, AllReduceAlgorithm::Tree);
      EXPECT_LE(ring.time, tree.time) << preset << ", " << S << " B";
      const auto aut = allreduce(topo, CostFactors::defaults(), S, AllReduceAlgorithm::Auto);
      EXPECT_NE(aut.allreduce_algorithm, AllReduceAlgorithm::Tree) << preset << ", " << S << " B";  // H100: NVLS may win
      EXPECT_LE(aut.time, ring.time);
    }
  }
}

TEST(TreeAllReduce, AutoRunsTheFasterOfRingAndTree) {
  // Auto chooses by the fluid model; on these cases the flow model agrees, so Auto's time is
  // the minimum. The cases cover both choices.
  std::set<AllReduceAlgorithm> chosen;
  for (int nodes : {1, 2, 4}) {
    const Topology topo = load_cluster("dgx-h100", nodes);
    for (double S : {8.0, 1024.0 * 1024, 1024.0 * 1024 * 1024}) {
      const auto ring = allreduce(topo, CostFactors::defaults(), S, AllReduceAlgorithm::Ring);
      const auto tree = allreduce(topo, CostFactors::defaults(), S, AllReduceAlgorithm::Tree);
      const auto aut = allreduce(topo, CostFactors::defaults(), S, AllReduceAlgorithm::Auto);
      SCOPED_TRACE(testing::Message() << nodes << " nodes, " << S << " B");
      // One node of dgx-h100 can also run NVLS.
      auto best = tree.time < ring.time ? tree : ring;
      if (nodes == 1) {
        const auto nvls = allreduce(topo, CostFactors::defaults(), S, AllReduceAlgorithm::Nvls);
        if (nvls.time < best.time) best = nvls;
      }
      EXPECT_EQ(aut.time, best.time);
      EXPECT_EQ(aut.allreduce_algorithm, best.allreduce_algorithm);
      chosen.insert(aut.allreduce_algorithm);
    }
  }
  EXPECT_EQ(chosen.size(), 3u);
}

TEST(TreeAllReduce, SameInputsGiveIdenticalResultsRunAfterRun) {
  const Topology topo = build_simple_cluster(issue_cluster(3));
  const auto a = allreduce(topo, CostFactors::defaults(), 100e6, AllReduceAlgorithm::Tree);
  const auto b = allreduce(topo, CostFactors::defaults(), 100e6, AllReduceAlgorithm::Tree);
  EXPECT_EQ(a.time, b.time);
  EXPECT_EQ(a.flows, b.flows);
}

TEST(TreeAllReduce, TheChunkCapBoundsTheTaskCount) {
  // Transfers: 2 trees x 4 channels x 2 (P - 1) edges x K chunks, K = min(cap, D / 512 KiB):
  // linear in the rank count, bounded by the cap whatever the size.
  auto transfers = [](int nodes, double S, int max_chunks) {
    const Topology topo = build_simple_cluster(issue_cluster(nodes));
    TaskGraph g;
    append_allreduce_tree(g, topo, all_gpus(topo), S, 4, {.chunk_bytes = 512.0 * 1024, .max_chunks = max_chunks});
    std::size_t n = 0;
    for (const Task& t : g.tasks()) n += t.kind == TaskKind::Transfer;
    return n;
  };
  EXPECT_EQ(transfers(16, 8.0 * 1024 * 1024, 64), 8u * 254 * 2);  // D = 1 MiB: 2 chunks
  EXPECT_EQ(transfers(16, 8.0 * 1024 * 1024 * 1024, 64), 8u * 254 * 64);
  EXPECT_EQ(transfers(2, 1024.0 * 1024 * 1024, 16), 8u * 30 * 16);
  EXPECT_EQ(transfers(2, 1024.0 * 1024 * 1024, 0), 8u * 30 * 256);  // no cap: D / 512 KiB
}

TEST(TreeAllReduce, OneRankIsDoneAtOnce) {
  const Topology topo = build_simple_cluster(issue_cluster(1));
  const std::vector<GpuId> one{GpuId::from(3)};
  TaskGraph g;
  const auto h = append_allreduce_tree(g, topo, one, 1e6, 1, {});
  ASSERT_EQ(h.done.size(), 1u);
  EXPECT_EQ(g.size(), 1u);
}

// ---- NVLS all-reduce (NVLink SHARP) ----

namespace {

SimpleClusterSpec nvls_node() {
  SimpleClusterSpec spec = issue_cluster(1);
  spec.nvls = true;
  return spec;
}

// Bytes on every GPU->NVSwitch ("up") and NVSwitch->GPU ("down") link after an all-reduce.
struct SwitchLinkBytes {
  std::vector<double> up, down;
};
SwitchLinkBytes switch_link_bytes(const Topology& topo, const CostFactors& costs, double S, AllReduceAlgorithm a) {
  const auto ranks = all_gpus(topo);
  TaskGraph g;
  if (a == AllReduceAlgorithm::Nvls)
    append_allreduce_nvls(g, topo, ranks, S, TreePipeline::from(costs.collective()));
  else
    append_allreduce_ring(g, topo, ranks, S, 1);
  Engine engine;
  Network network(engine, topo.links());
  TransferService transfers(engine, network, topo, costs);
  Executor(transfers).run(g);
  SwitchLinkBytes out;
  for (std::size_t l = 0; l < topo.links().size(); ++l) {
    const LinkId id = LinkId::from(l);
    const bool up = topo.vertex(topo.link_to(id)).kind == VertexKind::NVSwitch;
    const bool down = topo.vertex(topo.link_from(id)).kind == VertexKind::NVSwitch;
    if (up) out.up.push_back(network.link_stats()[l].bytes);
    if (down) out.down.push_back(network.link_stats()[l].bytes);
  }
  return out;
}

}  // namespace

TEST(NvlsAllReduce, EachGpuLinkCarriesTheBufferOnceEachWayAgainstTheRingsTwoPMinusOneOverP) {
  // NVLS: up = (P-1)/P S reduced in + S/P multicast out = S; down = S/P reduced shard +
  // (P-1)/P S gathered = S. The ring: 2 (P-1)/P S each way. P = 8, S = 64 MiB (64 chunks).
  const Topology topo = build_simple_cluster(nvls_node());
  const double S = 64.0 * 1024 * 1024;
  const auto nvls = switch_link_bytes(topo, CostFactors::ideal(), S, AllReduceAlgorithm::Nvls);
  const auto ring = switch_link_bytes(topo, CostFactors::ideal(), S, AllReduceAlgorithm::Ring);
  ASSERT_EQ(nvls.up.size(), 8u);
  ASSERT_EQ(nvls.down.size(), 8u);
  for (std::size_t g = 0; g < 8; ++g) {
    EXPECT_NEAR(nvls.up[g], S, 1e-9 * S) << g;
    EXPECT_NEAR(nvls.down[g], S, 1e-9 * S) << g;
    EXPECT_NEAR(ring.up[g], 2.0 * 7 / 8 * S, 1e-9 * S) << g;
    EXPECT_NEAR(ring.down[g], 2.0 * 7 / 8 * S, 1e-9 * S) << g;
  }
}

TEST(NvlsAllReduce, WithIdealCostsTakesTheTwoFillStagesPlusOneChunkTimePerFurtherChunk) {
  // P = 8, C = 300 GB/s, 1 us per link (2 us per message: up + down), S = 64 MiB in K = 64
  // chunks of c = 1 MiB, shard s = c / 8. The first chunk's reduces alone: each up link carries
  // 7 shards (7 s / C + 2 us); then each step moves one chunk's reduces and the previous one's
  // multicasts, P shards on every link (c / C + 2 us), K - 1 times; the last multicasts alone
  // (7 s / C + 2 us). T = 2 (7/8 c / C + 2 us) + 63 (c / C + 2 us).
  const Topology topo = build_simple_cluster(nvls_node());
  const auto costs = CostFactors::ideal();
  const double S = 64.0 * 1024 * 1024;
  ASSERT_EQ(TreePipeline::from(costs.collective()).chunks(S), 64);
  const double c = S / 64, C = 300e9;
  const auto r = allreduce(topo, costs, S, AllReduceAlgorithm::Nvls);
  const double expect = 2 * (7.0 / 8 * c / C + 2e-6) + 63 * (c / C + 2e-6);
  EXPECT_NEAR(r.time.seconds(), expect, 1e-9 * expect + 1e-9);
  EXPECT_EQ(r.allreduce_algorithm, AllReduceAlgorithm::Nvls);
  EXPECT_EQ(r.flows, 2u * 8 * 64);
  // Large messages approach S / C: busbw 2 (P-1)/P x C, 1.75x the ring's bound.
  const auto big = allreduce(topo, costs, 8.0 * 1024 * 1024 * 1024, AllReduceAlgorithm::Nvls);
  EXPECT_GT(big.busbw_GBps, 1.6 * 300);
  EXPECT_LT(big.busbw_GBps, 1.75 * 300);
}

TEST(NvlsAllReduce, AutoPicksNvlsOnADgxH100NodeForLargeMessagesAndNeverOnAnA100Node) {
  const Topology h100 = load_cluster("dgx-h100", 1);
  for (double S : {256.0 * 1024 * 1024, 1024.0 * 1024 * 1024}) {
    const auto aut = allreduce(h100, CostFactors::defaults(), S, AllReduceAlgorithm::Auto);
    EXPECT_EQ(aut.allreduce_algorithm, AllReduceAlgorithm::Nvls) << S;
    EXPECT_EQ(aut.time, allreduce(h100, CostFactors::defaults(), S, AllReduceAlgorithm::Nvls).time);
  }
  for (const char* preset : {"dgx-a100", "p4d.24xlarge"}) {
    const Topology a100 = load_cluster(preset, 1);
    for (double S : {8.0, 1024.0 * 1024, 1024.0 * 1024 * 1024})
      EXPECT_NE(allreduce(a100, CostFactors::defaults(), S, AllReduceAlgorithm::Auto).allreduce_algorithm,
                AllReduceAlgorithm::Nvls)
          << preset << ", " << S;
  }
  // Across nodes NVLS-tree is not modelled: Auto stays with ring or tree.
  const Topology two = load_cluster("dgx-h100", 2);
  EXPECT_NE(allreduce(two, CostFactors::defaults(), 1e9, AllReduceAlgorithm::Auto).allreduce_algorithm,
            AllReduceAlgorithm::Nvls);
}

TEST(NvlsAllReduce, OnAClusterThatCannotRunItIsAnErrorNamingTheClusterAndWhy) {
  auto expect_error = [](const Topology& topo, const std::string& why) {
    try {
      (void)allreduce(topo, CostFactors::defaults(), 1e6, AllReduceAlgorithm::Nvls);
      ADD_FAILURE() << "no error on " << topo.name();
    } catch (const InputError& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find(std::string(topo.name())), std::string::npos) << m;
      EXPECT_NE(m.find(why), std::string::npos) << m;
    }
  };
  expect_error(load_cluster("dgx-a100", 1), "no NVSwitch with NVLink SHARP");
  expect_error(build_simple_cluster(issue_cluster(1)), "no NVSwitch with NVLink SHARP");
  expect_error(load_cluster("dgx-h100", 2), "spans several nodes");
  EXPECT_EQ(nvls_unsupported_reason(load_cluster("dgx-h100", 1), all_gpus(load_cluster("dgx-h100", 1))), "");
}

TEST(NvlsAllReduce, SameInputsGiveIdenticalResultsRunAfterRun) {
  const Topology topo = load_cluster("p5.48xlarge", 1);
  const auto a = allreduce(topo, CostFactors::defaults(), 100e6, AllReduceAlgorithm::Nvls);
  const auto b = allreduce(topo, CostFactors::defaults(), 100e6, AllReduceAlgorithm::Nvls);
  EXPECT_EQ(a.time, b.time);
  EXPECT_EQ(a.flows, b.flows);
}

TEST(NvlsAllReduce, UsesTheCostFactorsNvlsProtocolForEveryMessage) {
  // Defaults: Simple (3.4 us overhead) even for 8 B, where the ring's messages pick LL.
  const Topology topo = load_cluster("dgx-h100", 1);
  const auto nvls = allreduce(topo, CostFactors::defaults(), 8, AllReduceAlgorithm::Nvls);
  // One chunk: a Reduce then a Multicast, each overhead 3.4 us + 2 x 0.235 us latency.
  EXPECT_NEAR(nvls.time.seconds(), 2 * (3.4e-6 + 0.47e-6), 0.01e-6);
}
