#include "validation/bench/bench_common.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include <fmt/format.h>

#include "validation/bench/moe_kernels.h"

namespace moesim::bench {

void check_cuda(cudaError_t e, const char* call, const char* file, int line) {
  if (e == cudaSuccess) return;
  throw BenchError(fmt::format("{}:{}: {} failed: {} ({})", file, line, call, cudaGetErrorString(e),
                               cudaGetErrorName(e)));
}

DeviceBuffer::DeviceBuffer(std::size_t bytes) : bytes_(bytes) {
  MOESIM_BENCH_CUDA(cudaGetDevice(&device_));
  if (bytes > 0) MOESIM_BENCH_CUDA(cudaMalloc(&ptr_, bytes));
}

DeviceBuffer::~DeviceBuffer() {
  if (!ptr_) return;
  int current = 0;
  cudaGetDevice(&current);
  cudaSetDevice(device_);
  cudaFree(ptr_);
  cudaSetDevice(current);
}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(o.ptr_), bytes_(o.bytes_), device_(o.device_) {
  o.ptr_ = nullptr;
  o.bytes_ = 0;
}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& o) noexcept {
  if (this != &o) {
    this->~DeviceBuffer();
    ptr_ = o.ptr_;
    bytes_ = o.bytes_;
    device_ = o.device_;
    o.ptr_ = nullptr;
    o.bytes_ = 0;
  }
  return *this;
}

PinnedBuffer::PinnedBuffer(std::size_t bytes) { MOESIM_BENCH_CUDA(cudaMallocHost(&ptr_, bytes)); }
PinnedBuffer::~PinnedBuffer() {
  if (ptr_) cudaFreeHost(ptr_);
}

Stream::Stream() { MOESIM_BENCH_CUDA(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking)); }
Stream::~Stream() {
  if (s_) cudaStreamDestroy(s_);
}

namespace {

class Event {
 public:
  Event() { MOESIM_BENCH_CUDA(cudaEventCreate(&e_)); }
  ~Event() { cudaEventDestroy(e_); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  cudaEvent_t get() const { return e_; }

 private:
  cudaEvent_t e_ = nullptr;
};

/// Linear-interpolated quantile of sorted values, q in [0, 1].
double quantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const auto hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (pos - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
}

std::vector<double> sorted_copy(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace

double Timing::median_us() const { return quantile(sorted_copy(samples_us), 0.5); }

validation::TimeSpread Timing::spread() const {
  const auto s = sorted_copy(samples_us);
  return {.min_us = s.front(), .p10_us = quantile(s, 0.1), .p90_us = quantile(s, 0.9), .max_us = s.back()};
}

Timing time_on_stream(cudaStream_t stream, const std::function<void()>& launch, const TimingPlan& plan,
                      int clock_kHz) {
  const double cycles_per_us = std::max(clock_kHz, 1000) / 1000.0;
  Event start, stop;
  // The spin before the start event must outlast the host's queueing of the whole batch (a
  // cuBLASLt call can take several microseconds to queue, longer than a small GEMM runs). Start
  // with 20 us + 20 us per launch; if queueing took longer than the spin, redo with twice that.
  auto timed_batch = [&](int iterations) {
    double spin_us = std::min(20.0 + 20.0 * iterations, 200000.0);
    for (int attempt = 0;; ++attempt) {
      MOESIM_BENCH_CUDA(gpu_spin(static_cast<long long>(spin_us * cycles_per_us), stream));
      const auto host0 = std::chrono::steady_clock::now();
      MOESIM_BENCH_CUDA(cudaEventRecord(start.get(), stream));
      for (int i = 0; i < iterations; ++i) launch();
      MOESIM_BENCH_CUDA(cudaEventRecord(stop.get(), stream));
      const double queued_us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - host0).count();
      MOESIM_BENCH_CUDA(cudaEventSynchronize(stop.get()));
      float ms = 0;
      MOESIM_BENCH_CUDA(cudaEventElapsedTime(&ms, start.get(), stop.get()));
      if (queued_us <= spin_us || attempt == 2) return static_cast<double>(ms) * 1e3 / iterations;
      spin_us = std::min(2 * queued_us, 1e6);
    }
  };
  for (int i = 0; i < plan.warmup; ++i) launch();
  MOESIM_BENCH_CUDA(cudaStreamSynchronize(stream));
  // Size the batch from one timed launch.
  const double one_us = std::max(timed_batch(1), 1e-3);
  Timing t;
  t.iterations = std::clamp(static_cast<int>(std::ceil(plan.target_sample_us / one_us)), 1, plan.max_iterations);
  for (int r = 0; r < plan.reps; ++r) t.samples_us.push_back(timed_batch(t.iterations));
  return t;
}

std::size_t free_device_memory() {
  std::size_t free_b = 0, total_b = 0;
  MOESIM_BENCH_CUDA(cudaMemGetInfo(&free_b, &total_b));
  return free_b;
}

void progress(const Options& o, const std::string& line) {
  if (o.verbose) std::fprintf(stderr, "moesim-bench: %s\n", line.c_str());
}

}  // namespace moesim::bench
