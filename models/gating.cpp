#include "models/gating.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>

#include "sim/error.h"

namespace moesim {
namespace {

constexpr int kMaxRejections = 64;

bool contains(std::span<const std::uint16_t> v, int e) {
  for (auto x : v)
    if (x == e) return true;
  return false;
}

bool in_ranges(std::span<const ExpertRange> ranges, int e) {
  for (const auto& r : ranges)
    if (e >= r.begin && e < r.end) return true;
  return false;
}

std::vector<int> identity(int n) {
  std::vector<int> p(static_cast<std::size_t>(n));
  std::iota(p.begin(), p.end(), 0);
  return p;
}

void shuffle(std::vector<int>& p, Rng& rng) {  // Fisher-Yates
  for (std::size_t i = p.size(); i > 1; --i) std::swap(p[i - 1], p[rng.below(static_cast<std::uint32_t>(i))]);
}

// perm[r] = expert id of popularity rank r (zipf, correlated), or the id measured expert r
// maps to (histogram). See GatingSpec::drift.
std::vector<int> popularity_permutation(const GatingSpec& g, int experts, int layer, std::uint64_t seed) {
  const bool measured = g.distribution == GatingKind::Histogram;
  auto start = [&](int l) {
    auto p = identity(experts);
    if (!measured) {
      Rng rng(stream_seed(seed, "gating/permutation", static_cast<std::uint64_t>(l)));
      shuffle(p, rng);
    }
    return p;
  };
  if (!g.drift) return start(layer);
  auto p = start(0);
  const auto swaps = static_cast<std::int64_t>(std::llround(*g.drift * experts / 2.0));
  for (int l = 1; l <= layer; ++l) {
    Rng rng(stream_seed(seed, "gating/drift", static_cast<std::uint64_t>(l)));
    for (std::int64_t s = 0; s < swaps; ++s) {
      const auto a = rng.below(static_cast<std::uint32_t>(experts));
      const auto b = rng.below(static_cast<std::uint32_t>(experts));
      std::swap(p[a], p[b]);
    }
  }
  return p;
}

void normalize(std::span<double> w) {
  double total = 0;
  for (double x : w) total += x;
  MOESIM_CHECK(total > 0, "gate distribution has no positive weight");
  for (double& x : w) x /= total;
}

std::vector<double> zipf_weights(double exponent, const std::vector<int>& perm) {
  // Normalised in rank order, so every permutation gives bit-identical weight values.
  std::vector<double> by_rank(perm.size());
  for (std::size_t r = 0; r < perm.size(); ++r) by_rank[r] = std::pow(static_cast<double>(r + 1), -exponent);
  normalize(by_rank);
  std::vector<double> w(perm.size());
  for (std::size_t r = 0; r < perm.size(); ++r) w[static_cast<std::size_t>(perm[r])] = by_rank[r];
  return w;
}

// Rows of gate weights and, per GPU, which row it uses.
struct Distributions {
  std::vector<double> weights;  // [row][expert]
  std::vector<std::uint32_t> row_of_gpu;
  int rows = 0;
};

Distributions make_distributions(const ModelConfig& model, const ExpertLayout& layout, int layer, std::uint64_t seed) {
  const GatingSpec& g = model.gating;
  const int experts = layout.num_experts;
  const int gpus = layout.cluster.gpus();
  Distributions d;
  d.row_of_gpu.assign(static_cast<std::size_t>(gpus), 0);
  const auto perm = popularity_permutation(g, experts, layer, seed);
  switch (g.distribution) {
    case GatingKind::Uniform:
      d.weights.assign(static_cast<std::size_t>(experts), 1.0 / experts);
      d.rows = 1;
      break;
    case GatingKind::Zipf:
      d.weights = zipf_weights(g.exponent, perm);
      d.rows = 1;
      break;
    case GatingKind::Histogram: {
      const auto& h = g.histogram[static_cast<std::size_t>(layer) % g.histogram.size()];
      d.weights.assign(static_cast<std::size_t>(experts), 0.0);
      for (std::size_t i = 0; i < h.size(); ++i) d.weights[static_cast<std::size_t>(perm[i])] = h[i];
      normalize(d.weights);
      d.rows = 1;
      break;
    }
    case GatingKind::Correlated: {
      const auto base = zipf_weights(g.exponent, perm);
      d.rows = gpus;
      d.weights.resize(static_cast<std::size_t>(gpus) * static_cast<std::size_t>(experts));
      const double share = g.strength / g.preferred_experts;
      for (int gpu = 0; gpu < gpus; ++gpu) {
        std::span<double> w(d.weights.data() + static_cast<std::size_t>(gpu) * static_cast<std::size_t>(experts),
                            static_cast<std::size_t>(experts));
        for (std::size_t e = 0; e < w.size(); ++e) w[e] = (1 - g.strength) * base[e];
        // The GPU's preferred experts: a seeded partial Fisher-Yates draw, mapped through the
        // layer's popularity permutation so preferences change with the layer like popularity.
        auto ids = identity(experts);
        Rng rng(stream_seed(seed, "gating/preference", static_cast<std::uint64_t>(gpu)));
        for (int i = 0; i < g.preferred_experts; ++i) {
          const auto j = static_cast<std::size_t>(i) + rng.below(static_cast<std::uint32_t>(experts - i));
          std::swap(ids[static_cast<std::size_t>(i)], ids[j]);
          w[static_cast<std::size_t>(perm[static_cast<std::size_t>(ids[static_cast<std::size_t>(i)])])] += share;
        }
        normalize(w);
        d.row_of_gpu[static_cast<std::size_t>(gpu)] = static_cast<std::uint32_t>(gpu);
      }
      break;
    }
  }
  return d;
}

// Defined below with the other restricted draws.
int exact_draw_in_ranges(std::span<const double> w, std::span<const ExpertRange> ranges, std::span<const std::uint16_t> taken,
                         Rng& rng);

}  // namespace

std::vector<std::int64_t> GatingSample::counts(int gpu, int k) const {
  MOESIM_CHECK(k >= 0 && k <= depth_, "counts over {} choices of {}", k, depth_);
  std::vector<std::int64_t> c(static_cast<std::size_t>(experts_), 0);
  const auto ch = choices(gpu);
  for (int t = 0; t < tokens_; ++t)
    for (int j = 0; j < k; ++j) ++c[ch[static_cast<std::size_t>(t * depth_ + j)]];
  return c;
}

std::vector<double> gate_distribution(const ModelConfig& model, const ExpertLayout& layout, int layer,
                                      std::uint64_t seed, int gpu) {
  const auto d = make_distributions(model, layout, layer, seed);
  const auto r = static_cast<std::size_t>(d.row_of_gpu.at(static_cast<std::size_t>(gpu)));
  const auto e = static_cast<std::size_t>(layout.num_experts);
  return {d.weights.begin() + static_cast<std::ptrdiff_t>(r * e), d.weights.begin() + static_cast<std::ptrdiff_t>((r + 1) * e)};
}

GatingSample sample_gating(const ModelConfig& model, const ExpertLayout& layout, int layer, std::uint64_t seed) {
  if (layer < 0 || layer >= model.layers)
    throw InputError(fmt::format("layer {} is out of range: model {} has layers 0..{}", layer, model.name, model.layers - 1));
  GatingSample s;
  s.layer_ = layer;
  s.seed_ = seed;
  s.gpus_ = layout.cluster.gpus();
  s.tokens_ = model.tokens_per_gpu;
  s.depth_ = model.top_k;
  s.experts_ = layout.num_experts;
  MOESIM_CHECK(s.experts_ <= 65536 && s.depth_ <= s.experts_, "{} experts, top-{}", s.experts_, s.depth_);

  auto d = make_distributions(model, layout, layer, seed);
  s.weights_ = std::move(d.weights);
  s.row_of_gpu_ = std::move(d.row_of_gpu);
  const auto E = static_cast<std::size_t>(s.experts_);
  s.cdf_.resize(static_cast<std::size_t>(d.rows) * (E + 1));
  std::vector<AliasTable> alias;
  alias.reserve(static_cast<std::size_t>(d.rows));
  for (std::size_t r = 0; r < static_cast<std::size_t>(d.rows); ++r) {
    std::span<const double> w(s.weights_.data() + r * E, E);
    double* c = s.cdf_.data() + r * (E + 1);
    c[0] = 0;
    for (std::size_t e = 0; e < E; ++e) c[e + 1] = c[e] + w[e];
    alias.emplace_back(w);
  }

  const bool uniform = model.gating.distribution == GatingKind::Uniform;
  s.uniform_ = uniform;
  const int k = s.depth_;
  s.choices_.resize(static_cast<std::size_t>(s.gpus_) * static_cast<std::size_t>(s.tokens_) * static_cast<std::size_t>(k));
  for (int gpu = 0; gpu < s.gpus_; ++gpu) {
    Rng rng(stream_seed(seed, "gating", static_cast<std::uint64_t>(layer), static_cast<std::uint64_t>(gpu)));
    const auto& table = alias[s.row_of_gpu_[static_cast<std::size_t>(gpu)]];
    const auto w = s.weights(gpu);
    std::uint16_t* out = s.choices_.data() + static_cast<std::size_t>(gpu) * static_cast<std::size_t>(s.tokens_) * static_cast<std::size_t>(k);
    for (int t = 0; t < s.tokens_; ++t, out += k) {
      for (int j = 0; j < k; ++j) {
        const std::span<const std::uint16_t> chosen(out, static_cast<std::size_t>(j));
        int e = -1;
        for (int tries = 0; tries < kMaxRejections; ++tries) {
          const int c = uniform ? static_cast<int>(rng.below(static_cast<std::uint32_t>(s.experts_)))
                                : static_cast<int>(table.sample(rng));
          if (!contains(chosen, c)) {
            e = c;
            break;
          }
        }
        if (e < 0) {
          const ExpertRange everything[] = {{0, s.experts_}};
          e = exact_draw_in_ranges(w, everything, chosen, rng);
        }
        out[j] = static_cast<std::uint16_t>(e);
      }
    }
  }
  return s;
}

namespace {

// Masses of the ranges under `cdf` (at most kMaxRanges ranges; larger unions are rare and
// take the exact path).
constexpr std::size_t kMaxRanges = 32;
constexpr std::size_t kSmallSet = 64;
struct RangeMasses {
  std::array<double, kMaxRanges> mass{};
  double total = 0;
  bool usable = false;
};

RangeMasses range_masses(std::span<const double> cdf, std::span<const ExpertRange> ranges) {
  RangeMasses m;
  if (ranges.size() > kMaxRanges) return m;
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    m.mass[i] = cdf[static_cast<std::size_t>(ranges[i].end)] - cdf[static_cast<std::size_t>(ranges[i].begin)];
    m.total += m.mass[i];
  }
  m.usable = m.total > 0;
  return m;
}

// Rejection sampling from the weights restricted to the ranges, avoiding `taken`; -1 after
// kMaxRejections misses. O(|ranges| + log E) per try.
int draw_in_ranges(std::span<const double> cdf, std::span<const ExpertRange> ranges, const RangeMasses& m,
                   std::span<const std::uint16_t> taken, Rng& rng) {
  if (!m.usable) return -1;
  for (int tries = 0; tries < kMaxRejections; ++tries) {
    double u = rng.uniform() * m.total;
    std::size_t r = 0;
    while (r + 1 < ranges.size() && u >= m.mass[r]) u -= m.mass[r++];
    if (m.mass[r] <= 0) continue;
    const auto first = cdf.begin() + ranges[r].begin + 1;
    const auto last = cdf.begin() + ranges[r].end + 1;
    int e = static_cast<int>(std::upper_bound(first, last, cdf[static_cast<std::size_t>(ranges[r].begin)] + u) - cdf.begin()) - 1;
    e = std::clamp(e, ranges[r].begin, ranges[r].end - 1);
    if (cdf[static_cast<std::size_t>(e) + 1] > cdf[static_cast<std::size_t>(e)] && !contains(taken, e)) return e;
  }
  return -1;
}

// Exact draw over the ranges minus `taken` (uniform among them when all remaining weights
// are zero); -1 when nothing remains. O(total range size x |taken|).
int exact_draw_in_ranges(std::span<const double> w, std::span<const ExpertRange> ranges, std::span<const std::uint16_t> taken,
                         Rng& rng) {
  double rest = 0;
  int remaining = 0;
  for (const auto& r : ranges)
    for (int e = r.begin; e < r.end; ++e)
      if (!contains(taken, e)) {
        rest += w[static_cast<std::size_t>(e)];
        ++remaining;
      }
  if (remaining == 0) return -1;
  if (rest > 0) {
    const double u = rng.uniform() * rest;
    double acc = 0;
    int last = -1;
    for (const auto& r : ranges)
      for (int e = r.begin; e < r.end; ++e) {
        if (contains(taken, e) || w[static_cast<std::size_t>(e)] <= 0) continue;
        acc += w[static_cast<std::size_t>(e)];
        last = e;
        if (u < acc) return e;
      }
    return last;
  }
  auto pick = rng.below(static_cast<std::uint32_t>(remaining));
  for (const auto& r : ranges)
    for (int e = r.begin; e < r.end; ++e)
      if (!contains(taken, e) && pick-- == 0) return e;
  return -1;
}

// Total size of the ranges.
std::size_t set_size(std::span<const ExpertRange> ranges) {
  std::size_t n = 0;
  for (const auto& r : ranges) n += static_cast<std::size_t>(r.end - r.begin);
  return n;
}

// Up to k exact sequential draws from a set of at most kSmallSet experts (the ranges minus
// `taken`) into `out`; returns how many. Cost O(|set| + |taken| |ranges| + k |set|), no
// rejection, so it is also the fast answer when the set is (nearly) exhausted.
int draw_small_set(const GatingSample& sample, int gpu, std::span<const ExpertRange> ranges,
                   std::span<const std::uint16_t> taken, int k, std::uint16_t* out, Rng& rng) {
  // Bit i of `taken_bits` = the i-th expert of the set (ranges in order) is taken.
  std::uint64_t taken_bits = 0;
  for (auto e : taken) {
    std::size_t off = 0;
    for (const auto& r : ranges) {
      if (e >= r.begin && e < r.end) {
        taken_bits |= std::uint64_t{1} << (off + static_cast<std::size_t>(e - r.begin));
        break;
      }
      off += static_cast<std::size_t>(r.end - r.begin);
    }
  }
  const auto w = sample.weights(gpu);
  std::array<std::uint16_t, kSmallSet> cand;  // scratch: written before read
  std::array<double, kSmallSet> cw;
  std::size_t m = 0, bit = 0;
  for (const auto& r : ranges)
    for (int e = r.begin; e < r.end; ++e, ++bit)
      if (!((taken_bits >> bit) & 1)) {
        cand[m] = static_cast<std::uint16_t>(e);
        cw[m++] = w[static_cast<std::size_t>(e)];
      }
  int n = 0;
  while (n < k && m > 0) {
    std::size_t pick = 0;
    double total = 0;
    if (!sample.uniform())
      for (std::size_t i = 0; i < m; ++i) total += cw[i];
    if (total > 0) {
      const double u = rng.uniform() * total;
      double acc = 0;
      pick = m;
      for (std::size_t i = 0; i < m && pick == m; ++i) {
        acc += cw[i];
        if (u < acc && cw[i] > 0) pick = i;
      }
      if (pick == m)  // rounding at the top end: the last positive weight
        for (pick = m - 1; cw[pick] <= 0; --pick) {}
    } else {
      pick = rng.below(static_cast<std::uint32_t>(m));  // equal (or all-zero) weights
    }
    out[n++] = cand[pick];
    cand[pick] = cand[m - 1];
    cw[pick] = cw[m - 1];
    --m;
  }
  return n;
}

}  // namespace

int continue_ranking(const GatingSample& sample, int gpu, std::span<const ExpertRange> ranges,
                     std::span<const std::uint16_t> taken, Rng& rng) {
  const std::size_t size = set_size(ranges);
  if (size == 1)  // one expert (ta-moe's rank with one expert): it, unless already taken
    for (const auto& r : ranges)
      if (r.end > r.begin) return contains(taken, r.begin) ? -1 : r.begin;
  if (size <= kSmallSet) {
    std::uint16_t e = 0;
    return draw_small_set(sample, gpu, ranges, taken, 1, &e, rng) == 1 ? e : -1;
  }
  const auto cdf = sample.cdf(gpu);
  const int e = draw_in_ranges(cdf, ranges, range_masses(cdf, ranges), taken, rng);
  return e >= 0 ? e : exact_draw_in_ranges(sample.weights(gpu), ranges, taken, rng);
}

int restricted_choices(const GatingSample& sample, int gpu, int t, std::span<const ExpertRange> ranges, int k,
                       std::span<std::uint16_t> out, Rng& rng) {
  MOESIM_CHECK(static_cast<int>(out.size()) >= k, "output of {} for {} choices", out.size(), k);
  const auto stored = sample.token(gpu, t);
  int n = 0;
  for (auto c : stored)
    if (n < k && in_ranges(ranges, c)) out[static_cast<std::size_t>(n++)] = c;
  if (n == k) return n;
  // The stored choices are the ranking prefix already consumed: never drawn again.
  if (set_size(ranges) <= kSmallSet) return n + draw_small_set(sample, gpu, ranges, stored, k - n, out.data() + n, rng);
  std::array<std::uint16_t, 128> small;  // scratch: written before read
  std::vector<std::uint16_t> large;
  const std::size_t need = stored.size() + static_cast<std::size_t>(k);
  const std::span<std::uint16_t> taken = need <= small.size() ? std::span<std::uint16_t>(small) : (large.resize(need), std::span<std::uint16_t>(large));
  std::copy(stored.begin(), stored.end(), taken.begin());
  std::size_t used = stored.size();
  const auto cdf = sample.cdf(gpu);
  const auto masses = range_masses(cdf, ranges);  // once per token
  while (n < k) {
    int e = draw_in_ranges(cdf, ranges, masses, taken.first(used), rng);
    if (e < 0) e = exact_draw_in_ranges(sample.weights(gpu), ranges, taken.first(used), rng);
    if (e < 0) break;
    out[static_cast<std::size_t>(n++)] = static_cast<std::uint16_t>(e);
    taken[used++] = static_cast<std::uint16_t>(e);
  }
  return n;
}

}  // namespace moesim
