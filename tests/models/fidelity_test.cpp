// The fluid fidelity of the training step against the flow-level reference.
#include <gtest/gtest.h>

#include "models/training_step.h"
#include "topologies/cluster_loader.h"

using namespace moesim;

namespace {

TrainingStepResult run(const Topology& topo, const ModelConfig& m, const std::string& strategy, Fidelity f) {
  TrainingStepOptions o;
  o.strategy = strategy;
  o.fidelity = f;
  return simulate_training_step(topo, CostFactors::defaults(), m, o);
}

ModelConfig small_model() {
  ModelConfig m = load_model("switch-base-128");
  apply_overrides(m, std::vector<std::pair<std::string, std::string>>{{"layers", "4"}, {"tokens_per_gpu", "1024"}});
  return m;
}

}  // namespace

TEST(Fidelity, ParsesAndPrintsItsNames) {
  EXPECT_EQ(fidelity_from_string("flow"), Fidelity::Flow);
  EXPECT_EQ(fidelity_from_string("fluid"), Fidelity::Fluid);
  EXPECT_FALSE(fidelity_from_string("exact").has_value());
  EXPECT_EQ(to_string(Fidelity::Fluid), "fluid");
}

TEST(Fidelity, FluidIterationTimeIsWithinFivePercentOfTheFlowModelForEveryStrategy) {
  // 2 x p4d (16 GPUs): the fluid model prices each all-to-all step and all-reduce on an idle
  // network; the flow model lets them contend. On the default switch-base-128 the gap was
  // 0.1-4% on 2, 4 and 8 nodes (docs/PERFORMANCE.md); 5% is the bound checked here.
  const Topology topo = load_cluster("p4d.24xlarge", 2);
  const ModelConfig m = small_model();
  for (const auto& s : strategy_table()) {
    const auto flow = run(topo, m, std::string(s.name), Fidelity::Flow);
    const auto fluid = run(topo, m, std::string(s.name), Fidelity::Fluid);
    SCOPED_TRACE(std::string(s.name));
    EXPECT_NEAR(fluid.iteration_time_s, flow.iteration_time_s, 0.05 * flow.iteration_time_s);
    // Routing is the same: bytes, drops and reroutes do not depend on the timing model.
    EXPECT_DOUBLE_EQ(fluid.inter_node_bytes_per_gpu, flow.inter_node_bytes_per_gpu);
    EXPECT_DOUBLE_EQ(fluid.dropped_fraction, flow.dropped_fraction);
    EXPECT_EQ(fluid.flows, 0u);
    EXPECT_GT(flow.flows, 0u);
    EXPECT_LT(fluid.tasks, flow.tasks);
    EXPECT_GT(fluid.breakdown.dispatch_s, 0);
    EXPECT_GT(fluid.breakdown.allreduce_s, 0);
  }
}

TEST(Fidelity, FluidLinkUtilizationMatchesTheFlowModelsBytes) {
  // Both models put the same wire bytes on the same links; utilization differs only by the
  // (close) iteration times.
  const Topology topo = load_cluster("p4d.24xlarge", 2);
  const ModelConfig m = small_model();
  const auto flow = run(topo, m, "switch", Fidelity::Flow);
  const auto fluid = run(topo, m, "switch", Fidelity::Fluid);
  ASSERT_EQ(flow.link_utilization.size(), fluid.link_utilization.size());
  for (const auto& [k, u] : flow.link_utilization) {
    const double scaled = fluid.link_utilization.at(k) * fluid.iteration_time_s / flow.iteration_time_s;
    EXPECT_NEAR(scaled, u, 1e-6 + 1e-3 * u) << k;
  }
}

TEST(Fidelity, FluidIsDeterministic) {
  const Topology topo = load_cluster("p4d.24xlarge", 2);
  const ModelConfig m = small_model();
  const auto a = run(topo, m, "ta-moe", Fidelity::Fluid);
  const auto b = run(topo, m, "ta-moe", Fidelity::Fluid);
  EXPECT_EQ(a.iteration_time_s, b.iteration_time_s);
  EXPECT_EQ(a.breakdown.combine_s, b.breakdown.combine_s);
}

TEST(Fidelity, FluidStaysWithinFivePercentOfTheFlowModelWithEitherAllReduce) {
  // The fluid tree all-reduce (sim/collectives/fluid.h) against the flow model's, in a whole
  // iteration: 2 and 4 p4d nodes, dense gradients only.
  const ModelConfig m = small_model();
  for (int nodes : {2, 4})
    for (auto a : {AllReduceAlgorithm::Ring, AllReduceAlgorithm::Tree}) {
      const Topology topo = load_cluster("p4d.24xlarge", nodes);
      TrainingStepOptions o;
      o.allreduce_algorithm = a;
      o.fidelity = Fidelity::Flow;
      const auto flow = simulate_training_step(topo, CostFactors::defaults(), m, o);
      o.fidelity = Fidelity::Fluid;
      const auto fluid = simulate_training_step(topo, CostFactors::defaults(), m, o);
      EXPECT_NEAR(fluid.iteration_time_s, flow.iteration_time_s, 0.05 * flow.iteration_time_s)
          << nodes << " nodes, " << to_string(a);
    }
}

TEST(Fidelity, AcrossNodeKindsFluidReplaysItsAllToAllsAndLetsEarlyRanksSendFirst) {
  // 8 x p4d (A100) + 8 x p3dn (V100): the all-to-alls span node kinds, so fluid replays them
  // (sim/collectives/fluid.h: NCCL's 16-peer window stalls there, which the formula leaves out)
  // with each rank entering when its own chain gets there: the A100s, which compute 2.5x
  // faster, send before the V100s are ready, as in the flow model. Measured: fluid +3.8%
  // against flow here; -10.6% before (the formula, all ranks entering at the last one's time).
  const Topology topo = load_cluster("mixed-a100-v100");
  const ModelConfig m = small_model();
  const auto flow = run(topo, m, "switch", Fidelity::Flow);
  const auto fluid = run(topo, m, "switch", Fidelity::Fluid);
  EXPECT_NEAR(fluid.iteration_time_s, flow.iteration_time_s, 0.05 * flow.iteration_time_s);
  // Every all-to-all's transfers replayed once per distinct (phase, entry times): at least one
  // forward dispatch's 128 x 128, at most all of the flow model's all-to-all transfers.
  EXPECT_GE(fluid.flows, 128u * 128u);
  EXPECT_LT(fluid.flows, flow.flows);
  EXPECT_EQ(fluid.fluid_alltoalls_window_ignored, 0);
  EXPECT_DOUBLE_EQ(fluid.inter_node_bytes_per_gpu, flow.inter_node_bytes_per_gpu);
}
