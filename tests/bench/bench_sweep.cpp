// Cost of a parameter sweep (issue 5, `moesim sweep`): 1,080 points = experts 4..512 (8 values)
// x nodes 1, 2, 4, 8, 16 of p4d.24xlarge (8 GPUs each) x all 9 strategies x seeds 1..3, with
// the default switch-base-128 model and cost factors; target <= 5 minutes on 2 cores, both used,
// bounded memory. The output (CSV) goes to a temporary file, in point order, as the CLI writes it.
// Counters: points, failed (impossible combinations recorded as error rows), points_per_s,
// cpu_use (user + system CPU time / wall time / jobs: 1 = both cores ours all the time),
// busy (sum of the points' wall times / wall time / jobs: 1 = the workers never waited for
// work or for the writer, so a cpu_use below 1 then means other processes had the cores) and
// peak_rss_MiB (VmHWM of the process).
// Run:  bench_sweep            (jobs = 2; about 2-4 minutes)
#include <chrono>
#include <filesystem>
#include <string>

#include <sys/resource.h>

#include <benchmark/benchmark.h>

#include "bench_util.h"
#include "tools/sweep.h"

using namespace moesim;

namespace {

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

void sweep1080(benchmark::State& state, const char* fidelity) {
  const auto jobs = static_cast<unsigned>(state.range(0));
  sweep::GridSpec spec;
  spec.fidelity = fidelity;
  spec.axes = {{"cluster", {"p4d.24xlarge"}},
               {"nodes", {1, 2, 4, 8, 16}},
               {"num_experts", {4, 8, 16, 32, 64, 128, 256, 512}},
               {"strategy", {"all"}},
               {"seed", {1, 2, 3}}};
  const sweep::Grid grid = sweep::Grid::plan(spec);
  const auto path = (std::filesystem::temp_directory_path() / "moesim_bench_sweep.csv").string();
  sweep::SweepSummary s;
  double wall = 0, cpu = 0;
  for (auto _ : state) {
    std::filesystem::remove(path);
    sweep::RunOptions o;
    o.output = path;
    o.jobs = jobs;
    const double c0 = cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    s = sweep::run_sweep(grid, o);
    wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    cpu = cpu_seconds() - c0;
  }
  state.counters["points"] = static_cast<double>(grid.size());
  state.counters["failed"] = static_cast<double>(s.failed + s.internal_errors);
  state.counters["wall_s"] = wall;
  state.counters["points_per_s"] = static_cast<double>(s.run) / wall;
  state.counters["cpu_use"] = cpu / wall / jobs;
  state.counters["busy"] = s.points_s / wall / jobs;
  state.counters["peak_rss_MiB"] = bench::peak_rss_mib();
  state.counters["output_MiB"] = static_cast<double>(std::filesystem::file_size(path)) / (1024.0 * 1024.0);
  std::filesystem::remove(path);
}

void BM_Sweep1080(benchmark::State& state) { sweep1080(state, "flow"); }
void BM_Sweep1080_Fluid(benchmark::State& state) { sweep1080(state, "fluid"); }

}  // namespace

BENCHMARK(BM_Sweep1080)->Arg(2)->Unit(benchmark::kSecond)->Iterations(1)->UseRealTime();
BENCHMARK(BM_Sweep1080_Fluid)->Arg(2)->Unit(benchmark::kSecond)->Iterations(1)->UseRealTime();
BENCHMARK_MAIN();
