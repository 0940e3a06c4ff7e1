// Cost of simulating one training iteration (issue 4): switch-base-128 on 16 x 8 GPUs
// (target <= 0.5 s) and how the cost grows with GPUs, experts and layers.
// Run one case per process for its peak RSS:  bench_training --benchmark_filter=<name>
#include <benchmark/benchmark.h>

#include "bench_util.h"
#include "models/training_step.h"
#include "topologies/cluster_loader.h"

using namespace moesim;

namespace {

void run(benchmark::State& state, int nodes, int experts, int layers, const char* strategy,
         Fidelity fidelity = Fidelity::Flow, AllReduceAlgorithm allreduce = AllReduceAlgorithm::Auto,
         int planning_threads = 0) {
  const Topology topo = load_cluster("p4d.24xlarge", nodes);
  ModelConfig m = load_model("switch-base-128");
  apply_overrides(m, std::vector<std::pair<std::string, std::string>>{{"num_experts", std::to_string(experts)},
                                                                      {"layers", std::to_string(layers)}});
  const CostFactors costs = CostFactors::defaults();
  TrainingStepOptions o;
  o.strategy = strategy;
  o.fidelity = fidelity;
  o.allreduce_algorithm = allreduce;
  o.planning_threads = planning_threads;
  TrainingStepResult r;
  for (auto _ : state) r = simulate_training_step(topo, costs, m, o);
  state.counters["gpus"] = topo.gpu_count();
  state.counters["experts"] = experts;
  state.counters["layers"] = layers;
  state.counters["tasks"] = static_cast<double>(r.tasks);
  state.counters["flows"] = static_cast<double>(r.flows);
  state.counters["simulated_ms"] = r.iteration_time_s * 1e3;
  state.counters["peak_rss_MiB"] = bench::peak_rss_mib();
}

void BM_SwitchBase128_16x8(benchmark::State& s) { run(s, 16, 128, 12, "switch"); }
// The ring all-reduce keeps every GPU's load the same, so the all-to-all flows around it
// still end together (one solve for many); the tree's uneven edges spread their ends out.
void BM_SwitchBase128_16x8_Ring(benchmark::State& s) {
  run(s, 16, 128, 12, "switch", Fidelity::Flow, AllReduceAlgorithm::Ring);
}
// One step, everything on one thread: the case to count instructions on
// (valgrind --tool=cachegrind --cache-sim=no ... --benchmark_filter=BM_SwitchBase128_16x8_Serial),
// which, unlike wall time on a shared machine, does not move between runs.
void BM_SwitchBase128_16x8_Serial(benchmark::State& s) {
  run(s, 16, 128, 12, "switch", Fidelity::Flow, AllReduceAlgorithm::Auto, 1);
}
void BM_SwitchBase128_16x8_Fluid(benchmark::State& s) { run(s, 16, 128, 12, "switch", Fidelity::Fluid); }
void BM_Switch_Gpus_Fluid(benchmark::State& s) { run(s, static_cast<int>(s.range(0)), 128, 12, "switch", Fidelity::Fluid); }

// DeepSeek-V3 (61 layers, 58 MoE with 256 experts, top-8, node-limited to 4 nodes) on
// nodes x 8 A100s (p4d); one gating plan reused for every MoE layer (planning one layer on
// 1,024 GPUs takes seconds; the plans' statistics are the same).
void deepseek(benchmark::State& state, int nodes, Fidelity fidelity) {
  const Topology topo = load_cluster("p4d.24xlarge", nodes);
  const ModelConfig m = load_model("deepseek-v3");
  const CostFactors costs = CostFactors::defaults();
  TrainingStepOptions o;
  o.strategy = "node-limited";
  o.fidelity = fidelity;
  o.distinct_layer_plans = 1;
  TrainingStepResult r;
  for (auto _ : state) r = simulate_training_step(topo, costs, m, o);
  state.counters["gpus"] = topo.gpu_count();
  state.counters["tasks"] = static_cast<double>(r.tasks);
  state.counters["flows"] = static_cast<double>(r.flows);
  state.counters["simulated_ms"] = r.iteration_time_s * 1e3;
  state.counters["peak_rss_MiB"] = bench::peak_rss_mib();
}
void BM_DeepSeekV3_Fluid(benchmark::State& s) { deepseek(s, static_cast<int>(s.range(0)), Fidelity::Fluid); }
void BM_DeepSeekV3_Flow(benchmark::State& s) { deepseek(s, static_cast<int>(s.range(0)), Fidelity::Flow); }
void BM_Switch_Gpus(benchmark::State& s) { run(s, static_cast<int>(s.range(0)), 128, 12, "switch"); }
void BM_Switch_Experts(benchmark::State& s) { run(s, 16, static_cast<int>(s.range(0)), 12, "switch"); }
void BM_Switch_Layers(benchmark::State& s) { run(s, 16, 128, static_cast<int>(s.range(0)), "switch"); }
void BM_Smile_16x8(benchmark::State& s) { run(s, 16, 128, 12, "smile"); }
// 8 x p4d + 8 x p3dn: fluid replays the flat all-to-alls there (sim/collectives/fluid.h,
// fluid_alltoall), so it costs about what the flow model does.
void mixed(benchmark::State& state, Fidelity fidelity) {
  const Topology topo = load_cluster("mixed-a100-v100");
  const ModelConfig m = load_model("switch-base-128");
  TrainingStepOptions o;
  o.fidelity = fidelity;
  TrainingStepResult r;
  for (auto _ : state) r = simulate_training_step(topo, CostFactors::defaults(), m, o);
  state.counters["gpus"] = topo.gpu_count();
  state.counters["flows"] = static_cast<double>(r.flows);
  state.counters["simulated_ms"] = r.iteration_time_s * 1e3;
  state.counters["peak_rss_MiB"] = bench::peak_rss_mib();
}
void BM_SwitchBase128_Mixed_Flow(benchmark::State& s) { mixed(s, Fidelity::Flow); }
void BM_SwitchBase128_Mixed_Fluid(benchmark::State& s) { mixed(s, Fidelity::Fluid); }

}  // namespace

BENCHMARK(BM_SwitchBase128_16x8)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_SwitchBase128_16x8_Ring)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_SwitchBase128_16x8_Serial)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(BM_Switch_Gpus)->Arg(2)->Arg(4)->Arg(8)->Arg(16)->Arg(32)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(BM_Switch_Experts)->Arg(32)->Arg(128)->Arg(512)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(BM_Switch_Layers)->Arg(4)->Arg(12)->Arg(24)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(BM_SwitchBase128_16x8_Fluid)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_Switch_Gpus_Fluid)->Arg(16)->Arg(64)->Arg(128)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(BM_DeepSeekV3_Fluid)->Arg(8)->Arg(32)->Arg(128)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(BM_DeepSeekV3_Flow)->Arg(8)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(BM_Smile_16x8)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(BM_SwitchBase128_Mixed_Flow)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_SwitchBase128_Mixed_Fluid)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK_MAIN();
