// Topology speed goals (docs/CLUSTERS.md "Performance"):
//  - 4,096 GPUs (512 nodes x 8) on a 2-tier leaf-spine fabric: the paths of every ordered
//    GPU pair (one full all-to-all, 16.8M queries) in <= 2 s and <= 2 GiB peak RSS.
//  - building and sealing that cluster (loader + templates + next-hop tables).
// Peak RSS is read from /proc/self/status (VmHWM) and reported as a counter in MiB; run one
// benchmark per process (--benchmark_filter) to attribute it.
#include <benchmark/benchmark.h>

#include <vector>

#include "tests/bench/bench_util.h"
#include "topologies/cluster_loader.h"
#include "topologies/topology.h"

namespace {

// 512 DGX-H100-like nodes (8 GPUs, 8 x 400G NICs), 4 nodes (32 NIC ports) per leaf ->
// 128 leaves, 16 spines, non-blocking.
const char* kCluster = R"({
  "name": "bench-512x8-leaf-spine",
  "node_kinds": {
    "hgx": {"type": "nvswitch", "gpu": "h100-sxm", "gpus": 8, "sockets": 2, "socket_link": "upi-16", "socket_links": 4,
            "pcie_switches": {"count": 4, "nics_per_switch": 2}, "nic": "cx7-ib-ndr"}
  },
  "nodes": [{"kind": "hgx", "count": 512}],
  "fabric": {"type": "leaf_spine", "nodes_per_leaf": 4, "spines": 16}
})";

void BM_BuildLeafSpine512x8(benchmark::State& state) {
  for (auto _ : state) {
    moesim::Topology t = moesim::load_cluster_text(kCluster, "bench");
    benchmark::DoNotOptimize(t.gpu_count());
  }
  state.counters["peak_rss_MiB"] = moesim::bench::peak_rss_mib();
}
BENCHMARK(BM_BuildLeafSpine512x8)->Unit(benchmark::kMillisecond);

void BM_AllPairsPathsLeafSpine512x8(benchmark::State& state) {
  const moesim::Topology t = moesim::load_cluster_text(kCluster, "bench");
  const int n = t.gpu_count();
  std::vector<moesim::LinkId> path;
  path.reserve(16);
  std::size_t links = 0;
  for (auto _ : state) {
    for (int s = 0; s < n; ++s)
      for (int d = 0; d < n; ++d) {
        t.path(moesim::GpuId::from(s), moesim::GpuId::from(d), path);
        links += path.size();
      }
    benchmark::DoNotOptimize(links);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * n * n);
  state.counters["gpus"] = n;
  state.counters["links_per_pair"] = static_cast<double>(links) / (static_cast<double>(state.iterations()) * n * n);
  state.counters["peak_rss_MiB"] = moesim::bench::peak_rss_mib();
}
BENCHMARK(BM_AllPairsPathsLeafSpine512x8)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
