#pragma once
// Helpers shared by the benchmark programs.
#include <cstdio>
#include <cstring>

namespace moesim::bench {

/// Peak resident set size of this process in MiB (VmHWM). Run one benchmark per process
/// (--benchmark_filter) to attribute it to that benchmark.
inline double peak_rss_mib() {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return 0;
  char line[256];
  double kib = 0;
  while (std::fgets(line, sizeof line, f))
    if (std::strncmp(line, "VmHWM:", 6) == 0) std::sscanf(line + 6, "%lf", &kib);
  std::fclose(f);
  return kib / 1024.0;
}

}  // namespace moesim::bench
