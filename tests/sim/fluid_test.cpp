// The fluid (bottleneck) collective model against closed forms and against the flow model.
#include "sim/collectives/fluid.h"

#include <algorithm>
#include <cmath>
#include <set>

#include <gtest/gtest.h>

#include "sim/collectives/collectives.h"
#include "tests/sim/issue_cluster.h"
#include "topologies/builders.h"
#include "topologies/cluster_loader.h"

using namespace moesim;
using namespace moesim::time_literals;

namespace {

using testing_clusters::issue_cluster;

struct Fixture {
  explicit Fixture(int nodes, CostFactors c) : topo(build_simple_cluster(issue_cluster(nodes))), costs(std::move(c)) {
    for (int g = 0; g < topo.gpu_count(); ++g) ranks.push_back(GpuId::from(g));
  }
  Topology topo;
  CostFactors costs;
  Engine engine;
  Network network{engine, topo.links()};
  TransferService transfers{engine, network, topo, costs};
  std::vector<GpuId> ranks;
};

std::vector<FluidTransfer> uniform(int P, double per_peer) {
  std::vector<FluidTransfer> m;
  for (int s = 0; s < P; ++s)
    for (int d = 0; d < P; ++d) m.push_back({s, d, per_peer});
  return m;
}

double max_finish(const FluidResult& r) {
  Time t = Time::zero();
  for (Time f : r.finish) t = std::max(t, f);
  return t.seconds();
}

}  // namespace

class FluidUniformAllToAll : public ::testing::TestWithParam<int> {};

TEST_P(FluidUniformAllToAll, IdealEqualsTheClosedFormBottleneckAndTheFlowModel) {
  // Ideal costs: the busiest link's bytes over its capacity plus the path latency. Across
  // nodes each NIC carries 2 (P - 8) S / P at 12.5 GB/s; the slowest path is a cross-rail
  // message, which PXN sends over NVLink to the destination's rail first: 2 us of NVLink, then
  // 1 + 1 + 2 + 2 + 1 + 1 = 8 us rail-aligned. On one node each NVLink egress carries 7 S / 8
  // at 300 GB/s, latency 2 us. Times are whole picoseconds (rounded up).
  const int nodes = GetParam();
  Fixture f(nodes, CostFactors::ideal());
  const int P = 8 * nodes;
  const double S = 64.0 * 1024 * 1024;
  const auto r = fluid_alltoallv(f.transfers, f.ranks, uniform(P, S / P), 0);
  const double expect = nodes == 1 ? 7.0 * S / 8 / 300e9 + 2e-6 : 2.0 * (P - 8) * S / P / 12.5e9 + 10e-6;
  EXPECT_NEAR(max_finish(r), expect, 1e-12 + 1e-9 * expect);
  const auto flow = simulate_collective(f.topo, f.costs, CollectiveOp::AllToAll, S);
  EXPECT_NEAR(max_finish(r), flow.time.seconds(), 1e-6 * expect);
  EXPECT_EQ(r.messages, static_cast<std::size_t>(P) * (P - 1));  // self-messages cross no link
}

INSTANTIATE_TEST_SUITE_P(Nodes, FluidUniformAllToAll, ::testing::Values(1, 2, 4));

TEST(FluidAllToAll, DefaultCostsStayCloseToTheFlowModel) {
  // Overheads, protocol efficiencies and the 16-peer window. Up to 16 peers (<= 2 nodes) the
  // window never binds and the models agree exactly. Beyond it, the fluid model charges each
  // round before the last a full overhead + latency in series, while the flow model overlaps
  // part of them with other slots' bytes: the fluid model is slower by a few percent for small
  // messages and by < 1.5% from 16 MiB (docs/PERFORMANCE.md has the table).
  for (int nodes : {1, 2, 4, 8}) {
    Fixture f(nodes, CostFactors::defaults());
    const int P = 8 * nodes;
    for (double S : {64.0 * 1024, 1024.0 * 1024, 16.0 * 1024 * 1024, 256.0 * 1024 * 1024}) {
      const auto r = fluid_alltoallv(f.transfers, f.ranks, uniform(P, S / P),
                                     f.costs.collective().alltoall_max_peers_in_flight);
      const auto flow = simulate_collective(f.topo, f.costs, CollectiveOp::AllToAll, S);
      const double err = max_finish(r) / flow.time.seconds() - 1;
      SCOPED_TRACE(testing::Message() << nodes << " nodes, " << S << " B: fluid " << max_finish(r) * 1e6 << " us, flow "
                                      << flow.time.seconds() * 1e6 << " us");
      if (nodes <= 2) {
        EXPECT_NEAR(err, 0, 1e-6);
      }
      EXPECT_GE(err, -0.001);
      EXPECT_LE(err, S >= 16.0 * 1024 * 1024 ? 0.015 : 0.10);
    }
  }
}

TEST(FluidAllToAll, ProcessorSharingOnOneLinkIsExact) {
  // GPU 0 sends w to GPU 1 and 3w to GPU 2 on one node (ideal costs): both cross GPU 0's
  // NVLink egress (300 GB/s), each then a different ingress. Processor sharing: the small one
  // ends at 2w / C, the large at 4w / C; plus the 2 us path latency. Rank 0 ends with the last.
  Fixture f(1, CostFactors::ideal());
  const double w = 30e6, C = 300e9;
  const std::vector<FluidTransfer> m{{0, 1, w}, {0, 2, 3 * w}};
  const auto r = fluid_alltoallv(f.transfers, f.ranks, m, 0);
  EXPECT_NEAR(r.finish[1].seconds(), 2 * w / C + 2e-6, 1e-11);
  EXPECT_NEAR(r.finish[2].seconds(), 4 * w / C + 2e-6, 1e-11);
  EXPECT_NEAR(r.finish[0].seconds(), 4 * w / C + 2e-6, 1e-11);
  EXPECT_EQ(r.finish[3], Time::zero());  // took no part
  // The flow model's max-min sharing gives the same on this one-bottleneck case.
  TaskGraph g;
  const std::vector<TaskId> none;
  const auto h = append_alltoallv(
      g, f.topo, f.ranks, [&](int s, int d) { return s == 0 && d == 1 ? w : s == 0 && d == 2 ? 3 * w : 0.0; },
      AllToAllAlgorithm::Direct, 0);
  Executor exec(f.transfers);
  exec.run(g);
  EXPECT_NEAR(g.task(h.done[1]).finish.seconds(), r.finish[1].seconds(), 1e-11);
  EXPECT_NEAR(g.task(h.done[2]).finish.seconds(), r.finish[2].seconds(), 1e-11);
}

TEST(FluidAllToAll, HotDestinationIsLimitedByItsReceivePath) {
  // Every GPU of 2 nodes sends S to GPU 0 and S/100 to the others: GPU 0's ingress decides.
  Fixture f(2, CostFactors::ideal());
  const int P = 16;
  const double S = 8e6;
  std::vector<FluidTransfer> m;
  for (int s = 0; s < P; ++s)
    for (int d = 0; d < P; ++d)
      if (s != d) m.push_back({s, d, d == 0 ? S : S / 100});
  const auto r = fluid_alltoallv(f.transfers, f.ranks, m, 0);
  // GPU 0's off-node senders (8) share its NIC ingress... and the PCIe link from NIC to GPU 0:
  // 8 S at 12.5 GB/s is the worst link for the messages into GPU 0.
  EXPECT_GE(r.finish[0].seconds(), 8 * S / 12.5e9);
  for (int g = 1; g < P; ++g) EXPECT_LE(r.finish[g], r.finish[0]) << g;
}

TEST(FluidAllReduce, RingMatchesTheFlowModel) {
  for (int nodes : {1, 2}) {
    Fixture f(nodes, CostFactors::defaults());
    const double S = 64.0 * 1024 * 1024;
    const int channels = default_ring_channels(f.topo, f.ranks);
    const std::vector<std::vector<GpuId>> groups{f.ranks};
    const std::vector<int> ch{channels};
    const auto r = fluid_allreduce_rings(f.transfers, groups, S, ch);
    const auto flow = simulate_collective(f.topo, f.costs, CollectiveOp::AllReduce, S,
                                          {.allreduce_algorithm = AllReduceAlgorithm::Ring});
    EXPECT_NEAR(r.finish[0].seconds(), flow.time.seconds(), 0.01 * flow.time.seconds()) << nodes << " nodes";
    // Each ring edge moves 2 (P - 1) chunks of S / (P * channels): total wire bytes per ring
    // edge summed over links >= 2 (P - 1) S / P per rank.
    double total = 0;
    for (const auto& [l, b] : r.link_wire_bytes) total += b;
    const int P = 8 * nodes;
    EXPECT_GE(total, 2.0 * (P - 1) / P * S * P * 0.999);
  }
}

TEST(FluidAllReduce, ConcurrentGroupsShareLinks) {
  // Two rings over the same NICs take longer together than one alone.
  Fixture f(2, CostFactors::ideal());
  std::vector<GpuId> a, b;
  for (int n = 0; n < 2; ++n) {
    a.push_back(GpuId::from(8 * n));      // local 0: NIC 0
    b.push_back(GpuId::from(8 * n + 1));  // local 1: also NIC 0
  }
  const double S = 64e6;
  const std::vector<std::vector<GpuId>> one{a}, two{a, b};
  const std::vector<int> c1{1}, c2{1, 1};
  const auto alone = fluid_allreduce_rings(f.transfers, one, S, c1);
  const auto both = fluid_allreduce_rings(f.transfers, two, S, c2);
  EXPECT_GT(both.finish[0].seconds(), 1.9 * alone.finish[0].seconds() - 1e-5);
  EXPECT_EQ(both.finish[0], both.finish[1]);
}

namespace {

double tree_flow_seconds(const Fixture& f, double S) {
  return simulate_collective(f.topo, f.costs, CollectiveOp::AllReduce, S,
                             {.allreduce_algorithm = AllReduceAlgorithm::Tree})
      .time.seconds();
}

double tree_fluid_seconds(const Fixture& f, double S) {
  const std::vector<std::vector<GpuId>> groups{f.ranks};
  const std::vector<int> ch{default_ring_channels(f.topo, f.ranks)};
  return fluid_allreduce_trees(f.transfers, groups, S, ch).finish[0].seconds();
}

}  // namespace

TEST(FluidAllReduce, TreeIdealIsTheClosedFormPipeline) {
  // Issue cluster, 2 nodes, ideal costs (tests/sim/collectives_test.cpp derives the same):
  // one chunk: both network hops and 14 NVLink hops in series (up the chain both trees share
  // each hop); K = 64 chunks of q: (K - 1) periods of the network edge (8 us + 2q / 12.5 GB/s)
  // plus that fill.
  Fixture f(2, CostFactors::ideal());
  const double small = 1024.0 * 1024, D = small / 8;
  const double one_chunk = 2 * (8e-6 + D / 12.5e9) + 7 * (2e-6 + 2 * D / 300e9) + 7 * (2e-6 + D / 300e9);
  EXPECT_NEAR(tree_fluid_seconds(f, small), one_chunk, 1e-12 + 1e-9 * one_chunk);
  const double S = 1024.0 * 1024 * 1024, q = S / 8 / 64;
  const double piped =
      63 * (8e-6 + 2 * q / 12.5e9) + 2 * (8e-6 + q / 12.5e9) + 7 * (2e-6 + 2 * q / 300e9) + 7 * (2e-6 + q / 300e9);
  EXPECT_NEAR(tree_fluid_seconds(f, S), piped, 1e-12 + 1e-9 * piped);
}

TEST(FluidAllReduce, TreeMatchesTheFlowModel) {
  // Ideal costs on 1 and 2 nodes: exact for one chunk and on one node (the chain moves in
  // step), within 1% for large messages. Default costs, 1-8 nodes: within 12% for 1-64 MiB
  // (the fill's stages overlap in the flow model in ways the stage sums do not see) and 2% from
  // 1 GiB.
  for (int nodes : {1, 2}) {
    Fixture f(nodes, CostFactors::ideal());
    for (double S : {8.0, 1024.0 * 1024, 1024.0 * 1024 * 1024}) {
      const double flow = tree_flow_seconds(f, S), fluid = tree_fluid_seconds(f, S);
      SCOPED_TRACE(testing::Message() << "ideal, " << nodes << " nodes, " << S << " B: fluid " << fluid * 1e6
                                      << " us, flow " << flow * 1e6 << " us");
      EXPECT_NEAR(fluid, flow, (nodes == 1 || S < 1e8 ? 1e-9 : 0.01) * flow + 1e-9);  // + 1 ns of ps rounding
    }
  }
  for (int nodes : {1, 2, 4, 8}) {
    Fixture f(nodes, CostFactors::defaults());
    for (double S : {1024.0 * 1024, 64.0 * 1024 * 1024, 1024.0 * 1024 * 1024}) {
      const double flow = tree_flow_seconds(f, S), fluid = tree_fluid_seconds(f, S);
      SCOPED_TRACE(testing::Message() << nodes << " nodes, " << S << " B: fluid " << fluid * 1e6 << " us, flow "
                                      << flow * 1e6 << " us");
      EXPECT_NEAR(fluid / flow, 1, S >= 1e9 ? 0.02 : 0.12);
    }
  }
}

TEST(FluidAllReduce, TreeWireBytesAreEveryEdgesShareOnEveryLinkOfItsPath) {
  // One node, ideal: 2 trees, each 7 up and 7 down NVLink edges of D = S/2, each crossing
  // GPU -> NVSwitch -> GPU: 2 x 14 x 2 x S/2 = 28 S of wire bytes.
  Fixture f(1, CostFactors::ideal());
  const double S = 10e6;
  const std::vector<std::vector<GpuId>> groups{f.ranks};
  const std::vector<int> ch{1};
  const auto r = fluid_allreduce_trees(f.transfers, groups, S, ch);
  double total = 0;
  for (const auto& [l, b] : r.link_wire_bytes) total += b;
  EXPECT_NEAR(total, 28 * S, 1e-9 * S);
  // One message per edge and chunk: D = 5 MB is 10 chunks of 512 KiB.
  EXPECT_EQ(TreePipeline::from(f.costs.collective()).chunks(S / 2), 10);
  EXPECT_EQ(r.messages, 2u * 14 * 10);
}

TEST(FluidAllReduce, AutoKeepsTheFasterOfRingAndTree) {
  std::set<AllReduceAlgorithm> chosen;
  for (int nodes : {1, 2, 4}) {
    Fixture f(nodes, CostFactors::defaults());
    const std::vector<std::vector<GpuId>> groups{f.ranks};
    const std::vector<int> ch{default_ring_channels(f.topo, f.ranks)};
    for (double S : {8.0, 1024.0 * 1024, 1024.0 * 1024 * 1024}) {
      const auto ring = fluid_allreduce(f.transfers, groups, S, ch, AllReduceAlgorithm::Ring);
      const auto tree = fluid_allreduce(f.transfers, groups, S, ch, AllReduceAlgorithm::Tree);
      const auto aut = fluid_allreduce(f.transfers, groups, S, ch, AllReduceAlgorithm::Auto);
      EXPECT_EQ(ring.algorithm, AllReduceAlgorithm::Ring);
      EXPECT_EQ(tree.algorithm, AllReduceAlgorithm::Tree);
      EXPECT_EQ(aut.result.finish[0], std::min(ring.result.finish[0], tree.result.finish[0]))
          << nodes << " nodes, " << S;
      EXPECT_EQ(aut.algorithm,
                tree.result.finish[0] < ring.result.finish[0] ? AllReduceAlgorithm::Tree : AllReduceAlgorithm::Ring);
      chosen.insert(aut.algorithm);
    }
  }
  EXPECT_EQ(chosen.size(), 2u);
}

TEST(FluidAllReduce, ConcurrentTreeGroupsShareLinks) {
  // Two 2-rank groups whose GPUs share NIC 0 on each node: together each takes about twice as
  // long as alone for a large message.
  Fixture f(2, CostFactors::ideal());
  const std::vector<GpuId> a{GpuId::from(0), GpuId::from(8)}, b{GpuId::from(1), GpuId::from(9)};
  const double S = 256e6;
  const std::vector<std::vector<GpuId>> one{a}, two{a, b};
  const std::vector<int> c1{1}, c2{1, 1};
  const auto alone = fluid_allreduce_trees(f.transfers, one, S, c1);
  const auto both = fluid_allreduce_trees(f.transfers, two, S, c2);
  EXPECT_GT(both.finish[0].seconds(), 1.9 * alone.finish[0].seconds());
  EXPECT_EQ(both.finish[0], both.finish[1]);
}

TEST(FluidNvls, MatchesTheFlowModelsClosedFormWithIdealCostsAndStaysCloseWithDefaults) {
  // See NvlsAllReduce.WithIdealCostsTakesTheTwoFillStagesPlusOneChunkTimePerFurtherChunk.
  for (double S : {8.0, 1024.0 * 1024, 64.0 * 1024 * 1024, 1024.0 * 1024 * 1024}) {
    for (const bool ideal : {true, false}) {
      SimpleClusterSpec spec = issue_cluster(1);
      spec.nvls = true;
      const Topology topo = build_simple_cluster(spec);
      const CostFactors costs = ideal ? CostFactors::ideal() : CostFactors::defaults();
      Engine engine;
      Network network{engine, topo.links()};
      TransferService ts{engine, network, topo, costs};
      std::vector<GpuId> ranks;
      for (int g = 0; g < 8; ++g) ranks.push_back(GpuId::from(g));
      const std::vector<std::vector<GpuId>> groups{ranks};
      const double fluid = max_finish(fluid_allreduce_nvls(ts, groups, S));
      const double flow =
          simulate_collective(topo, costs, CollectiveOp::AllReduce, S, {.allreduce_algorithm = AllReduceAlgorithm::Nvls})
              .time.seconds();
      // + 100 ps: the flow model rounds each of the K chunk steps' completions up to 1 ps.
      EXPECT_NEAR(fluid, flow, (ideal ? 1e-9 : 0.02) * flow + 100e-12) << S << (ideal ? " ideal" : " defaults");
      const int one = 1;
      EXPECT_EQ(fluid_allreduce(ts, groups, S, std::span<const int>(&one, 1), AllReduceAlgorithm::Nvls).algorithm,
                AllReduceAlgorithm::Nvls);
    }
  }
}

TEST(FluidAllGather, IsTheRingAllReducesStepsOnce) {
  // The ring all-gather of S moves the same chunk S / (P x channels) per step as the ring
  // all-reduce of S, in P - 1 steps instead of 2 (P - 1): half the time (to a picosecond of
  // rounding), half the wire bytes, and close to the flow model.
  for (int nodes : {1, 2}) {
    Fixture f(nodes, CostFactors::defaults());
    const double S = 64.0 * 1024 * 1024;
    const std::vector<std::vector<GpuId>> groups{f.ranks};
    const std::vector<int> ch{default_ring_channels(f.topo, f.ranks)};
    const auto gather = fluid_allgather_rings(f.transfers, groups, S, ch);
    const auto reduce = fluid_allreduce_rings(f.transfers, groups, S, ch);
    EXPECT_NEAR(gather.finish[0].seconds(), reduce.finish[0].seconds() / 2, 1e-12) << nodes << " nodes";
    EXPECT_EQ(2 * gather.messages, reduce.messages);
    double g = 0, r = 0;
    for (const auto& [l, b] : gather.link_wire_bytes) g += b;
    for (const auto& [l, b] : reduce.link_wire_bytes) r += b;
    EXPECT_NEAR(2 * g, r, 1e-9 * r);
    const auto flow = simulate_collective(f.topo, f.costs, CollectiveOp::AllGather, S);
    EXPECT_NEAR(gather.finish[0].seconds(), flow.time.seconds(), 0.01 * flow.time.seconds()) << nodes << " nodes";
  }
}

TEST(FluidCollective, SimulateCollectiveFluidPricesEveryOpCloseToTheFlowReplay) {
  // CollectiveOptions::fluid: no flows, the algorithm auto picks is the flow replay's, and the
  // time within each model's measured gap (the tests above): the all-to-alls 10% for small
  // messages, 1.5% from 16 MiB; rings 1%; the tree 12%.
  struct Case {
    CollectiveOp op;
    CollectiveOptions options;
    const char* name;
  };
  const std::vector<Case> cases{
      {CollectiveOp::AllToAll, {}, "alltoall direct"},
      {CollectiveOp::AllToAll, {.algorithm = AllToAllAlgorithm::Hierarchical}, "alltoall hierarchical"},
      {CollectiveOp::AllReduce, {.allreduce_algorithm = AllReduceAlgorithm::Ring}, "allreduce ring"},
      {CollectiveOp::AllReduce, {.allreduce_algorithm = AllReduceAlgorithm::Tree}, "allreduce tree"},
      {CollectiveOp::AllReduce, {}, "allreduce auto"},
      {CollectiveOp::AllGather, {}, "allgather"},
  };
  for (int nodes : {1, 2, 4}) {
    const Topology topo = build_simple_cluster(issue_cluster(nodes));
    const CostFactors costs = CostFactors::defaults();
    for (double S : {1024.0 * 1024, 64.0 * 1024 * 1024}) {
      for (const Case& c : cases) {
        SCOPED_TRACE(testing::Message() << c.name << ", " << nodes << " nodes, " << S << " B");
        CollectiveOptions fluid_options = c.options;
        fluid_options.fluid = true;
        const auto flow = simulate_collective(topo, costs, c.op, S, c.options);
        const auto fluid = simulate_collective(topo, costs, c.op, S, fluid_options);
        EXPECT_EQ(fluid.flows, 0u);
        EXPECT_GT(flow.flows, 0u);
        EXPECT_EQ(fluid.bytes, S);
        const double err = fluid.time.seconds() / flow.time.seconds() - 1;
        double tol = 0.01;
        if (c.op == CollectiveOp::AllToAll) tol = S >= 16.0 * 1024 * 1024 ? 0.015 : 0.10;
        if (c.op == CollectiveOp::AllReduce && flow.allreduce_algorithm == AllReduceAlgorithm::Tree) tol = 0.12;
        EXPECT_LE(std::abs(err), tol) << "fluid " << fluid.time.us() << " us, flow " << flow.time.us() << " us";
        EXPECT_EQ(fluid.allreduce_algorithm, flow.allreduce_algorithm);
        EXPECT_NEAR(fluid.busbw_GBps, fluid.algbw_GBps * busbw_factor(c.op, topo.gpu_count()), 1e-9);
      }
    }
  }
}

TEST(FluidCollective, AFlowReplayReportsItsTransferCountBeforeItRunsAndAFluidOneNever) {
  const Topology topo = build_simple_cluster(issue_cluster(2));
  std::vector<std::size_t> counts;
  CollectiveOptions o{.on_replay_size = [&counts](std::size_t n) { counts.push_back(n); }};
  const auto flow = simulate_collective(topo, CostFactors::defaults(), CollectiveOp::AllToAll, 1e6, o);
  ASSERT_EQ(counts.size(), 1u);
  EXPECT_EQ(counts[0], flow.flows);
  EXPECT_EQ(counts[0], 16u * 16u);  // every pair, self-sends included
  o.fluid = true;
  simulate_collective(topo, CostFactors::defaults(), CollectiveOp::AllToAll, 1e6, o);
  EXPECT_EQ(counts.size(), 1u);
}

// ---- Across node kinds: the window matters, so fluid_alltoall replays -------------------

namespace {

struct Mixed {
  // 8 x p4d.24xlarge (A100, 4 EFA NICs) + 8 x p3dn.24xlarge (V100, 1 EFA NIC): GPUs 0-63, 64-127.
  Topology topo = load_cluster("mixed-a100-v100");
  CostFactors costs = CostFactors::defaults();
  Engine engine;
  Network network{engine, topo.links()};
  TransferService transfers{engine, network, topo, costs};
  std::vector<GpuId> ranks = all_gpus(topo);
  int window = costs.collective().alltoall_max_peers_in_flight;

  static std::vector<GpuId> all_gpus(const Topology& t) {
    std::vector<GpuId> r;
    for (int g = 0; g < t.gpu_count(); ++g) r.push_back(GpuId::from(g));
    return r;
  }
};

}  // namespace

TEST(FluidAllToAll, TheWindowMattersOnlyWhereAMessageCrossesNodeKinds) {
  Mixed m;
  EXPECT_TRUE(alltoall_window_matters(m.topo, m.ranks, uniform(128, 1e4)));
  const std::span<const GpuId> all(m.ranks);
  EXPECT_FALSE(alltoall_window_matters(m.topo, all.subspan(0, 64), uniform(64, 1e4)));   // the p4d nodes
  EXPECT_FALSE(alltoall_window_matters(m.topo, all.subspan(64, 64), uniform(64, 1e4)));  // the p3dn nodes
  EXPECT_TRUE(alltoall_window_matters(m.topo, all.subspan(60, 8), uniform(8, 1e4)));     // 4 of each
  EXPECT_FALSE(alltoall_window_matters(m.topo, {}, {}));
  // All ranks, but two expert-parallel groups of 64, each inside one kind: no message crosses.
  std::vector<FluidTransfer> groups;
  for (int s = 0; s < 128; ++s)
    for (int d = 0; d < 128; ++d)
      if (s / 64 == d / 64) groups.push_back({s, d, 1e4});
  EXPECT_FALSE(alltoall_window_matters(m.topo, m.ranks, groups));
  groups.push_back({0, 64, 0});  // an empty message moves nothing
  EXPECT_FALSE(alltoall_window_matters(m.topo, m.ranks, groups));
  groups.push_back({0, 64, 1});
  EXPECT_TRUE(alltoall_window_matters(m.topo, m.ranks, groups));
  const Topology p4d = load_cluster("p4d.24xlarge", 4);
  EXPECT_FALSE(alltoall_window_matters(p4d, Mixed::all_gpus(p4d), uniform(32, 1e4)));
}

TEST(FluidAllToAll, AcrossNodeKindsItIsTheFlowReplayAndTheFormulaIsTheFlowModelWithoutAWindow) {
  // A uniform 1 MiB all-to-all on the mixed cluster (docs/PERFORMANCE.md measured 3,035 us
  // with the flow model, 1,759 us with the formula). The fast p4d nodes reach the p3dn nodes'
  // single NICs together and the 16-peer windows stall behind them: the formula, which takes
  // every message to be in flight at once, is the flow model with an unlimited window.
  Mixed m;
  const double S = 1024.0 * 1024;
  const int P = m.topo.gpu_count();
  const auto msgs = uniform(P, S / P);
  const FluidAllToAll a = fluid_alltoall(m.transfers, m.ranks, msgs, m.window);
  EXPECT_TRUE(a.replayed);
  EXPECT_FALSE(a.window_ignored);
  const auto flow = simulate_collective(m.topo, m.costs, CollectiveOp::AllToAll, S);
  EXPECT_EQ(a.result.last(), flow.time);
  EXPECT_EQ(a.result.messages, flow.flows);
  const auto formula = fluid_alltoallv(m.transfers, m.ranks, msgs, m.window);
  EXPECT_LT(formula.last().seconds(), 0.7 * flow.time.seconds());
  // With no window on either side (0: every peer at once), the formula and the flow model agree.
  const auto unlimited = replay_alltoallv(m.transfers, m.ranks, msgs, 0);
  const auto formula_unlimited = fluid_alltoallv(m.transfers, m.ranks, msgs, 0);
  EXPECT_NEAR(formula_unlimited.last().seconds(), unlimited.last().seconds(), 0.01 * unlimited.last().seconds());
  // The same wire bytes on the same links either way.
  ASSERT_EQ(a.result.link_wire_bytes.size(), formula.link_wire_bytes.size());
  for (std::size_t k = 0; k < formula.link_wire_bytes.size(); ++k) {
    EXPECT_EQ(a.result.link_wire_bytes[k].first, formula.link_wire_bytes[k].first);
    EXPECT_NEAR(a.result.link_wire_bytes[k].second, formula.link_wire_bytes[k].second,
                1e-9 * formula.link_wire_bytes[k].second);
  }
  // Through simulate_collective's fluid path too, which counts the replayed transfers.
  const auto fluid = simulate_collective(m.topo, m.costs, CollectiveOp::AllToAll, S, {.fluid = true});
  EXPECT_EQ(fluid.time, flow.time);
  EXPECT_EQ(fluid.flows, flow.flows);
  EXPECT_FALSE(fluid.fluid_window_ignored);
}

TEST(FluidAllToAll, TooLargeToReplayItFallsBackToTheFormulaAndSaysSo) {
  Mixed m;
  const auto msgs = uniform(m.topo.gpu_count(), 1e4);
  const FluidAllToAll a = fluid_alltoall(m.transfers, m.ranks, msgs, m.window, {}, msgs.size() - 1);
  EXPECT_FALSE(a.replayed);
  EXPECT_TRUE(a.window_ignored);
  EXPECT_EQ(a.result.finish, fluid_alltoallv(m.transfers, m.ranks, msgs, m.window).finish);
  // One node kind: the formula, and nothing to say.
  const std::span<const GpuId> p4d(m.ranks.data(), 64);
  const FluidAllToAll b = fluid_alltoall(m.transfers, p4d, uniform(64, 1e4), m.window);
  EXPECT_FALSE(b.replayed);
  EXPECT_FALSE(b.window_ignored);
}

TEST(FluidAllToAll, ALateSenderDelaysWhatItSendsAndARankIsDoneNoEarlierThanItEnters) {
  // Ideal costs on one node: GPU 0 sends w to GPU 1 and GPU 2 sends w to GPU 3, disjoint
  // NVLink paths (300 GB/s, 2 us). GPU 2 enters 1 ms late; GPU 3, which sends nothing and
  // receives from GPU 2, enters 0.5 ms late; GPU 4 takes no part and enters 2 ms late.
  Fixture f(1, CostFactors::ideal());
  const double w = 30e6, C = 300e9;
  const std::vector<FluidTransfer> msgs{{0, 1, w}, {2, 3, w}};
  std::vector<Time> start(8, Time::zero());
  start[2] = Time::from_seconds_ceil(1e-3);
  start[3] = Time::from_seconds_ceil(0.5e-3);
  start[4] = Time::from_seconds_ceil(2e-3);
  const double alone = w / C + 2e-6;
  for (const bool replay : {false, true}) {
    SCOPED_TRACE(replay ? "replay" : "formula");
    const FluidResult r = replay ? replay_alltoallv(f.transfers, f.ranks, msgs, 0, start)
                                 : fluid_alltoallv(f.transfers, f.ranks, msgs, 0, start);
    EXPECT_NEAR(r.finish[0].seconds(), alone, 1e-11);
    EXPECT_NEAR(r.finish[1].seconds(), alone, 1e-11);
    EXPECT_NEAR(r.finish[2].seconds(), 1e-3 + alone, 1e-11);
    EXPECT_NEAR(r.finish[3].seconds(), 1e-3 + alone, 1e-11);
    EXPECT_EQ(r.finish[4], start[4]);
    EXPECT_EQ(r.finish[5], Time::zero());
    // All entering together is the same as no start times.
    const std::vector<Time> zero(8, Time::zero());
    const FluidResult z = replay ? replay_alltoallv(f.transfers, f.ranks, msgs, 0, zero)
                                 : fluid_alltoallv(f.transfers, f.ranks, msgs, 0, zero);
    const FluidResult n = replay ? replay_alltoallv(f.transfers, f.ranks, msgs, 0)
                                 : fluid_alltoallv(f.transfers, f.ranks, msgs, 0);
    EXPECT_EQ(z.finish, n.finish);
  }
  const std::vector<Time> wrong(3, Time::zero());
  EXPECT_THROW(fluid_alltoallv(f.transfers, f.ranks, msgs, 0, wrong), InvariantError);
  EXPECT_THROW(replay_alltoallv(f.transfers, f.ranks, msgs, 0, wrong), InvariantError);
}
