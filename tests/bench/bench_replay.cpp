// Traffic-matrix replay cost (issue 6, `moesim replay`): a Zipf-skewed matrix (s = 1.2 over
// destinations: bytes(i, j) proportional to 1 / (j + 1)^1.2, self excluded, 64 MiB sent per
// GPU) replayed in ideal mode (every flow starts at time 0, each ends at its own time) on
// 32 x 8 = 256 GPUs (65,280 flows; target <= 2 s) and 128 x 8 = 1,024 GPUs (1,047,552 flows;
// target <= 30 s), with 64 x 8 = 512 GPUs in between for the scaling; one core. And the
// parsing of a 1,024-GPU matrix file (CSV, sparse, all 1,047,552 off-diagonal entries; and
// the same matrix as dense JSON). Figures: docs/REPLAY.md.
//
// Cluster: build_simple_cluster (the issue's: 8 GPUs per node on NVSwitch, 4 NICs per node
// shared by 2 GPUs each, one non-blocking switch).
// Run one case per process to read its peak RSS:  bench_replay --benchmark_filter=<name>
#include <cmath>
#include <string>

#include <benchmark/benchmark.h>

#include "bench_util.h"
#include "sim/collectives/replay.h"
#include "topologies/builders.h"

using namespace moesim;

namespace {

TrafficMatrix zipf_matrix(int P) {
  const double S = 64.0 * 1024 * 1024;  // bytes each GPU sends in total
  std::vector<double> w(static_cast<std::size_t>(P));
  double all = 0;
  for (int j = 0; j < P; ++j) all += w[static_cast<std::size_t>(j)] = 1.0 / std::pow(j + 1.0, 1.2);
  TrafficMatrix m = TrafficMatrix::zeros(P, "zipf-1.2");
  for (int i = 0; i < P; ++i)
    for (int j = 0; j < P; ++j)
      if (i != j) m.at(i, j) = S * w[static_cast<std::size_t>(j)] / (all - w[static_cast<std::size_t>(i)]);
  return m;
}

void run_replay(benchmark::State& state, bool ideal) {
  const int nodes = static_cast<int>(state.range(0));
  const Topology topo = build_simple_cluster({.nodes = nodes});
  const TrafficMatrix m = zipf_matrix(topo.gpu_count());
  const CostFactors costs = ideal ? CostFactors::ideal() : CostFactors::defaults();
  double sim_ms = 0, flows = 0;
  for (auto _ : state) {
    const ReplayResult r = replay_traffic(topo, costs, m, AllToAllAlgorithm::Direct);
    sim_ms = r.completion.seconds() * 1e3;
    flows = static_cast<double>(r.transfers);
    benchmark::DoNotOptimize(r.recv_finish.data());
  }
  state.counters["gpus"] = topo.gpu_count();
  state.counters["flows"] = flows;
  state.counters["simulated_ms"] = sim_ms;
  state.counters["peak_rss_MiB"] = bench::peak_rss_mib();
}

void BM_ReplayZipf_Ideal(benchmark::State& s) {
  run_replay(s, true);
}
void BM_ReplayZipf_Nccl(benchmark::State& s) {
  run_replay(s, false);
}

void run_parse(benchmark::State& state, bool csv) {
  const int P = static_cast<int>(state.range(0)) * 8;
  const std::string text = csv ? traffic_matrix_to_csv(zipf_matrix(P)) : traffic_matrix_to_json(zipf_matrix(P));
  double entries = 0;
  for (auto _ : state) {
    const TrafficMatrix m =
        csv ? parse_traffic_matrix_csv(text, "bench.csv", P) : parse_traffic_matrix_json(text, "bench.json", P);
    entries = static_cast<double>(m.bytes.size());
    benchmark::DoNotOptimize(m.bytes.data());
  }
  state.counters["gpus"] = P;
  state.counters["entries"] = entries;
  state.counters["file_MiB"] = static_cast<double>(text.size()) / (1024.0 * 1024.0);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(text.size()));
  state.counters["peak_rss_MiB"] = bench::peak_rss_mib();
}

void BM_ParseMatrixCsv(benchmark::State& s) {
  run_parse(s, true);
}
void BM_ParseMatrixJson(benchmark::State& s) {
  run_parse(s, false);
}

}  // namespace

BENCHMARK(BM_ReplayZipf_Ideal)->Arg(32)->Arg(64)->Arg(128)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(BM_ReplayZipf_Nccl)->Arg(32)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(BM_ParseMatrixCsv)->Arg(128)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_ParseMatrixJson)->Arg(128)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK_MAIN();
