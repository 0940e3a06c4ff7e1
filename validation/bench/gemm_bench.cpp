// Expert FFN GEMMs with cuBLASLt: activations [M x K] times weights [K x N] over a grid of
// M = tokens routed to one expert (1 .. 65536, powers of 2) and (N, K) pairs of real MoE
// models, in both directions of the FFN (up: N = ffn, K = hidden; down: N = hidden, K = ffn).
//
// cuBLAS is column-major; we run the "TN" form D[N x M] = W^T[N x K] . X[K x M] (A = W stored
// K x N, transposed; B = X stored K x M), which every dtype supports, FP8 included (cuBLASLt
// requires TN for FP8). Weights rotate over enough copies to exceed the L2 cache, so every
// launch reads its weights from HBM as an MoE layer does (each expert's weights once per step).
#include <cublasLt.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "validation/bench/bench_common.h"
#include "validation/bench/moe_kernels.h"

namespace moesim::bench {
namespace {

void check_cublas(cublasStatus_t s, const char* call, const char* file, int line) {
  if (s == CUBLAS_STATUS_SUCCESS) return;
  throw BenchError(fmt::format("{}:{}: {} failed: {} ({})", file, line, call, cublasLtGetStatusString(s),
                               cublasLtGetStatusName(s)));
}
#define MOESIM_BENCH_CUBLAS(call) check_cublas((call), #call, __FILE__, __LINE__)

struct Dtype {
  const char* name;         // GemmMeasurement dtype
  cudaDataType_t ab;        // A and B element type
  cudaDataType_t cd;        // C and D element type
  std::size_t ab_bytes;
  std::size_t cd_bytes;
  FillType fill;
};

// (hidden, ffn) of expert FFNs in public MoE configurations: 768 x 3072 (Switch/GShard-base,
// BERT-base size), 1024 x 4096 (large), 4096 x 14336 (Mixtral 8x7B), 7168 x 2048 (DeepSeek-V3
// routed expert).
struct ExpertShape {
  std::int64_t hidden, ffn;
};
constexpr ExpertShape kShapes[] = {{768, 3072}, {1024, 4096}, {4096, 14336}, {7168, 2048}};

struct LtHandle {
  cublasLtHandle_t h = nullptr;
  LtHandle() { MOESIM_BENCH_CUBLAS(cublasLtCreate(&h)); }
  ~LtHandle() { cublasLtDestroy(h); }
  LtHandle(const LtHandle&) = delete;
  LtHandle& operator=(const LtHandle&) = delete;
};

struct MatmulDesc {
  cublasLtMatmulDesc_t d = nullptr;
  MatmulDesc() {
    MOESIM_BENCH_CUBLAS(cublasLtMatmulDescCreate(&d, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    const cublasOperation_t t = CUBLAS_OP_T, n = CUBLAS_OP_N;
    MOESIM_BENCH_CUBLAS(cublasLtMatmulDescSetAttribute(d, CUBLASLT_MATMUL_DESC_TRANSA, &t, sizeof(t)));
    MOESIM_BENCH_CUBLAS(cublasLtMatmulDescSetAttribute(d, CUBLASLT_MATMUL_DESC_TRANSB, &n, sizeof(n)));
  }
  ~MatmulDesc() { cublasLtMatmulDescDestroy(d); }
  MatmulDesc(const MatmulDesc&) = delete;
  MatmulDesc& operator=(const MatmulDesc&) = delete;
};

struct Layout {
  cublasLtMatrixLayout_t l = nullptr;
  Layout(cudaDataType_t t, std::int64_t rows, std::int64_t cols, std::int64_t ld) {
    MOESIM_BENCH_CUBLAS(cublasLtMatrixLayoutCreate(&l, t, static_cast<std::uint64_t>(rows),
                                                   static_cast<std::uint64_t>(cols), ld));
  }
  ~Layout() { cublasLtMatrixLayoutDestroy(l); }
  Layout(const Layout&) = delete;
  Layout& operator=(const Layout&) = delete;
};

struct Preference {
  cublasLtMatmulPreference_t p = nullptr;
  explicit Preference(std::size_t workspace) {
    MOESIM_BENCH_CUBLAS(cublasLtMatmulPreferenceCreate(&p));
    MOESIM_BENCH_CUBLAS(cublasLtMatmulPreferenceSetAttribute(p, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace,
                                                             sizeof(workspace)));
  }
  ~Preference() { cublasLtMatmulPreferenceDestroy(p); }
  Preference(const Preference&) = delete;
  Preference& operator=(const Preference&) = delete;
};

}  // namespace

void run_gemm_bench(const Options& o, int device, validation::MeasurementSet& out) {
  MOESIM_BENCH_CUDA(cudaSetDevice(device));
  cudaDeviceProp prop{};
  MOESIM_BENCH_CUDA(cudaGetDeviceProperties(&prop, device));
  int clock_kHz = 0;
  MOESIM_BENCH_CUDA(cudaDeviceGetAttribute(&clock_kHz, cudaDevAttrClockRate, device));
  const int cc = prop.major * 10 + prop.minor;

  std::vector<Dtype> dtypes = {{"bf16", CUDA_R_16BF, CUDA_R_16BF, 2, 2, FillType::BF16}};
  if (!o.quick) dtypes.push_back({"fp16", CUDA_R_16F, CUDA_R_16F, 2, 2, FillType::F16});
  // FP8 tensor cores: compute capability 8.9 (Ada) and 9.0+ (Hopper, Blackwell).
  if (cc >= 89 && !o.quick)
    dtypes.push_back({"fp8_e4m3", CUDA_R_8F_E4M3, CUDA_R_16BF, 1, 2, FillType::FP8E4M3});
  else if (cc < 89)
    out.notes.push_back(fmt::format("gemm: fp8 skipped: compute capability {}.{} has no FP8 tensor cores", prop.major,
                                    prop.minor));

  std::vector<std::int64_t> ms;
  if (o.quick) {
    ms = {1, 16, 256, 4096};
  } else {
    for (std::int64_t m = 1; m <= 65536; m *= 2) ms.push_back(m);
  }
  std::vector<std::pair<std::int64_t, std::int64_t>> nk;  // (N, K)
  for (const auto& s : kShapes) {
    if (o.quick && s.hidden != 4096) continue;
    nk.emplace_back(s.ffn, s.hidden);  // up projection
    nk.emplace_back(s.hidden, s.ffn);  // down projection
  }

  LtHandle lt;
  Stream stream;
  const std::size_t workspace_bytes = std::size_t{32} << 20;
  DeviceBuffer workspace(workspace_bytes);
  const Preference pref(workspace_bytes);
  const TimingPlan plan{.warmup = 3, .reps = o.quick ? 5 : 10, .target_sample_us = o.quick ? 500.0 : 1000.0,
                        .max_iterations = 1000};
  const auto l2 = static_cast<std::size_t>(std::max(prop.l2CacheSize, 1 << 20));
  int measured = 0;

  for (const auto& dt : dtypes) {
    for (const auto& [n, k] : nk) {
      const std::size_t w_bytes = static_cast<std::size_t>(n * k) * dt.ab_bytes;
      const int copies = static_cast<int>(std::clamp<std::size_t>((2 * l2 + w_bytes - 1) / w_bytes + 1, 1, 64));
      std::vector<DeviceBuffer> weights;
      try {
        for (int c = 0; c < copies; ++c) {
          weights.emplace_back(w_bytes);
          MOESIM_BENCH_CUDA(fill_uniform(weights.back().get(), static_cast<std::size_t>(n * k), dt.fill,
                                         1000 + static_cast<std::uint64_t>(c), 0.5f, stream.get()));
        }
      } catch (const BenchError& e) {
        out.notes.push_back(fmt::format("gemm {} n={} k={}: skipped: {}", dt.name, n, k, e.what()));
        continue;
      }
      for (const auto m : ms) {
        const std::size_t x_bytes = static_cast<std::size_t>(m * k) * dt.ab_bytes;
        const std::size_t d_bytes = static_cast<std::size_t>(m * n) * dt.cd_bytes;
        if (x_bytes + d_bytes > free_device_memory() * 9 / 10) {
          out.notes.push_back(fmt::format("gemm {} m={} n={} k={}: skipped: not enough device memory", dt.name, m, n, k));
          continue;
        }
        try {
          DeviceBuffer x(x_bytes), d(d_bytes);
          MOESIM_BENCH_CUDA(fill_uniform(x.get(), static_cast<std::size_t>(m * k), dt.fill, 7, 0.5f, stream.get()));
          MatmulDesc desc;
          const Layout a(dt.ab, k, n, k), b(dt.ab, k, m, k), cdl(dt.cd, n, m, n);
          cublasLtMatmulHeuristicResult_t heur{};
          int found = 0;
          MOESIM_BENCH_CUBLAS(cublasLtMatmulAlgoGetHeuristic(lt.h, desc.d, a.l, b.l, cdl.l, cdl.l, pref.p, 1, &heur,
                                                             &found));
          if (found == 0) {
            out.notes.push_back(fmt::format("gemm {} m={} n={} k={}: skipped: cuBLASLt has no algorithm", dt.name, m, n, k));
            continue;
          }
          const float alpha = 1.0f, beta = 0.0f;
          int next = 0;
          auto launch = [&] {
            const void* w = weights[static_cast<std::size_t>(next)].get();
            next = (next + 1) % copies;
            MOESIM_BENCH_CUBLAS(cublasLtMatmul(lt.h, desc.d, &alpha, w, a.l, x.get(), b.l, &beta, d.get(), cdl.l, d.get(),
                                               cdl.l, &heur.algo, workspace.get(), workspace_bytes, stream.get()));
          };
          const auto t = time_on_stream(stream.get(), launch, plan, clock_kHz);
          const double med = t.median_us();
          validation::GemmMeasurement g;
          g.m = m;
          g.n = n;
          g.k = k;
          g.dtype = dt.name;
          g.time_us = med;
          g.spread = t.spread();
          g.reps = static_cast<int>(t.samples_us.size());
          g.iterations_per_rep = t.iterations;
          g.tflops = 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k) / (med * 1e-6) / 1e12;
          out.gemms.push_back(g);
          ++measured;
          progress(o, fmt::format("gemm {:8} m={:6} n={:6} k={:6}: {:10.2f} us  {:7.1f} TFLOP/s", dt.name, m, n, k, med,
                                  g.tflops));
        } catch (const BenchError& e) {
          out.notes.push_back(fmt::format("gemm {} m={} n={} k={}: skipped: {}", dt.name, m, n, k, e.what()));
        }
      }
    }
  }
  if (measured == 0) throw BenchError("gemm: no GEMM could be measured (see notes)");
}

}  // namespace moesim::bench
