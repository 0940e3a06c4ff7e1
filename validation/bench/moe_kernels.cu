// MoE layer kernels for moesim-bench (see moe_kernels.h). Written for clarity and reasonable
// memory efficiency (16-byte vector loads and stores), not peak speed: they stand for the
// gating / permutation work of an MoE layer whose time calibration fits as bytes / bandwidth.
#include "validation/bench/moe_kernels.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>
#include <cuda_runtime.h>

namespace moesim::bench {
namespace {

constexpr unsigned kFullMask = 0xffffffffu;

__device__ __forceinline__ std::uint64_t mix64(std::uint64_t z) {
  // SplitMix64 finaliser.
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

template <typename T>
__device__ __forceinline__ T from_float(float v);
template <>
__device__ __forceinline__ float from_float<float>(float v) { return v; }
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float v) { return __float2bfloat16(v); }
template <>
__device__ __forceinline__ __half from_float<__half>(float v) { return __float2half(v); }
template <>
__device__ __forceinline__ __nv_fp8_e4m3 from_float<__nv_fp8_e4m3>(float v) { return __nv_fp8_e4m3(v); }

template <typename T>
__global__ void fill_kernel(T* data, std::size_t count, std::uint64_t seed, float scale) {
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
    const std::uint64_t h = mix64(seed * 0x9E3779B97F4A7C15ULL + i);
    const float u = static_cast<float>(h >> 40) * (1.0f / 16777216.0f);  // [0, 1)
    data[i] = from_float<T>((2.0f * u - 1.0f) * scale);
  }
}

__global__ void spin_kernel(long long cycles) {
  const long long start = clock64();
  while (clock64() - start < cycles) {
  }
}

__device__ __forceinline__ float warp_max(float v) {
  for (int off = 16; off > 0; off >>= 1) v = fmaxf(v, __shfl_xor_sync(kFullMask, v, off));
  return v;
}

__device__ __forceinline__ float warp_sum(float v) {
  for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(kFullMask, v, off);
  return v;
}

// One warp per token; lane l holds experts l, l + 32, ... (kPerLane of them).
template <int kPerLane>
__global__ void gate_kernel(const float* __restrict__ logits, int tokens, int experts, int top_k, int* __restrict__ idx,
                            float* __restrict__ weight) {
  const int warp = static_cast<int>((static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32);
  const int lane = static_cast<int>(threadIdx.x % 32);
  if (warp >= tokens) return;
  const float* row = logits + static_cast<std::size_t>(warp) * experts;
  float v[kPerLane];
  float mx = -INFINITY;
#pragma unroll
  for (int i = 0; i < kPerLane; ++i) {
    const int e = lane + 32 * i;
    v[i] = e < experts ? row[e] : -INFINITY;
    mx = fmaxf(mx, v[i]);
  }
  mx = warp_max(mx);
  float sum = 0;
#pragma unroll
  for (int i = 0; i < kPerLane; ++i) {
    const int e = lane + 32 * i;
    v[i] = e < experts ? __expf(v[i] - mx) : -1.0f;  // -1 marks "not an expert" (probabilities >= 0)
    sum += e < experts ? v[i] : 0.0f;
  }
  sum = warp_sum(sum);
  for (int j = 0; j < top_k; ++j) {
    float best = -1.0f;
    int best_e = 0x7fffffff;
#pragma unroll
    for (int i = 0; i < kPerLane; ++i)
      if (v[i] > best) {
        best = v[i];
        best_e = lane + 32 * i;
      }
    for (int off = 16; off > 0; off >>= 1) {
      const float ob = __shfl_xor_sync(kFullMask, best, off);
      const int oe = __shfl_xor_sync(kFullMask, best_e, off);
      if (ob > best || (ob == best && oe < best_e)) {
        best = ob;
        best_e = oe;
      }
    }
    if (lane == 0) {
      idx[static_cast<std::size_t>(warp) * top_k + j] = best_e;
      weight[static_cast<std::size_t>(warp) * top_k + j] = best / sum;
    }
#pragma unroll
    for (int i = 0; i < kPerLane; ++i)
      if (lane + 32 * i == best_e) v[i] = -1.0f;
  }
}

__global__ void count_kernel(const int* __restrict__ idx, int n, int* __restrict__ counts) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i < n) atomicAdd(&counts[idx[i]], 1);
}

// Exclusive scan of counts[0..experts) into cursor (one block of 1024 threads, experts <= 1024).
__global__ void scan_kernel(const int* __restrict__ counts, int experts, int* __restrict__ cursor) {
  __shared__ int buf[1024];
  const int t = static_cast<int>(threadIdx.x);
  buf[t] = t < experts ? counts[t] : 0;
  __syncthreads();
  for (int off = 1; off < 1024; off <<= 1) {
    const int add = t >= off ? buf[t - off] : 0;
    __syncthreads();
    buf[t] += add;
    __syncthreads();
  }
  if (t < experts) cursor[t] = buf[t] - counts[t];
}

// One block per (token, slot) row: claim a row in the expert's region, copy hidden bf16 values.
__global__ void scatter_kernel(const uint4* __restrict__ x, const int* __restrict__ idx, int top_k, int vec_per_row,
                               int* __restrict__ cursor, int* __restrict__ row_map, uint4* __restrict__ out) {
  __shared__ int dst;
  const int r = static_cast<int>(blockIdx.x);  // (token, slot)
  if (threadIdx.x == 0) {
    dst = atomicAdd(&cursor[idx[r]], 1);
    row_map[r] = dst;
  }
  __syncthreads();
  const uint4* src = x + static_cast<std::size_t>(r / top_k) * vec_per_row;
  uint4* d = out + static_cast<std::size_t>(dst) * vec_per_row;
  for (int v = static_cast<int>(threadIdx.x); v < vec_per_row; v += blockDim.x) d[v] = src[v];
}

// One block per token: weighted sum of its top_k expert outputs, 8 bf16 per thread step.
__global__ void combine_kernel(const uint4* __restrict__ y, const int* __restrict__ row_map,
                               const float* __restrict__ weight, int top_k, int vec_per_row, uint4* __restrict__ out) {
  const int t = static_cast<int>(blockIdx.x);
  for (int v = static_cast<int>(threadIdx.x); v < vec_per_row; v += blockDim.x) {
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int j = 0; j < top_k; ++j) {
      const int row = row_map[static_cast<std::size_t>(t) * top_k + j];
      const float w = weight[static_cast<std::size_t>(t) * top_k + j];
      const uint4 raw = y[static_cast<std::size_t>(row) * vec_per_row + v];
      const __nv_bfloat162* h = reinterpret_cast<const __nv_bfloat162*>(&raw);
#pragma unroll
      for (int q = 0; q < 4; ++q) {
        const float2 f = __bfloat1622float2(h[q]);
        acc[2 * q] += w * f.x;
        acc[2 * q + 1] += w * f.y;
      }
    }
    uint4 res;
    __nv_bfloat162* o = reinterpret_cast<__nv_bfloat162*>(&res);
#pragma unroll
    for (int q = 0; q < 4; ++q) o[q] = __floats2bfloat162_rn(acc[2 * q], acc[2 * q + 1]);
    out[static_cast<std::size_t>(t) * vec_per_row + v] = res;
  }
}

unsigned blocks_for(std::size_t n, unsigned threads) {
  const std::size_t b = (n + threads - 1) / threads;
  return static_cast<unsigned>(b < 65535u * 16u ? (b == 0 ? 1 : b) : 65535u * 16u);
}

}  // namespace

cudaError_t fill_uniform(void* data, std::size_t count, FillType type, std::uint64_t seed, float scale,
                         cudaStream_t stream) {
  const unsigned threads = 256, blocks = blocks_for(count, threads);
  switch (type) {
    case FillType::F32:
      fill_kernel<<<blocks, threads, 0, stream>>>(static_cast<float*>(data), count, seed, scale);
      break;
    case FillType::BF16:
      fill_kernel<<<blocks, threads, 0, stream>>>(static_cast<__nv_bfloat16*>(data), count, seed, scale);
      break;
    case FillType::F16:
      fill_kernel<<<blocks, threads, 0, stream>>>(static_cast<__half*>(data), count, seed, scale);
      break;
    case FillType::FP8E4M3:
      fill_kernel<<<blocks, threads, 0, stream>>>(static_cast<__nv_fp8_e4m3*>(data), count, seed, scale);
      break;
  }
  return cudaGetLastError();
}

cudaError_t gpu_spin(long long cycles, cudaStream_t stream) {
  spin_kernel<<<1, 1, 0, stream>>>(cycles);
  return cudaGetLastError();
}

cudaError_t gate_softmax_topk(const float* logits, int tokens, int experts, int top_k, int* idx, float* weight,
                              cudaStream_t stream) {
  if (tokens < 1 || experts < 1 || experts > kMaxGateExperts || top_k < 1 || top_k > experts || top_k > kMaxTopK)
    return cudaErrorInvalidValue;
  const unsigned threads = 256;  // 8 tokens per block
  const unsigned blocks = static_cast<unsigned>((static_cast<std::size_t>(tokens) * 32 + threads - 1) / threads);
  if (experts <= 32)
    gate_kernel<1><<<blocks, threads, 0, stream>>>(logits, tokens, experts, top_k, idx, weight);
  else if (experts <= 64)
    gate_kernel<2><<<blocks, threads, 0, stream>>>(logits, tokens, experts, top_k, idx, weight);
  else if (experts <= 128)
    gate_kernel<4><<<blocks, threads, 0, stream>>>(logits, tokens, experts, top_k, idx, weight);
  else
    gate_kernel<8><<<blocks, threads, 0, stream>>>(logits, tokens, experts, top_k, idx, weight);
  return cudaGetLastError();
}

cudaError_t permute_tokens(const void* x_bf16, const int* idx, int tokens, int hidden, int experts, int top_k,
                           int* counts, int* cursor, int* row_map, void* permuted_bf16, cudaStream_t stream) {
  if (tokens < 1 || hidden % 8 != 0 || experts < 1 || experts > 1024 || top_k < 1 || top_k > kMaxTopK)
    return cudaErrorInvalidValue;
  const int rows = tokens * top_k;
  if (auto e = cudaMemsetAsync(counts, 0, sizeof(int) * static_cast<std::size_t>(experts), stream); e != cudaSuccess)
    return e;
  count_kernel<<<blocks_for(static_cast<std::size_t>(rows), 256), 256, 0, stream>>>(idx, rows, counts);
  scan_kernel<<<1, 1024, 0, stream>>>(counts, experts, cursor);
  scatter_kernel<<<static_cast<unsigned>(rows), 128, 0, stream>>>(static_cast<const uint4*>(x_bf16), idx, top_k,
                                                                    hidden / 8, cursor, row_map,
                                                                    static_cast<uint4*>(permuted_bf16));
  return cudaGetLastError();
}

cudaError_t unpermute_tokens(const void* permuted_bf16, const int* row_map, const float* weight, int tokens,
                             int hidden, int top_k, void* out_bf16, cudaStream_t stream) {
  if (tokens < 1 || hidden % 8 != 0 || top_k < 1 || top_k > kMaxTopK) return cudaErrorInvalidValue;
  combine_kernel<<<static_cast<unsigned>(tokens), 128, 0, stream>>>(static_cast<const uint4*>(permuted_bf16), row_map,
                                                                    weight, top_k, hidden / 8,
                                                                    static_cast<uint4*>(out_bf16));
  return cudaGetLastError();
}

}  // namespace moesim::bench
