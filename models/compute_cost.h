#pragma once
// Compute cost model: seconds for the GPU kernels of one MoE training step (DESIGN.md
// "Compute"). Pure functions of a GPU spec and an efficiency table (data, not code:
// models/data/compute_efficiency.json, embedded; a calibration file can replace it).
//
// GEMM (M x K) * (K x N) in dtype t, F = 2 M N K FLOPs, B = (M K + K N + M N) * bytes(t):
//   time = max(F / (eff_max(t) * peak(t)), B / (hbm_efficiency * hbm_bytes_per_s)) + overhead(t)
// The fixed overhead makes the achieved efficiency saturate with size,
//   eff(F) = eff_max * F / (F + F_half),  F_half = overhead * eff_max * peak,
// and the memory term covers skinny expert GEMMs (few tokens per expert) that only stream the
// weights. Fitted points and errors are in the JSON file and docs/MODELS.md.
// Memory-bound kernels (gating softmax/top-k, permutation, un-permutation):
//   time = bytes / (hbm_efficiency * hbm_bytes_per_s) + memory overhead.
// Backward GEMMs: backward_flops_factor (2) x the forward time (one GEMM for the input
// gradient, one for the weight gradient, each the forward's size).
#include <array>
#include <span>
#include <string>

#include "models/dispatch_plan.h"
#include "models/model_config.h"

namespace moesim {

/// What the compute model needs to know about a GPU kind (the topology catalog provides it).
struct GpuComputeSpec {
  std::string kind;                                 // catalog name, e.g. "h100-sxm"
  std::array<double, kDTypeCount> peak_flops_per_s{};  // dense peak by DType; 0 = unsupported
  double hbm_bytes_per_s = 0;
};

struct GemmEfficiency {
  double efficiency_max = 1;  // of peak, for large GEMMs
  double overhead_s = 0;      // fixed time per GEMM (launch, tail, tile quantisation)
};

class ComputeEfficiency {
 public:
  /// Efficiency 1, no overheads, HBM efficiency 1 (`--ideal`).
  static ComputeEfficiency ideal();
  /// The embedded models/data/compute_efficiency.json.
  static ComputeEfficiency defaults();
  static ComputeEfficiency load_file(const std::string& path);
  static ComputeEfficiency load_text(std::string_view text, const std::string& label);

  const GemmEfficiency& gemm(DType t) const { return gemm_[static_cast<std::size_t>(t)]; }
  double hbm_efficiency() const { return hbm_efficiency_; }
  double memory_overhead_s() const { return memory_overhead_s_; }
  double backward_flops_factor() const { return backward_flops_factor_; }

 private:
  /// Reads `text` over `base`: absent keys keep base's values unless `require_all`.
  static ComputeEfficiency parse(std::string_view text, const std::string& label, const ComputeEfficiency& base, bool require_all);
  std::array<GemmEfficiency, kDTypeCount> gemm_{};
  double hbm_efficiency_ = 1;
  double memory_overhead_s_ = 0;
  double backward_flops_factor_ = 2;
};

class ComputeCostModel {
 public:
  /// InputError if the GPU has no HBM bandwidth.
  ComputeCostModel(GpuComputeSpec gpu, ComputeEfficiency efficiency);

  const GpuComputeSpec& gpu() const { return gpu_; }
  /// Forward GEMM (M x K)(K x N); 0 when any dimension is 0. InputError when the GPU has no
  /// peak for `t`.
  double gemm_seconds(double m, double n, double k, DType t) const;
  /// A kernel of `flops` FLOPs that moves `bytes` through HBM, one launch.
  double gemm_like_seconds(double flops, double bytes, DType t) const;
  /// A memory-bound kernel moving `bytes` through HBM (read + write counted by the caller).
  double memory_seconds(double bytes) const;

  /// One expert FFN over `rows` tokens: up (and gate) GEMM rows x d_in -> d_ff, down GEMM
  /// d_ff -> d_in. 0 rows: 0 s.
  double expert_ffn_forward_seconds(double rows, int d_in, int d_ff, bool gated, DType t) const;
  double expert_ffn_backward_seconds(double rows, int d_in, int d_ff, bool gated, DType t) const;
  /// All expert work of one GPU in a plan (each entry its own GEMMs).
  double expert_forward_seconds(std::span<const ExpertWork> work, bool gated, DType t) const;
  double expert_backward_seconds(std::span<const ExpertWork> work, bool gated, DType t) const;

  /// Self-attention of one layer on one GPU's tokens_per_gpu tokens: QKV and output
  /// projections (2 T d 3d + 2 T d d FLOPs) and scores + weighted sum (2 x 2 T L d FLOPs, no
  /// causal saving, as one fused kernel reading Q, K, V and writing O).
  double attention_forward_seconds(const ModelConfig& m) const;
  double attention_backward_seconds(const ModelConfig& m) const;
  /// The dense FFN of a non-MoE layer (dense_d_ff, gated like the experts).
  double dense_ffn_forward_seconds(const ModelConfig& m) const;
  double dense_ffn_backward_seconds(const ModelConfig& m) const;
  /// Gate: logits GEMM (T x d)(d x E) plus softmax / top-k reading and writing fp32 logits.
  double gating_forward_seconds(const ModelConfig& m) const;
  /// Permutation (scatter into expert order) of `rows` token rows of width d_in: reads and
  /// writes each row once; un-permutation is the same traffic (plus the k-way sum, folded in).
  double permute_seconds(double rows, int d_in, DType t) const;

 private:
  double peak(DType t) const;
  GpuComputeSpec gpu_;
  ComputeEfficiency eff_;
};

}  // namespace moesim
