#pragma once
// The MoE layer's own memory-bound kernels, written here so moesim-bench can time them on any
// GPU: gate softmax + top-k, token permutation (scatter by expert) and un-permutation (gather +
// weighted combine), plus data fill and a GPU spin used by the timing harness.
//
// Plain C++ declarations (no CUDA syntax) so host .cpp files can call them; implemented in
// moe_kernels.cu. Every function only enqueues work on `stream` and returns the launch status
// (cudaGetLastError), never synchronises.
//
// Layouts (row-major): logits [tokens x experts] float; expert choice idx / weight
// [tokens x top_k] (int32 / float); x [tokens x hidden] bf16; permuted [tokens*top_k x hidden]
// bf16, grouped by expert; row_map [tokens x top_k] int32 = row of (token, slot) in permuted.
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace moesim::bench {

enum class FillType { F32, BF16, F16, FP8E4M3 };

/// Fills `count` elements with deterministic pseudo-random values uniform in [-scale, scale).
cudaError_t fill_uniform(void* data, std::size_t count, FillType type, std::uint64_t seed, float scale,
                         cudaStream_t stream);

/// Occupies the GPU for about `cycles` SM clock cycles (one thread).
cudaError_t gpu_spin(long long cycles, cudaStream_t stream);

/// Largest expert count gate_softmax_topk supports.
inline constexpr int kMaxGateExperts = 256;
/// Largest top_k supported by the kernels.
inline constexpr int kMaxTopK = 16;

/// Softmax over each token's expert logits, then the top_k experts: idx (expert ids, best
/// first) and weight (their softmax probabilities). One warp per token.
/// Requires 1 <= top_k <= min(experts, kMaxTopK), experts <= kMaxGateExperts.
cudaError_t gate_softmax_topk(const float* logits, int tokens, int experts, int top_k, int* idx, float* weight,
                              cudaStream_t stream);

/// Scatters token rows to expert-grouped order: counts tokens per expert (atomics), scans the
/// counts into offsets, then copies each (token, slot) row of x to its expert's region of
/// `permuted` and records its row in row_map. Scratch: counts and cursor, `experts` ints each.
/// Requires hidden % 8 == 0, experts <= 1024.
cudaError_t permute_tokens(const void* x_bf16, const int* idx, int tokens, int hidden, int experts, int top_k,
                           int* counts, int* cursor, int* row_map, void* permuted_bf16, cudaStream_t stream);

/// out[t] = sum_j weight[t, j] * permuted[row_map[t, j]] (fp32 accumulation, bf16 out).
/// Requires hidden % 8 == 0.
cudaError_t unpermute_tokens(const void* permuted_bf16, const int* row_map, const float* weight, int tokens,
                             int hidden, int top_k, void* out_bf16, cudaStream_t stream);

}  // namespace moesim::bench
