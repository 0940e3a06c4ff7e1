#pragma once
// moesim-bench shared pieces: options, CUDA error checks, RAII device/host buffers, and the
// timing harness. Host C++ only (compiled by the host compiler, linked against the CUDA
// runtime); the device kernels live in moe_kernels.cu.
#include <cuda_runtime_api.h>

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "validation/measurements.h"

namespace moesim::bench {

/// A failed CUDA, cuBLAS or NCCL call. Sections catch it, record a note and go on.
class BenchError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

void check_cuda(cudaError_t e, const char* call, const char* file, int line);
#define MOESIM_BENCH_CUDA(call) ::moesim::bench::check_cuda((call), #call, __FILE__, __LINE__)

struct Options {
  std::string out = "moesim-measurements.json";
  bool quick = false;
  bool skip_nccl = false;
  bool skip_gemm = false;
  bool skip_kernels = false;  // gate / permute / unpermute
  bool skip_memory = false;   // HBM copy, H2D, D2H
  std::int64_t max_bytes = std::int64_t{1} << 30;  // largest message / copy
  int devices = 0;            // use the first N visible GPUs (0 = all)
  bool verbose = true;        // progress lines on stderr
};

/// Device memory, freed on scope exit (on the device that was current at allocation).
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& o) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void* get() const { return ptr_; }
  template <typename T>
  T* as() const { return static_cast<T*>(ptr_); }
  std::size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
  int device_ = 0;
};

/// Page-locked host memory.
class PinnedBuffer {
 public:
  explicit PinnedBuffer(std::size_t bytes);
  ~PinnedBuffer();
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  void* get() const { return ptr_; }

 private:
  void* ptr_ = nullptr;
};

class Stream {
 public:
  Stream();
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  cudaStream_t get() const { return s_; }

 private:
  cudaStream_t s_ = nullptr;
};

/// Timings of one benchmark: `samples_us` are per-launch times (each = one timed batch of
/// `iterations` back-to-back launches, divided by `iterations`).
struct Timing {
  std::vector<double> samples_us;
  int iterations = 1;
  double median_us() const;
  validation::TimeSpread spread() const;
};

struct TimingPlan {
  int warmup = 3;             // untimed launches first
  int reps = 10;              // timed samples
  double target_sample_us = 1000;  // batch launches so one sample lasts about this long
  int max_iterations = 1000;  // per sample
};

/// Times `launch` (which enqueues work on `stream`) with CUDA events. Before each sample a GPU
/// spin kernel is queued that outlasts the host's queueing of the sample, so the start event, the
/// launches and the stop event are all queued before the GPU reaches them: host launch overhead
/// is not measured, only GPU time of back-to-back launches.
Timing time_on_stream(cudaStream_t stream, const std::function<void()>& launch, const TimingPlan& plan,
                      int clock_kHz);

/// Free device memory on the current device, bytes.
std::size_t free_device_memory();

/// Progress line on stderr (if enabled).
void progress(const Options& o, const std::string& line);

// Sections. Each appends to `out` and records skipped parts in out.notes; throws BenchError
// only if nothing of the section could run.
void run_gemm_bench(const Options& o, int device, validation::MeasurementSet& out);
void run_moe_kernel_bench(const Options& o, int device, validation::MeasurementSet& out);
void run_memory_bench(const Options& o, int device, validation::MeasurementSet& out);
void run_nccl_bench(const Options& o, int device_count, validation::MeasurementSet& out);

}  // namespace moesim::bench
