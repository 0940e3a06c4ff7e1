#include "models/gating.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "sim/error.h"
#include "test_models.h"

namespace moesim {
namespace {

using testing::small_model;

const ClusterShape k4x8{.nodes = 4, .gpus_per_node = 8};

TEST(Gating, SameSeedGivesIdenticalSamplesAndAnotherSeedDifferentOnes) {
  const auto m = small_model({{"gating", {{"distribution", "zipf"}, {"params", {{"exponent", 1.0}}}}}});
  const auto layout = make_expert_layout(m, k4x8);
  const auto a = sample_gating(m, layout, 2, 7);
  const auto b = sample_gating(m, layout, 2, 7);
  const auto c = sample_gating(m, layout, 2, 8);
  EXPECT_EQ(a, b);
  EXPECT_FALSE(a == c);
  EXPECT_FALSE(std::equal(a.choices(0).begin(), a.choices(0).end(), c.choices(0).begin()));
}

TEST(Gating, EveryTokenGetsTopKDistinctExperts) {
  const auto m = small_model({{"top_k", 4}, {"gating", {{"distribution", "zipf"}, {"params", {{"exponent", 2.0}}}}}});
  const auto layout = make_expert_layout(m, k4x8);
  const auto s = sample_gating(m, layout, 0, 3);
  ASSERT_EQ(s.depth(), 4);
  for (int g = 0; g < s.gpus(); ++g)
    for (int t = 0; t < s.tokens_per_gpu(); ++t) {
      auto tok = s.token(g, t);
      std::vector<int> v(tok.begin(), tok.end());
      std::sort(v.begin(), v.end());
      ASSERT_TRUE(std::adjacent_find(v.begin(), v.end()) == v.end());
      ASSERT_LT(v.back(), 32);
    }
}

// Uniform top-1 over 32 experts, 32 GPUs x 512 tokens = 16384 draws: each expert's count is
// Binomial(16384, 1/32): mean 512, sd sqrt(16384 / 32 * 31 / 32) = 22.3; 6 sd = 134.
TEST(Gating, UniformSpreadsFirstChoicesEvenly) {
  const auto m = small_model({{"top_k", 1}});
  const auto layout = make_expert_layout(m, k4x8);
  const auto s = sample_gating(m, layout, 0, 1);
  std::vector<std::int64_t> total(32, 0);
  for (int g = 0; g < 32; ++g) {
    const auto c = s.counts(g, 1);
    for (int e = 0; e < 32; ++e) total[e] += c[e];
  }
  for (auto x : total) EXPECT_NEAR(static_cast<double>(x), 512, 134);
}

// Zipf exponent s: sorted weights are proportional to 1/r^s, so w(1)/w(2) = 2^s and
// w(1)/w(4) = 4^s; with s = 1 over 32 experts, w(1) = 1/H_32 = 1/4.0585 = 0.2464.
TEST(Gating, ZipfWeightsFollowThePowerLaw) {
  const auto m = small_model({{"gating", {{"distribution", "zipf"}, {"params", {{"exponent", 1.0}}}}}});
  const auto layout = make_expert_layout(m, k4x8);
  auto w = gate_distribution(m, layout, 0, 5, 0);
  std::sort(w.begin(), w.end(), std::greater<>());
  EXPECT_NEAR(w[0] / w[1], 2.0, 1e-12);
  EXPECT_NEAR(w[0] / w[3], 4.0, 1e-12);
  EXPECT_NEAR(w[0], 0.24639, 1e-4);
  // First choices of 16384 tokens: the top expert's share ~ 0.2464 (sd 0.0034); 5 sd = 0.017.
  const auto s = sample_gating(m, layout, 0, 5);
  const auto pw = gate_distribution(m, layout, 0, 5, 0);
  const int top = static_cast<int>(std::max_element(pw.begin(), pw.end()) - pw.begin());
  double hits = 0;
  for (int g = 0; g < 32; ++g) hits += static_cast<double>(s.counts(g, 1)[top]);
  EXPECT_NEAR(hits / (32 * 512), 0.2464, 0.017);
}

// Correlated, exponent 0, 4 preferred experts, strength 0.6: preferred weight
// 0.4 / 32 + 0.6 / 4 = 0.1625, others 0.4 / 32 = 0.0125; GPUs prefer different experts.
TEST(Gating, CorrelatedGpusPutStrengthOnTheirPreferredExperts) {
  const auto m = small_model({{"gating", {{"distribution", "correlated"}, {"params", {{"preferred_experts", 4}, {"strength", 0.6}}}}}});
  const auto layout = make_expert_layout(m, k4x8);
  const auto w0 = gate_distribution(m, layout, 0, 9, 0);
  const auto w1 = gate_distribution(m, layout, 0, 9, 1);
  EXPECT_EQ(std::count_if(w0.begin(), w0.end(), [](double x) { return std::abs(x - 0.1625) < 1e-12; }), 4);
  EXPECT_EQ(std::count_if(w0.begin(), w0.end(), [](double x) { return std::abs(x - 0.0125) < 1e-12; }), 28);
  EXPECT_NE(w0, w1);
}

TEST(Gating, HistogramWeightsAreTheNormalisedCountsPerLayer) {
  nlohmann::json l0 = nlohmann::json::array(), l1 = nlohmann::json::array();
  for (int e = 0; e < 32; ++e) {
    l0.push_back(e < 16 ? 3 : 1);
    l1.push_back(1);
  }
  const auto m = small_model({{"gating", {{"distribution", "histogram"}, {"params", {{"layers", {l0, l1}}}}}}});
  const auto layout = make_expert_layout(m, k4x8);
  const auto w0 = gate_distribution(m, layout, 0, 1, 3);  // 16*3 + 16 = 64: 3/64 and 1/64
  EXPECT_DOUBLE_EQ(w0[0], 3.0 / 64);
  EXPECT_DOUBLE_EQ(w0[31], 1.0 / 64);
  EXPECT_DOUBLE_EQ(gate_distribution(m, layout, 1, 1, 3)[0], 1.0 / 32);
  EXPECT_DOUBLE_EQ(gate_distribution(m, layout, 2, 1, 3)[0], 3.0 / 64);  // rows cycle
}

// Drift d over E experts applies round(d E / 2) swaps per layer: with d = 0.125 and E = 32,
// 2 swaps, so at most 4 experts change weight between consecutive layers. drift 0 keeps the
// permutation; no drift draws independent permutations (almost surely > 4 changes).
TEST(Gating, DriftChangesPopularityGraduallyFromLayerToLayer) {
  auto changed = [](const std::vector<double>& a, const std::vector<double>& b) {
    int n = 0;
    for (std::size_t i = 0; i < a.size(); ++i) n += a[i] != b[i];
    return n;
  };
  auto weights = [](const ModelConfig& m, int layer) { return gate_distribution(m, make_expert_layout(m, k4x8), layer, 4, 0); };
  const auto drift = small_model({{"gating", {{"distribution", "zipf"}, {"params", {{"exponent", 1.0}, {"drift", 0.125}}}}}});
  const auto still = small_model({{"gating", {{"distribution", "zipf"}, {"params", {{"exponent", 1.0}, {"drift", 0.0}}}}}});
  const auto fresh = small_model({{"gating", {{"distribution", "zipf"}, {"params", {{"exponent", 1.0}}}}}});
  int total = 0;
  for (int l = 1; l < 4; ++l) {
    const int n = changed(weights(drift, l - 1), weights(drift, l));
    EXPECT_LE(n, 4);
    total += n;
    EXPECT_EQ(weights(still, l), weights(still, 0));
    EXPECT_GT(changed(weights(fresh, l - 1), weights(fresh, l)), 4);
  }
  EXPECT_GT(total, 0);
}

// Plackett-Luce restriction: the next choice inside a range follows the weights restricted
// to the range minus the taken experts. Zipf s = 1 restricted to experts 8..15 minus one:
// frequencies over 70000 draws match w_e / sum within 5 sd (sd <= sqrt(0.25 / 70000) = 0.0019).
TEST(Gating, ContinuedRankingFollowsTheRestrictedWeights) {
  const auto m = small_model({{"gating", {{"distribution", "zipf"}, {"params", {{"exponent", 1.0}}}}}});
  const auto layout = make_expert_layout(m, k4x8);
  const auto s = sample_gating(m, layout, 0, 2);
  const auto w = s.weights(0);
  const std::uint16_t taken[] = {10};
  const ExpertRange r[] = {{8, 16}};
  double mass = 0;
  for (int e = 8; e < 16; ++e) mass += e == 10 ? 0 : w[e];
  Rng rng(5);
  std::vector<int> c(32, 0);
  const int n = 70000;
  for (int i = 0; i < n; ++i) ++c[continue_ranking(s, 0, r, taken, rng)];
  EXPECT_EQ(c[10], 0);
  for (int e = 0; e < 32; ++e) {
    if (e < 8 || e >= 16) {
      EXPECT_EQ(c[e], 0);
    } else if (e != 10) {
      EXPECT_NEAR(c[e] / double(n), w[e] / mass, 0.0095) << e;
    }
  }
  // Exhausted range -> -1.
  const std::uint16_t all[] = {8, 9, 10, 11, 12, 13, 14, 15};
  EXPECT_EQ(continue_ranking(s, 0, r, all, rng), -1);
}

TEST(Gating, RestrictedChoicesKeepTheStoredOnesInsideTheRangeFirst) {
  const auto m = small_model({{"top_k", 4}});
  const auto layout = make_expert_layout(m, k4x8);
  const auto s = sample_gating(m, layout, 0, 2);
  Rng rng(1);
  for (int t = 0; t < 50; ++t) {
    const auto tok = s.token(3, t);
    const ExpertRange r[] = {{0, 16}};
    std::uint16_t out[4];
    ASSERT_EQ(restricted_choices(s, 3, t, r, 4, out, rng), 4);
    int j = 0;
    for (auto e : tok) {
      if (e < 16) {
        EXPECT_EQ(out[j++], e);
      }
    }
    for (auto e : out) EXPECT_LT(e, 16);
  }
}

// Only experts 0 and 1 have weight (1000 : 1): the second distinct choice is almost never
// hit by rejection (p = 1/1001 per try), so the exact fallback must give every token {0, 1}.
TEST(Gating, TokensGetDistinctExpertsEvenWhenOneExpertDominates) {
  nlohmann::json counts = nlohmann::json::array({1000, 1});
  for (int e = 2; e < 32; ++e) counts.push_back(0);
  const auto m = small_model({{"gating", {{"distribution", "histogram"}, {"params", {{"counts", counts}}}}}});
  const auto layout = make_expert_layout(m, k4x8);
  const auto s = sample_gating(m, layout, 0, 1);
  for (int t = 0; t < s.tokens_per_gpu(); ++t) {
    const auto tok = s.token(7, t);
    ASSERT_EQ(std::min(tok[0], tok[1]), 0);
    ASSERT_EQ(std::max(tok[0], tok[1]), 1);
  }
}

TEST(Gating, LayerOutOfRangeIsAnInputError) {
  const auto m = small_model();
  EXPECT_THROW(sample_gating(m, make_expert_layout(m, k4x8), 4, 1), InputError);
}

}  // namespace
}  // namespace moesim
