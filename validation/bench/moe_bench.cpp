// Times the MoE layer's memory-bound kernels (moe_kernels.cu) over token counts, hidden sizes
// and (experts, top_k) pairs of public MoE models. KernelMeasurement.bytes counts the device
// memory each kernel must read and write at least:
//   gate_softmax_topk: logits T*E*4 + choices T*k*(4 + 4)
//   permute:           rows read and written 2*T*k*H*2 + idx read twice and row_map written T*k*4*3
//   unpermute:         rows read T*k*H*2 + output T*H*2 + row_map and weights T*k*(4 + 4)
#include <cuda_runtime_api.h>

#include <fmt/format.h>

#include "validation/bench/bench_common.h"
#include "validation/bench/moe_kernels.h"

namespace moesim::bench {

void run_moe_kernel_bench(const Options& o, int device, validation::MeasurementSet& out) {
  MOESIM_BENCH_CUDA(cudaSetDevice(device));
  int clock_kHz = 0;
  MOESIM_BENCH_CUDA(cudaDeviceGetAttribute(&clock_kHz, cudaDevAttrClockRate, device));
  Stream stream;
  const TimingPlan plan{.warmup = 3, .reps = o.quick ? 5 : 10, .target_sample_us = o.quick ? 300.0 : 1000.0,
                        .max_iterations = 1000};
  // (experts, top_k): Switch/GShard-style (8, 2), Mixtral (8, 2) / DBRX-like (16, 4),
  // fine-grained (64, 8), DeepSeek-V3 (256, 8).
  const std::vector<std::pair<int, int>> routing =
      o.quick ? std::vector<std::pair<int, int>>{{64, 8}} : std::vector<std::pair<int, int>>{{8, 2}, {16, 4}, {64, 8}, {256, 8}};
  const std::vector<int> token_counts = o.quick ? std::vector<int>{4096} : std::vector<int>{1024, 4096, 16384};
  const std::vector<int> hiddens = o.quick ? std::vector<int>{4096} : std::vector<int>{2048, 4096, 7168};
  int measured = 0;

  for (const auto& [experts, top_k] : routing) {
    for (const int tokens : token_counts) {
      const auto T = static_cast<std::int64_t>(tokens), E = static_cast<std::int64_t>(experts),
                 K = static_cast<std::int64_t>(top_k);
      try {
        DeviceBuffer logits(static_cast<std::size_t>(T * E) * 4), idx(static_cast<std::size_t>(T * K) * 4),
            weight(static_cast<std::size_t>(T * K) * 4), counts(static_cast<std::size_t>(E) * 4),
            cursor(static_cast<std::size_t>(E) * 4), row_map(static_cast<std::size_t>(T * K) * 4);
        MOESIM_BENCH_CUDA(fill_uniform(logits.get(), static_cast<std::size_t>(T * E), FillType::F32, 3, 4.0f, stream.get()));
        auto gate = [&] {
          MOESIM_BENCH_CUDA(gate_softmax_topk(logits.as<float>(), tokens, experts, top_k, idx.as<int>(),
                                              weight.as<float>(), stream.get()));
        };
        const auto tg = time_on_stream(stream.get(), gate, plan, clock_kHz);
        out.kernels.push_back({.name = "gate_softmax_topk",
                               .params = {{"tokens", T}, {"experts", E}, {"top_k", K}},
                               .bytes = T * E * 4 + T * K * 8,
                               .time_us = tg.median_us(),
                               .spread = tg.spread(),
                               .reps = static_cast<int>(tg.samples_us.size())});
        ++measured;
        progress(o, fmt::format("gate_softmax_topk T={} E={} k={}: {:.2f} us", tokens, experts, top_k, tg.median_us()));

        for (const int hidden : hiddens) {
          const auto H = static_cast<std::int64_t>(hidden);
          DeviceBuffer x(static_cast<std::size_t>(T * H) * 2), permuted(static_cast<std::size_t>(T * K * H) * 2),
              combined(static_cast<std::size_t>(T * H) * 2);
          MOESIM_BENCH_CUDA(fill_uniform(x.get(), static_cast<std::size_t>(T * H), FillType::BF16, 5, 1.0f, stream.get()));
          auto permute = [&] {
            MOESIM_BENCH_CUDA(permute_tokens(x.get(), idx.as<int>(), tokens, hidden, experts, top_k, counts.as<int>(),
                                             cursor.as<int>(), row_map.as<int>(), permuted.get(), stream.get()));
          };
          const auto tp = time_on_stream(stream.get(), permute, plan, clock_kHz);
          auto unpermute = [&] {
            MOESIM_BENCH_CUDA(unpermute_tokens(permuted.get(), row_map.as<int>(), weight.as<float>(), tokens, hidden,
                                               top_k, combined.get(), stream.get()));
          };
          const auto tu = time_on_stream(stream.get(), unpermute, plan, clock_kHz);
          const std::map<std::string, std::int64_t> params = {{"tokens", T}, {"experts", E}, {"top_k", K}, {"hidden", H}};
          out.kernels.push_back({.name = "permute",
                                 .params = params,
                                 .bytes = 2 * T * K * H * 2 + T * K * 12,
                                 .time_us = tp.median_us(),
                                 .spread = tp.spread(),
                                 .reps = static_cast<int>(tp.samples_us.size())});
          out.kernels.push_back({.name = "unpermute",
                                 .params = params,
                                 .bytes = T * K * H * 2 + T * H * 2 + T * K * 8,
                                 .time_us = tu.median_us(),
                                 .spread = tu.spread(),
                                 .reps = static_cast<int>(tu.samples_us.size())});
          measured += 2;
          progress(o, fmt::format("permute / unpermute T={} E={} k={} H={}: {:.2f} / {:.2f} us", tokens, experts, top_k,
                                  hidden, tp.median_us(), tu.median_us()));
        }
      } catch (const BenchError& e) {
        out.notes.push_back(fmt::format("moe kernels E={} k={} T={}: skipped: {}", experts, top_k, tokens, e.what()));
      }
    }
  }
  if (measured == 0) throw BenchError("moe kernels: nothing could be measured (see notes)");
}

}  // namespace moesim::bench
