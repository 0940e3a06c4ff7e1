#include "models/training_step.h"

#include <gtest/gtest.h>

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
