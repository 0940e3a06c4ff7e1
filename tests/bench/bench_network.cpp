// Network + collective simulation cost (issue 2): uniform all-to-all and Zipf-skewed
// (s = 1.2 over destinations) all-to-all-v on 32 x 8 = 256 GPUs (65,280 flows) and
// 128 x 8 = 1,024 GPUs (1,047,552 flows). Targets: 256 GPUs uniform <= 0.5 s, skewed <= 2 s;
// 1,024 GPUs uniform <= 10 s and <= 4 GiB; one core.
//
// Cluster: build_simple_cluster (8 GPUs per node on NVSwitch, 4 NICs per node shared by 2
// GPUs each through a PCIe switch, one non-blocking switch): the cluster.
// Cost factors: "ideal" = every flow starts at once (the hardest case for the solver: all
// flows share one component); "nccl" = the default cost factors (protocol overheads and
// efficiency, at most 16 peers in flight per rank as NCCL's P2P channels allow).
// Run one case per process to read its peak RSS:  bench_network --benchmark_filter=<name>
#include <benchmark/benchmark.h>

#include <cmath>
#include <vector>

#include "bench_util.h"
#include "sim/collectives/collectives.h"
#include "topologies/builders.h"

using namespace moesim;

namespace {

void run_alltoallv(benchmark::State& state, bool zipf, bool ideal, Time window = Time::zero()) {
  const int nodes = static_cast<int>(state.range(0));
  const Topology topo = build_simple_cluster({.nodes = nodes});
  const int P = topo.gpu_count();
  const double S = 64.0 * 1024 * 1024;  // bytes each GPU sends in total
  // Zipf weights over destinations: w_j = 1 / (j + 1)^1.2, normalised per source over its peers.
  std::vector<double> w(P);
  for (int j = 0; j < P; ++j) w[j] = zipf ? 1.0 / std::pow(j + 1.0, 1.2) : 1.0;
  std::vector<double> row_sum(P, 0);
  for (int i = 0; i < P; ++i)
    for (int j = 0; j < P; ++j)
      if (i != j) row_sum[i] += w[j];
  std::vector<GpuId> ranks(P);
  for (int r = 0; r < P; ++r) ranks[r] = GpuId::from(r);
  CostFactors costs = ideal ? CostFactors::ideal() : CostFactors::defaults();
  costs.network().completion_window = window;
  double sim_time_s = 0, flows = 0, solves = 0;
  for (auto _ : state) {
    TaskGraph graph;
    graph.reserve(static_cast<std::size_t>(P) * P + P, static_cast<std::size_t>(P) * P * 2);
    append_alltoallv(graph, topo, ranks, [&](int i, int j) { return i == j ? 0.0 : S * w[j] / row_sum[i]; },
                     AllToAllAlgorithm::Direct, costs.collective().alltoall_max_peers_in_flight);
    Engine engine;
    Network network(engine, topo.links(), {.completion_window = costs.network().completion_window});
    TransferService transfers(engine, network, topo, costs);
    sim_time_s = Executor(transfers).run(graph).seconds();
    flows = static_cast<double>(network.flows_completed());
    solves = static_cast<double>(network.solver_stats().solves);
    state.counters["candidates_per_solve"] = static_cast<double>(network.solver_stats().candidates) / solves;
    state.counters["refilled_per_solve"] = static_cast<double>(network.solver_stats().vars_refilled) / solves;
    state.counters["relevel_share"] = static_cast<double>(network.solver_stats().relevels) / solves;
    state.counters["edges_per_solve"] = static_cast<double>(network.solver_stats().edges_checked) / solves;
    state.counters["local_refills"] = static_cast<double>(network.solver_stats().local_refills);
    state.counters["relevel_failed"] = static_cast<double>(network.solver_stats().relevel_failed);
    state.counters["joins_relevelled"] = static_cast<double>(network.solver_stats().joins_relevelled);
    state.counters["moved"] = static_cast<double>(network.solver_stats().vars_moved);
    state.counters["changed_per_solve"] = static_cast<double>(network.solver_stats().values_changed) / solves;
  }
  state.counters["gpus"] = P;
  state.counters["flows"] = flows;
  state.counters["solves"] = solves;
  state.counters["simulated_ms"] = sim_time_s * 1e3;
  state.counters["peak_rss_MiB"] = bench::peak_rss_mib();
}

void BM_UniformAllToAll_Ideal(benchmark::State& s) { run_alltoallv(s, false, true); }
void BM_ZipfAllToAllV_Ideal(benchmark::State& s) { run_alltoallv(s, true, true); }
// The same with a 1 ns completion window (flows ending within 1 ns complete together).
void BM_ZipfAllToAllV_Ideal_Window1ns(benchmark::State& s) { run_alltoallv(s, true, true, Time::from_ps(1000)); }
void BM_ZipfAllToAllV_Nccl_Window1ns(benchmark::State& s) { run_alltoallv(s, true, false, Time::from_ps(1000)); }
void BM_UniformAllToAll_Nccl(benchmark::State& s) { run_alltoallv(s, false, false); }
void BM_ZipfAllToAllV_Nccl(benchmark::State& s) { run_alltoallv(s, true, false); }

}  // namespace

BENCHMARK(BM_UniformAllToAll_Ideal)->Arg(32)->Arg(128)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(BM_ZipfAllToAllV_Ideal)->Arg(8)->Arg(32)->Arg(64)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(BM_ZipfAllToAllV_Ideal_Window1ns)->Arg(32)->Arg(128)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(BM_ZipfAllToAllV_Nccl_Window1ns)->Arg(32)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(BM_UniformAllToAll_Nccl)->Arg(32)->Arg(128)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(BM_ZipfAllToAllV_Nccl)->Arg(32)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK_MAIN();
