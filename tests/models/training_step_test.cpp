#include "models/training_step.h"

#include <gtest/gtest.h>

#include <map>

#include "models/timeline.h"
#include "sim/error.h"
#include "topologies/cluster_loader.h"

using namespace moesim;

namespace {

ModelConfig small_model() {
  // switch-base-128 shrunk to 4 layers and 1024 tokens per GPU so the tests stay fast.
  ModelConfig m = load_model("switch-base-128");
  apply_overrides(m, std::vector<std::pair<std::string, std::string>>{{"layers", "4"}, {"tokens_per_gpu", "1024"}});
  return m;
}

TrainingStepResult run(const Topology& topo, const ModelConfig& m, const std::string& strategy,
                       const CostFactors& costs = CostFactors::defaults(), std::uint64_t seed = 1) {
  TrainingStepOptions o;
  o.strategy = strategy;
  o.seed = seed;
  return simulate_training_step(topo, costs, m, o);
}

}  // namespace

TEST(TrainingStep, SameInputsAndSeedGiveIdenticalResults) {
  const Topology topo = load_cluster("p4d.24xlarge", 2);
  const auto m = small_model();
  const auto a = run(topo, m, "gshard");
  const auto b = run(topo, m, "gshard");
  EXPECT_EQ(a.iteration_time_s, b.iteration_time_s);
  EXPECT_EQ(a.flows, b.flows);
  EXPECT_EQ(a.breakdown.dispatch_s, b.breakdown.dispatch_s);
}

TEST(TrainingStep, PlanningOnSeveralThreadsGivesTheSamePlansAsOne) {
  // Each MoE layer's gating sample and plan depend only on the layer and the seed, so the
  // threads that plan them change nothing. 8 layers: 4 MoE layers, planned by 1 and 3
  // threads (3 does not divide 4, so one thread takes two layers).
  const Topology topo = load_cluster("p4d.24xlarge", 2);
  ModelConfig m = small_model();
  apply_overrides(m, std::vector<std::pair<std::string, std::string>>{{"layers", "8"}});
  TrainingStepOptions o;
  o.strategy = "gshard";
  o.planning_threads = 1;
  const auto one = simulate_training_step(topo, CostFactors::defaults(), m, o);
  o.planning_threads = 3;
  const auto three = simulate_training_step(topo, CostFactors::defaults(), m, o);
  EXPECT_EQ(one.iteration_time_s, three.iteration_time_s);
  EXPECT_EQ(one.flows, three.flows);
  EXPECT_EQ(one.dropped_fraction, three.dropped_fraction);
  EXPECT_EQ(one.inter_node_bytes_per_gpu, three.inter_node_bytes_per_gpu);
  EXPECT_EQ(one.breakdown.compute_s, three.breakdown.compute_s);
  EXPECT_GT(one.dropped_fraction, 0);  // the layers' samples are real (not all empty)
}

TEST(TrainingStep, OnReplaySizeGivesTheMessagesBeforeTheFlowReplayAndIsNotCalledForFluid) {
  // The count `moesim run` warns on (a flow replay of tens of millions of messages takes
  // minutes): every transfer of the step, all-to-alls and gradient all-reduces, each a flow.
  const Topology topo = load_cluster("p4d.24xlarge", 2);
  const auto m = small_model();
  for (const char* strategy : {"switch", "smile", "node-limited"}) {
    TrainingTimeline timeline;
    TrainingStepOptions o;
    o.strategy = strategy;
    o.timeline = &timeline;
    std::vector<std::size_t> calls;
    o.on_replay_size = [&calls, &timeline](std::size_t messages) {
      EXPECT_EQ(timeline.end_ps, 0);  // before the replay
      calls.push_back(messages);
    };
    const auto r = simulate_training_step(topo, CostFactors::defaults(), m, o);
    std::size_t all_to_all = 0;
    for (const TimelinePart& p : timeline.parts)
      if (p.kind == TimelinePartKind::Dispatch || p.kind == TimelinePartKind::Combine)
        for (const TimelineTask& t : timeline.tasks_of(p)) all_to_all += t.transfer();
    ASSERT_EQ(calls.size(), 1u) << strategy;
    EXPECT_EQ(calls[0], r.flows) << strategy;
    EXPECT_GT(calls[0], all_to_all) << strategy;  // the gradient all-reduces' transfers too
    EXPECT_GT(all_to_all, 0u) << strategy;

    calls.clear();
    o.fidelity = Fidelity::Fluid;  // no messages replayed
    simulate_training_step(topo, CostFactors::defaults(), m, o);
    EXPECT_TRUE(calls.empty()) << strategy;
  }
}

TEST(TrainingStep, OnReplayProgressCountsTheTasksUpToTheirTotal) {
  // 2 x p4d, 4 layers (15k tasks): below the 2^16 stride, so the one report is the last.
  const Topology topo = load_cluster("p4d.24xlarge", 2);
  for (const Fidelity f : {Fidelity::Flow, Fidelity::Fluid}) {
    TrainingStepOptions o;
    o.fidelity = f;
    std::vector<std::pair<std::size_t, std::size_t>> calls;
    o.on_replay_progress = [&calls](std::size_t done, std::size_t total) { calls.emplace_back(done, total); };
    const auto r = simulate_training_step(topo, CostFactors::defaults(), small_model(), o);
    ASSERT_EQ(calls.size(), 1u);
    EXPECT_EQ(calls[0].first, r.tasks);
    EXPECT_EQ(calls[0].second, r.tasks);
  }
  // 8 x p4d: over 65,536 tasks, a report every 65,536 and the last.
  TrainingStepOptions o;
  o.distinct_layer_plans = 1;
  std::vector<std::size_t> done;
  std::size_t total = 0;
  o.on_replay_progress = [&](std::size_t d, std::size_t t) {
    done.push_back(d);
    total = t;
  };
  ModelConfig m = load_model("switch-base-128");
  apply_overrides(m, std::vector<std::pair<std::string, std::string>>{{"tokens_per_gpu", "256"}});
  const auto r = simulate_training_step(load_cluster("p4d.24xlarge", 8), CostFactors::defaults(), m, o);
  ASSERT_GT(r.tasks, 65536u);
  ASSERT_EQ(total, r.tasks);
  ASSERT_EQ(done.size(), r.tasks / 65536 + (r.tasks % 65536 != 0));
  for (std::size_t i = 0; i + 1 < done.size(); ++i) EXPECT_EQ(done[i], (i + 1) * 65536);
  EXPECT_EQ(done.back(), r.tasks);
}

TEST(TrainingStep, WithOneNodeNoStrategySendsBytesAcrossNodes) {
  const Topology topo = load_cluster("p4d.24xlarge", 1);
  const auto m = small_model();
  for (const auto& s : strategy_table()) {
    const auto r = run(topo, m, std::string(s.name));
    EXPECT_EQ(r.inter_node_bytes_per_gpu, 0) << s.name;
    EXPECT_EQ(r.link_utilization.at("network_access"), 0) << s.name;
    EXPECT_GT(r.iteration_time_s, 0) << s.name;
  }
}

TEST(TrainingStep, IterationTimeCoversComputeAndTheBreakdownIsConsistent) {
  const Topology topo = load_cluster("p4d.24xlarge", 2);
  const auto r = run(topo, small_model(), "switch");
  EXPECT_GT(r.breakdown.compute_s, 0);
  EXPECT_GT(r.breakdown.dispatch_s, 0);
  EXPECT_GT(r.breakdown.combine_s, 0);
  EXPECT_GT(r.breakdown.allreduce_s, 0);
  EXPECT_LE(r.breakdown.compute_s, r.iteration_time_s);
  EXPECT_NEAR(r.breakdown.exposed_communication_s, r.iteration_time_s - r.breakdown.compute_s, 1e-12);
  EXPECT_NEAR(r.tokens_per_s, 1024.0 * 16 / r.iteration_time_s, 1e-6 * r.tokens_per_s);
}

TEST(TrainingStep, AnIdealNetworkIsNeverSlowerThanTheCalibratedOne) {
  const Topology topo = load_cluster("p4d.24xlarge", 2);
  const auto m = small_model();
  EXPECT_LE(run(topo, m, "switch", CostFactors::ideal()).iteration_time_s, run(topo, m, "switch").iteration_time_s);
}

TEST(TrainingStep, SlowGpusMakeTheWholeIterationSlower) {
  // The mixed preset's V100 nodes (125 TFLOPS fp16) are stragglers next to A100 nodes
  // (312 TFLOPS): the same model on 8 A100 + 8 V100 nodes must take longer than on 16 A100
  // nodes with the same EFA fabric.
  const auto m = small_model();
  const Topology mixed = load_cluster("mixed-a100-v100");
  const Topology a100 = load_cluster("p4d.24xlarge", 16);
  const auto rm = run(mixed, m, "switch");
  const auto ra = run(a100, m, "switch");
  EXPECT_GT(rm.breakdown.compute_s, ra.breakdown.compute_s);
  EXPECT_GT(rm.iteration_time_s, ra.iteration_time_s);
}

TEST(TrainingStep, ScomoeCutsInterNodeBytesAndBeatsGshardOnSlowLinks) {
  // SCoMoE's published setup: 4 nodes x 8 RTX A6000 over PCIe (a6000-pcie preset), its own
  // model; with alpha = 0.5, beta = 0 (its 4-node script) inter-node bytes shrink and the
  // iteration is faster than flat GShard.
  const Topology topo = load_cluster("a6000-pcie", 4);
  ModelConfig m = load_model("scomoe-large");
  apply_overrides(m, std::vector<std::pair<std::string, std::string>>{{"layers", "4"}});
  const auto g = run(topo, m, "gshard");
  TrainingStepOptions o;
  o.strategy = "scomoe-feat";
  set_strategy_param(o.params, "alpha", "0.5");
  set_strategy_param(o.params, "beta", "0");
  const auto s = simulate_training_step(topo, CostFactors::defaults(), m, o);
  EXPECT_LT(s.inter_node_bytes_per_gpu, 0.6 * g.inter_node_bytes_per_gpu);
  EXPECT_LT(s.iteration_time_s, g.iteration_time_s);
}

TEST(TrainingStep, UnknownStrategiesAndNonUniformClustersAreClearErrors) {
  const Topology topo = load_cluster("p4d.24xlarge", 2);
  EXPECT_THROW(run(topo, small_model(), "warp-drive"), InputError);
}

namespace {

TrainingStepResult run_allreduce(const Topology& topo, const ModelConfig& m, AllReduceAlgorithm a,
                                 Fidelity f = Fidelity::Flow) {
  TrainingStepOptions o;
  o.strategy = "switch";
  o.fidelity = f;
  o.allreduce_algorithm = a;
  return simulate_training_step(topo, CostFactors::defaults(), m, o);
}

}  // namespace

TEST(TrainingStep, AutoAllReduceIsTheRingOnOneNodeAndTheTreeAcrossTwo) {
  // Dense gradients only (128 experts on 8 or 16 GPUs: no expert replicas). One node: the
  // ring's NVLink traffic is lower, Auto keeps it; two p4d nodes: the tree halves the NICs'
  // bytes and every bucket picks it. Auto then is that run exactly, in both fidelities.
  const auto m = small_model();
  for (auto f : {Fidelity::Flow, Fidelity::Fluid}) {
    SCOPED_TRACE(std::string(to_string(f)));
    const Topology one = load_cluster("p4d.24xlarge", 1);
    const auto ring1 = run_allreduce(one, m, AllReduceAlgorithm::Ring, f);
    const auto tree1 = run_allreduce(one, m, AllReduceAlgorithm::Tree, f);
    EXPECT_EQ(run_allreduce(one, m, AllReduceAlgorithm::Auto, f).iteration_time_s, ring1.iteration_time_s);
    EXPECT_LT(ring1.breakdown.allreduce_s, tree1.breakdown.allreduce_s);
    const Topology two = load_cluster("p4d.24xlarge", 2);
    const auto ring2 = run_allreduce(two, m, AllReduceAlgorithm::Ring, f);
    const auto tree2 = run_allreduce(two, m, AllReduceAlgorithm::Tree, f);
    EXPECT_EQ(run_allreduce(two, m, AllReduceAlgorithm::Auto, f).iteration_time_s, tree2.iteration_time_s);
    EXPECT_LT(tree2.breakdown.allreduce_s, 0.8 * ring2.breakdown.allreduce_s);
    EXPECT_LT(tree2.iteration_time_s, ring2.iteration_time_s);
    // The algorithm moves the gradients differently; routing and compute do not change.
    EXPECT_EQ(tree2.breakdown.compute_s, ring2.breakdown.compute_s);
    EXPECT_EQ(tree2.inter_node_bytes_per_gpu, ring2.inter_node_bytes_per_gpu);
    // The result says what ran: every all-reduce by the one asked for, or what Auto chose.
    ASSERT_EQ(ring2.allreduce_algorithms.size(), 1u);
    const int buckets = ring2.allreduce_algorithms.at("ring");
    EXPECT_GE(buckets, 1);
    EXPECT_EQ(tree2.allreduce_algorithms, (std::map<std::string, int>{{"tree", buckets}}));
    EXPECT_EQ(run_allreduce(two, m, AllReduceAlgorithm::Auto, f).allreduce_algorithms, tree2.allreduce_algorithms);
    EXPECT_EQ(run_allreduce(one, m, AllReduceAlgorithm::Auto, f).allreduce_algorithms,
              (std::map<std::string, int>{{"ring", buckets}}));
  }
}

TEST(TrainingStep, AutoChoosesForEachAllReduceIncludingTheExpertReplicas) {
  // 8 experts on 16 GPUs: EP 8, so each expert's gradients are also all-reduced across its 2
  // replicas (one per node). By the fluid model the dense buckets go faster by tree and the
  // 2-rank expert groups by ring, so the flow run with Auto beats both the all-ring and the
  // all-tree runs (7.76 and 7.13 ms; Auto 6.82 ms when written).
  ModelConfig m = small_model();
  apply_overrides(m, std::vector<std::pair<std::string, std::string>>{{"num_experts", "8"}});
  const Topology two = load_cluster("p4d.24xlarge", 2);
  const auto ring = run_allreduce(two, m, AllReduceAlgorithm::Ring);
  const auto tree = run_allreduce(two, m, AllReduceAlgorithm::Tree);
  const auto aut = run_allreduce(two, m, AllReduceAlgorithm::Auto);
  EXPECT_LT(aut.iteration_time_s, ring.iteration_time_s);
  EXPECT_LT(aut.iteration_time_s, tree.iteration_time_s);
  EXPECT_NE(ring.breakdown.allreduce_s, tree.breakdown.allreduce_s);
  // Both algorithms ran: the buckets by tree, the expert replicas' all-reduce by ring.
  EXPECT_EQ(aut.allreduce_algorithms.size(), 2u);
  EXPECT_EQ(aut.allreduce_algorithms.at("ring"), 1);
  EXPECT_EQ(aut.allreduce_algorithms.at("tree"), tree.allreduce_algorithms.at("tree") - 1);
  // Deterministic with the tree too.
  EXPECT_EQ(run_allreduce(two, m, AllReduceAlgorithm::Tree).iteration_time_s, tree.iteration_time_s);
}
