#pragma once
// Seeded gate decisions (routing-strategies.md: the simulator does not train; it samples the
// gate's decisions from a distribution).
//
// Gate model. Every GPU g has a gate distribution w_g over the E experts of its EP group
// (uniform, Zipf, per-GPU correlated preference, or a measured histogram; see
// docs/MODELS.md). Each token's preference over experts is a Plackett-Luce ranking with
// weights w_g: its first choice is drawn from w_g, its second from w_g without the first, and
// so on. The sample stores each token's first `depth` = top_k choices.
//
// Why Plackett-Luce: restricting a PL ranking to a subset A of experts gives a PL ranking on A
// with the same weights. So a strategy that limits a token to A (its node's experts, M nodes,
// one GPU) gets the token's constrained choices exactly as: its stored choices that lie in A,
// in order, then continue_ranking() draws from w_g restricted to A without those already
// taken. Constrained and unconstrained choices are thus consistent for every token, and
// counting "tokens that did not get their unconstrained top-k" is meaningful.
//
// Random streams: token choices of GPU g at layer l use stream_seed(seed, "gating", l, g);
// popularity permutations use "gating/permutation" and "gating/drift"; correlated preference
// subsets use "gating/preference". Results are byte-identical for a seed on every platform.
//
// Cost: O(E) per GPU to build the distribution and an alias table, then O(k) expected per
// token (rejection of repeats; exact O(E) fallback after 64 rejections). Memory: 2 bytes per
// (token, choice) plus 16 bytes per (GPU, expert) for correlated gating (8 otherwise: one
// row shared by all GPUs). Measured on a loaded 2-core VM: 128 GPUs x 4096 tokens x 12
// layers (top-1 over 128) in 12-26 ms; one layer of 1024 GPUs x 4096 tokens x top-8 over 256
// experts in 0.34-0.6 s and 64 MiB.
#include <cstdint>
#include <span>
#include <vector>

#include "models/model_config.h"
#include "models/random.h"

namespace moesim {

/// Group-local expert ids [begin, end).
struct ExpertRange {
  int begin = 0;
  int end = 0;
};

/// One layer's gate decisions for every GPU of the cluster.
class GatingSample {
 public:
  int layer() const { return layer_; }
  std::uint64_t seed() const { return seed_; }
  int gpus() const { return gpus_; }
  int tokens_per_gpu() const { return tokens_; }
  /// Choices stored per token (the model's top_k).
  int depth() const { return depth_; }
  /// Experts per EP group (ids are group-local: 0..E-1).
  int experts() const { return experts_; }

  /// tokens_per_gpu x depth expert ids of `gpu`'s tokens, token-major, best first.
  std::span<const std::uint16_t> choices(int gpu) const {
    const auto n = static_cast<std::size_t>(tokens_) * static_cast<std::size_t>(depth_);
    return std::span<const std::uint16_t>(choices_).subspan(static_cast<std::size_t>(gpu) * n, n);
  }
  std::span<const std::uint16_t> token(int gpu, int t) const {
    return choices(gpu).subspan(static_cast<std::size_t>(t) * static_cast<std::size_t>(depth_),
                                static_cast<std::size_t>(depth_));
  }
  /// The gate distribution of `gpu` (sums to 1).
  std::span<const double> weights(int gpu) const { return row(weights_, gpu, experts_); }
  /// Prefix sums of weights(gpu): E + 1 entries, cdf[0] = 0.
  std::span<const double> cdf(int gpu) const { return row(cdf_, gpu, experts_ + 1); }
  /// True when every GPU's gate distribution is uniform (1/E each).
  bool uniform() const { return uniform_; }
  /// How many of `gpu`'s tokens chose each expert among their first `k` (<= depth) choices.
  std::vector<std::int64_t> counts(int gpu, int k) const;

  bool operator==(const GatingSample&) const = default;

 private:
  friend GatingSample sample_gating(const ModelConfig&, const ExpertLayout&, int, std::uint64_t);
  std::span<const double> row(const std::vector<double>& v, int gpu, int width) const {
    const auto r = static_cast<std::size_t>(row_of_gpu_[static_cast<std::size_t>(gpu)]);
    return std::span<const double>(v).subspan(r * static_cast<std::size_t>(width), static_cast<std::size_t>(width));
  }

  int layer_ = 0;
  std::uint64_t seed_ = 0;
  int gpus_ = 0;
  int tokens_ = 0;
  int depth_ = 0;
  int experts_ = 0;
  bool uniform_ = false;
  std::vector<std::uint16_t> choices_;   // [gpu][token][depth]
  std::vector<double> weights_;          // [row][expert]
  std::vector<double> cdf_;              // [row][expert + 1]
  std::vector<std::uint32_t> row_of_gpu_;
};

/// Samples layer `layer`'s gate decisions for every GPU. Throws InputError when `layer` is
/// out of range.
GatingSample sample_gating(const ModelConfig& model, const ExpertLayout& layout, int layer, std::uint64_t seed);

/// The gate distribution of `gpu` at `layer` (what sample_gating draws from); for tests and
/// reports.
std::vector<double> gate_distribution(const ModelConfig& model, const ExpertLayout& layout, int layer,
                                      std::uint64_t seed, int gpu);

/// The next expert of a token's ranking restricted to the union of `ranges`, never one in
/// `taken` (the token's stored choices and anything drawn before). Draws from
/// weights(gpu) restricted to the ranges minus `taken`; returns -1 when that set is empty.
/// Expected O(log E) (binary search in the cdf); O(|ranges|) extra per rejection.
int continue_ranking(const GatingSample& sample, int gpu, std::span<const ExpertRange> ranges,
                     std::span<const std::uint16_t> taken, Rng& rng);

/// Fills `out` with the token's first `k` choices restricted to `ranges` (exact
/// Plackett-Luce restriction: stored choices inside the ranges first, then continued draws).
/// Returns how many it found (< k only when the ranges hold fewer than k experts).
int restricted_choices(const GatingSample& sample, int gpu, int t, std::span<const ExpertRange> ranges, int k,
                       std::span<std::uint16_t> out, Rng& rng);

}  // namespace moesim
