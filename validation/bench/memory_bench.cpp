// Memory-system bandwidths: HBM device-to-device copy, and host<->device copies from pinned host
// memory, over sizes (small sizes show the per-copy latency, large ones the bandwidth).
// KernelMeasurement.bytes: HBM copy = 2 x size (read + write); h2d / d2h = size transferred.
#include <cuda_runtime_api.h>

#include <algorithm>

#include <fmt/format.h>

#include "validation/bench/bench_common.h"

namespace moesim::bench {

void run_memory_bench(const Options& o, int device, validation::MeasurementSet& out) {
  MOESIM_BENCH_CUDA(cudaSetDevice(device));
  int clock_kHz = 0;
  MOESIM_BENCH_CUDA(cudaDeviceGetAttribute(&clock_kHz, cudaDevAttrClockRate, device));
  Stream stream;
  const TimingPlan plan{.warmup = 2, .reps = o.quick ? 5 : 10, .target_sample_us = o.quick ? 300.0 : 1000.0,
                        .max_iterations = 1000};
  const std::int64_t step = o.quick ? 4 : 2;
  int measured = 0;

  // HBM copy: two buffers of up to min(max_bytes, 1 GiB, free/3).
  {
    const auto cap = std::min<std::int64_t>({o.max_bytes, std::int64_t{1} << 30,
                                             static_cast<std::int64_t>(free_device_memory() / 3)});
    try {
      DeviceBuffer a(static_cast<std::size_t>(cap)), b(static_cast<std::size_t>(cap));
      MOESIM_BENCH_CUDA(cudaMemsetAsync(a.get(), 1, static_cast<std::size_t>(cap), stream.get()));
      for (std::int64_t size = 4096; size <= cap; size *= step) {
        auto launch = [&] {
          MOESIM_BENCH_CUDA(cudaMemcpyAsync(b.get(), a.get(), static_cast<std::size_t>(size), cudaMemcpyDeviceToDevice,
                                            stream.get()));
        };
        const auto t = time_on_stream(stream.get(), launch, plan, clock_kHz);
        out.kernels.push_back({.name = "hbm_copy",
                               .params = {{"copy_bytes", size}},
                               .bytes = 2 * size,
                               .time_us = t.median_us(),
                               .spread = t.spread(),
                               .reps = static_cast<int>(t.samples_us.size())});
        ++measured;
        progress(o, fmt::format("hbm_copy {:11} B: {:10.2f} us  {:8.1f} GB/s (read+write)", size, t.median_us(),
                                2.0 * static_cast<double>(size) / t.median_us() / 1e3));
      }
    } catch (const BenchError& e) {
      out.notes.push_back(fmt::format("hbm_copy: stopped: {}", e.what()));
    }
  }

  // Host <-> device from pinned memory; one copy per timed launch batch.
  {
    const auto cap = std::min<std::int64_t>({o.max_bytes, std::int64_t{1} << 30,
                                             static_cast<std::int64_t>(free_device_memory() / 3)});
    try {
      PinnedBuffer host(static_cast<std::size_t>(cap));
      DeviceBuffer dev(static_cast<std::size_t>(cap));
      for (const bool to_device : {true, false}) {
        const char* name = to_device ? "h2d" : "d2h";
        for (std::int64_t size = 8; size <= cap; size *= step) {
          auto launch = [&] {
            if (to_device)
              MOESIM_BENCH_CUDA(cudaMemcpyAsync(dev.get(), host.get(), static_cast<std::size_t>(size),
                                                cudaMemcpyHostToDevice, stream.get()));
            else
              MOESIM_BENCH_CUDA(cudaMemcpyAsync(host.get(), dev.get(), static_cast<std::size_t>(size),
                                                cudaMemcpyDeviceToHost, stream.get()));
          };
          const auto t = time_on_stream(stream.get(), launch, plan, clock_kHz);
          out.kernels.push_back({.name = name,
                                 .params = {{"copy_bytes", size}, {"pinned", 1}},
                                 .bytes = size,
                                 .time_us = t.median_us(),
                                 .spread = t.spread(),
                                 .reps = static_cast<int>(t.samples_us.size())});
          ++measured;
          progress(o, fmt::format("{} {:11} B: {:10.2f} us  {:8.2f} GB/s", name, size, t.median_us(),
                                  static_cast<double>(size) / t.median_us() / 1e3));
        }
      }
    } catch (const BenchError& e) {
      out.notes.push_back(fmt::format("h2d/d2h: stopped: {}", e.what()));
    }
  }
  if (measured == 0) throw BenchError("memory: nothing could be measured (see notes)");
}

}  // namespace moesim::bench
