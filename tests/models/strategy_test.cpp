#include "models/strategy.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "sim/error.h"
#include "test_models.h"

namespace moesim {
namespace {

using testing::plan_for;
using testing::small_model;
using testing::test_costs;

const ClusterShape k4x8{.nodes = 4, .gpus_per_node = 8};
constexpr double kRowBytes = 64 * 2;  // d_model 64, bf16
constexpr double kTotalTokens = 32 * 512;

std::vector<std::string> all_strategies() {
  std::vector<std::string> names;
  for (const auto& s : strategy_table()) names.emplace_back(s.name);
  return names;
}

double routed_tokens(const DispatchPlan& p) {
  double s = 0;
  for (const auto& gpu : p.expert_work)
    for (const auto& w : gpu)
      if (!w.shared) s += w.tokens;
  return s;
}

double dispatch_inter_node(const DispatchPlan& p) {
  double s = 0;
  for (const auto& ph : p.dispatch_phases()) s += inter_node_bytes(ph.bytes, p.cluster);
  return s;
}

double dispatch_cost(const DispatchPlan& p, const std::vector<double>& cost) {
  double s = 0;
  const int P = p.cluster.gpus();
  for (const auto& ph : p.dispatch_phases())
    for (int i = 0; i < P; ++i)
      for (const auto& e : ph.bytes.row(i)) s += e.bytes * cost[static_cast<std::size_t>(i) * P + e.dst];
  return s;
}

const CommPhase& phase(const DispatchPlan& p, std::string_view name) {
  for (const auto& ph : p.phases)
    if (ph.name == name) return ph;
  throw std::runtime_error("no phase " + std::string(name));
}

TEST(Strategies, EveryStrategyConservesTokensInBothBufferModes) {
  for (const char* mode : {"capacity", "dropless"}) {
    const auto m = small_model({{"buffer_mode", mode}, {"capacity_factor", 1.0}, {"dispatch_dtype", "fp8"}});
    for (const auto& name : all_strategies()) {
      SCOPED_TRACE(std::string(mode) + " " + name);
      const auto p = plan_for(name, m, k4x8);
      double tokens = 0, kept = 0, dropped = 0;
      for (const auto& st : p.token_stats) {
        tokens += st.tokens;
        kept += st.assignments - st.dropped;
        dropped += st.dropped;
        EXPECT_LE(st.tokens_fully_dropped, st.tokens);
      }
      EXPECT_EQ(tokens, kTotalTokens);
      EXPECT_DOUBLE_EQ(kept, routed_tokens(p));  // every kept assignment reaches an expert
      double counted = 0;
      for (double n : p.tokens_by_nodes_reached) counted += n;
      EXPECT_EQ(counted, kTotalTokens);  // every token counted once
      for (const auto& gpu : p.expert_work)
        for (const auto& w : gpu) {
          EXPECT_GE(w.rows, w.tokens - 1e-9);
          if (std::string(mode) == "dropless") {
            EXPECT_DOUBLE_EQ(w.rows, w.tokens);
          }
        }
      if (std::string(mode) == "dropless") {
        EXPECT_EQ(dropped, 0);
      }
      // Combine = dispatch mirrored in bf16 (dispatch is fp8: twice the bytes).
      const auto d = p.dispatch_phases();
      const auto c = p.combine_phases();
      ASSERT_EQ(c.size(), d.size());
      ASSERT_FALSE(d.empty());
      for (std::size_t i = 0; i < d.size(); ++i) {
        const auto& mirror = c[c.size() - 1 - i];
        EXPECT_EQ(mirror.bytes, d[i].bytes.transposed().scaled(2));
        EXPECT_EQ(d[i].bytes_per_element, 1);
      }
    }
  }
}

// Dropless flat top-2: each GPU sends S * k rows = 512 * 2 * 128 B = 131072 B; each GPU
// receives exactly its experts' tokens.
TEST(Strategies, FlatDropLessSendsEveryAssignmentToItsExpertsGpu) {
  const auto p = plan_for("gshard", small_model(), k4x8);
  const auto& d = phase(p, "dispatch");
  const auto cols = d.bytes.column_sums();
  for (int g = 0; g < 32; ++g) {
    EXPECT_EQ(d.bytes.row_sum(g), 512 * 2 * kRowBytes);
    double tokens = 0;
    for (const auto& w : p.expert_work[g]) tokens += w.tokens;
    EXPECT_EQ(cols[g], tokens * kRowBytes);
  }
  EXPECT_EQ(d.pattern, CommPattern::AllToAllV);
}

// gshard on a top-1 model continues each token's ranking to a distinct second expert:
// 2 * 512 rows per GPU, and the first choices are the stored ones (switch's plan is the
// first-choice half of it).
TEST(Strategies, GshardOnATopOneModelContinuesEachTokensRanking) {
  const auto m = small_model({{"top_k", 1}});
  const auto p = plan_for("gshard", m, k4x8);
  const auto s = plan_for("switch", m, k4x8);
  for (int g = 0; g < 32; ++g) EXPECT_EQ(phase(p, "dispatch").bytes.row_sum(g), 2 * 512 * kRowBytes);
  for (int g = 0; g < 32; ++g)
    for (int d = 0; d < 32; ++d) EXPECT_LE(phase(s, "dispatch").bytes.at(g, d), phase(p, "dispatch").bytes.at(g, d));
  EXPECT_EQ(p.tokens_by_nodes_reached.size(), 3u);  // two experts: one or two nodes
}

// Capacity mode, cf 1.25: C = int(2 * ceil(512 / 32) * 1.25) = 40. Padded buffers: every GPU
// sends 40 rows to each of the 32 ranks (one expert each): 32 * 40 * 128 B = 163840 B, and
// every expert's GEMM runs on 32 * 40 = 1280 rows.
TEST(Strategies, FlatCapacityModeSendsPaddedBuffers) {
  const auto p = plan_for("gshard", small_model({{"buffer_mode", "capacity"}}), k4x8);
  const auto& d = phase(p, "dispatch");
  EXPECT_EQ(d.pattern, CommPattern::AllToAll);
  for (int g = 0; g < 32; ++g) {
    EXPECT_EQ(d.bytes.row_sum(g), 32 * 40 * kRowBytes);
    EXPECT_EQ(d.bytes.at(g, (g + 5) % 32), 40 * kRowBytes);
    EXPECT_EQ(p.expert_work[g][0].rows, 1280);
  }
}

// cf 0.5: C = int(2 * 16 * 0.5) = 16 per expert per source, so a GPU keeps at most
// 32 * 16 = 512 of its 1024 assignments: at least 512 drops per GPU. Dropless: none.
TEST(Strategies, SmallCapacityFactorDropsTokensOnlyInCapacityMode) {
  const auto capped = plan_for("gshard", small_model({{"buffer_mode", "capacity"}, {"capacity_factor", 0.5}}), k4x8);
  for (const auto& st : capped.token_stats) EXPECT_GE(st.dropped, 512);
  EXPECT_GT(capped.tokens_by_nodes_reached[0], 0);  // some tokens lost both experts
  const auto free = plan_for("gshard", small_model({{"capacity_factor", 0.5}}), k4x8);
  EXPECT_EQ(free.dropped_assignments(), 0);
  for (const auto& name : {"smile", "scomoe-seq", "node-limited"})
    EXPECT_GT(plan_for(name, small_model({{"buffer_mode", "capacity"}, {"capacity_factor", 0.5}}), k4x8).dropped_assignments(), 0)
        << name;
}

// hier-a2a carries flat's bytes in two hops: phase 1 moves everything (flat total), phase 2
// moves exactly flat's inter-node bytes, and each GPU forwards in phase 2 what it received in
// phase 1 minus what was for itself (flat bytes from its own node).
TEST(Strategies, HierA2aMovesFlatBytesThroughSameIndexGpus) {
  const auto m = small_model();
  const auto flat = plan_for("flat", m, k4x8);
  const auto hier = plan_for("hier-a2a", m, k4x8);
  const auto& f = phase(flat, "dispatch").bytes;
  const auto& intra = phase(hier, "dispatch-intra").bytes;
  const auto& inter = phase(hier, "dispatch-inter").bytes;
  EXPECT_DOUBLE_EQ(intra.total(), f.total());
  EXPECT_EQ(inter_node_bytes(intra, k4x8), 0);
  EXPECT_DOUBLE_EQ(inter.total(), inter_node_bytes(f, k4x8));
  const auto in1 = intra.column_sums();
  for (int v = 0; v < 32; ++v) {
    double own = 0;
    for (int s = 0; s < 32; ++s)
      if (k4x8.node_of(s) == k4x8.node_of(v)) own += f.at(s, v);
    EXPECT_DOUBLE_EQ(in1[v] - inter.row_sum(v), own);
    for (const auto& e : inter.row(v)) EXPECT_EQ(k4x8.local_of(e.dst), k4x8.local_of(v));
  }
}

// SMILE: in dispatch-inter each GPU talks over the network only to the N - 1 = 3 GPUs with its
// local index on the other nodes (instead of P - G = 24 for flat); forwarders pass on what
// they receive (dropless).
TEST(Strategies, SmileSendsNMinusOneNetworkMessagesPerGpuPerInterNodePhase) {
  for (const char* mode : {"capacity", "dropless"}) {
    const auto p = plan_for("smile", small_model({{"buffer_mode", mode}}), k4x8);
    for (const char* name : {"dispatch-inter", "combine-inter"}) {
      const auto& m = phase(p, name).bytes;
      for (int g = 0; g < 32; ++g) {
        int network = 0;
        for (const auto& e : m.row(g))
          if (k4x8.node_of(static_cast<int>(e.dst)) != k4x8.node_of(g)) {
            ++network;
            EXPECT_EQ(k4x8.local_of(static_cast<int>(e.dst)), k4x8.local_of(g));
          }
        EXPECT_EQ(network, 3) << mode << " " << name << " GPU " << g;
      }
    }
    EXPECT_EQ(inter_node_bytes(phase(p, "dispatch-intra").bytes, k4x8), 0);
  }
  const auto p = plan_for("smile", small_model(), k4x8);
  const auto in = phase(p, "dispatch-inter").bytes.column_sums();
  for (int g = 0; g < 32; ++g) {
    EXPECT_EQ(phase(p, "dispatch-inter").bytes.row_sum(g), 512 * kRowBytes);  // top-1: S rows
    EXPECT_DOUBLE_EQ(in[g], phase(p, "dispatch-intra").bytes.row_sum(g));
  }
}

// SCoMoE-Feat, dropless, alpha 1/4, beta 1/2: the global slice (1/4 of the features) follows
// exactly the tokens' top-2 choices, as gshard does with all features, so inter-node bytes
// are exactly (1 - alpha - beta) = 0.25 of gshard's.
TEST(Strategies, ScomoeFeatCutsInterNodeBytesByOneMinusAlphaMinusBeta) {
  const auto m = small_model();
  StrategyParams params;
  params.set("alpha", 0.25);
  params.set("beta", 0.5);
  const auto feat = plan_for("scomoe-feat", m, k4x8, 1, params);
  const auto flat = plan_for("gshard", m, k4x8);
  EXPECT_NEAR(dispatch_inter_node(feat) / dispatch_inter_node(flat), 0.25, 1e-12);
  EXPECT_EQ(inter_node_bytes(phase(feat, "dispatch-node").bytes, k4x8), 0);
  // Slice widths 16 / 32 / 16 with hidden widths scaled alike (128 * w / 64).
  for (const auto& w : feat.expert_work[0]) EXPECT_EQ(w.d_ff, 2 * w.d_in);
}

// SCoMoE-Seq, alpha = beta = 1/4 (0.5 of the tokens go global). The global all-to-all moves
// exactly half of gshard's bytes (256 of 512 tokens per GPU, same top-2 choices). With
// affinity 0 the global tokens are a random half, so inter-node bytes are 0.5 of gshard's up
// to sampling: a token has c in {0, 1, 2} remote choices (mean 1.5, variance <= 0.375);
// choosing 8192 of 16384 tokens gives sd(ratio) = 0.5 * sqrt(8192 * 0.375 * 0.5) / 12288
// = 0.0016; tolerance 0.01 (6 sd). With affinity 1 the global tokens are those that prefer
// remote experts, so the ratio rises, bounded by 2 remote choices per global token:
// 2 * 8192 / 24576 = 0.667.
TEST(Strategies, ScomoeSeqCutsInterNodeBytesByOneMinusAlphaMinusBeta) {
  const auto m = small_model();
  const auto flat = plan_for("gshard", m, k4x8);
  StrategyParams params;
  params.set("alpha", 0.25);
  params.set("beta", 0.25);
  params.set("affinity", 0);
  const auto random = plan_for("scomoe-seq", m, k4x8, 1, params);
  EXPECT_DOUBLE_EQ(phase(random, "dispatch-global").bytes.total(), 0.5 * phase(flat, "dispatch").bytes.total());
  const double r0 = dispatch_inter_node(random) / dispatch_inter_node(flat);
  EXPECT_NEAR(r0, 0.5, 0.01);
  params.set("affinity", 1);
  const double r1 = dispatch_inter_node(plan_for("scomoe-seq", m, k4x8, 1, params)) / dispatch_inter_node(flat);
  EXPECT_GT(r1, r0);
  EXPECT_LE(r1, 2.0 / 3.0 + 1e-12);
}

TEST(Strategies, ScomoeOnOneNodeUsesBetaEqualToOneMinusAlpha) {
  StrategyParams params;
  params.set("alpha", 0.25);
  params.set("beta", 0.0);
  const auto p = plan_for("scomoe-seq", small_model(), {.nodes = 1, .gpus_per_node = 8}, 1, params);
  // alpha S = 128 local tokens, (1 - alpha) S = 384 node tokens, none global.
  EXPECT_EQ(phase(p, "dispatch-global").bytes.total(), 0);
  for (int g = 0; g < 8; ++g) EXPECT_EQ(phase(p, "dispatch-node").bytes.row_sum(g), 384 * 2 * kRowBytes);
}

TEST(Strategies, ScomoeFeatRejectsSlicesThatAreNotWholeFeatures) {
  StrategyParams params;
  params.set("alpha", 0.2);  // 0.2 * 64 = 12.8 features
  EXPECT_THROW(plan_for("scomoe-feat", small_model(), k4x8, 1, params), InputError);
  params.set("alpha", 0.75);  // 0.75 + 0.5 > 1
  EXPECT_THROW(plan_for("scomoe-feat", small_model(), k4x8, 1, params), InputError);
}

// With M >= N nothing is rerouted, and the inter-node bytes are one row per (token, remote
// target node), computed here straight from the gate sample.
TEST(Strategies, NodeLimitedSendsOneNetworkCopyPerTargetNode) {
  const auto m = small_model({{"top_k", 4}});
  const auto layout = make_expert_layout(m, k4x8);
  const auto sample = sample_gating(m, layout, 1, 1);
  double expected = 0;
  for (int g = 0; g < 32; ++g)
    for (int t = 0; t < 512; ++t) {
      std::set<int> remote;
      for (auto e : sample.token(g, t))
        if (e / 8 != g / 8) remote.insert(e / 8);
      expected += static_cast<double>(remote.size());
    }
  const auto p = plan_for("node-limited", m, k4x8);
  EXPECT_EQ(p.rerouted_tokens(), 0);
  EXPECT_DOUBLE_EQ(phase(p, "dispatch-inter").bytes.total(), expected * kRowBytes);
  EXPECT_DOUBLE_EQ(dispatch_inter_node(p), expected * kRowBytes);
  EXPECT_LT(dispatch_inter_node(p), dispatch_inter_node(plan_for("flat", m, k4x8)));  // de-duplication
  for (int g = 0; g < 32; ++g)
    for (const auto& e : phase(p, "dispatch-inter").bytes.row(g)) EXPECT_EQ(k4x8.local_of(static_cast<int>(e.dst)), k4x8.local_of(g));
}

TEST(Strategies, NodeLimitedNeverReachesMoreThanMNodesPerToken) {
  const auto m = small_model({{"top_k", 4}});
  const auto flat = plan_for("flat", m, k4x8);
  ASSERT_GT(flat.tokens_by_nodes_reached.size(), 3u);  // unconstrained top-4 reaches 3-4 nodes
  for (int M : {1, 2, 3}) {
    StrategyParams params;
    params.set("max_nodes", M);
    const auto p = plan_for("node-limited", m, k4x8, 1, params);
    EXPECT_LE(p.tokens_by_nodes_reached.size(), static_cast<std::size_t>(M + 1)) << M;
    EXPECT_GT(p.rerouted_tokens(), 0);
  }
}

// TA-MoE with a cost of 1/25e9 s/B across nodes and 1/300e9 inside: the pattern keeps expert
// load equal but prefers the own node, so the plan's dispatch costs less than gshard's on
// the same tokens; strength 0 is exactly the flat gate.
TEST(Strategies, TaMoeMovesBytesTowardCheaperPairs) {
  const auto m = small_model();
  const auto costs = test_costs(k4x8);
  const auto flat = plan_for("flat", m, k4x8);
  const auto ta = plan_for("ta-moe", m, k4x8);
  EXPECT_LT(dispatch_cost(ta, costs), 0.8 * dispatch_cost(flat, costs));
  EXPECT_GT(ta.rerouted_tokens(), 0);
  // Expert load stays near equal: 1024 assignments per expert on average.
  for (const auto& gpu : ta.expert_work) EXPECT_NEAR(gpu[0].tokens, 1024, 200);
  StrategyParams off;
  off.set("strength", 0);
  const auto zero = plan_for("ta-moe", m, k4x8, 1, off);
  EXPECT_EQ(phase(zero, "dispatch").bytes, phase(flat, "dispatch").bytes);
  EXPECT_EQ(zero.rerouted_tokens(), 0);
}

// Capacity mode, cf 1.25, strength 0.5: ta-moe sizes each (source, expert) buffer to the
// mixed pattern, int((0.5 * T_ij + 0.5 * 2 * 16) * 1.25). The pattern puts almost nothing on
// remote ranks (their normalised cost 1 weighs exp(-1 / 0.1) = 4.5e-5 against 1 for itself),
// so a remote buffer is int(16 * 1.25) = 20 rows instead of GShard's 40: remote padded bytes
// about halve, while the buffers still hold the steered tokens (few drops; GShard's uniform
// C would drop ~1/3 of them).
TEST(Strategies, TaMoeSizesCapacityBuffersToItsPattern) {
  const auto m = small_model({{"buffer_mode", "capacity"}});
  const auto ta = plan_for("ta-moe", m, k4x8);
  const auto flat = plan_for("gshard", m, k4x8);
  EXPECT_LT(ta.dropped_assignments(), 0.01 * kTotalTokens * 2);
  EXPECT_LT(dispatch_inter_node(ta), 0.55 * dispatch_inter_node(flat));
  EXPECT_EQ(phase(ta, "dispatch").bytes.at(0, 31), 20 * kRowBytes);
  EXPECT_EQ(phase(ta, "dispatch").pattern, CommPattern::AllToAllV);
}

TEST(Strategies, TaMoeWithoutCostsIsAnInputError) {
  const auto m = small_model();
  const auto layout = make_expert_layout(m, k4x8);
  const auto sample = sample_gating(m, layout, 0, 1);
  const auto s = make_strategy("ta-moe");
  EXPECT_TRUE(s->needs_costs());
  EXPECT_THROW(s->plan({.model = m, .layout = layout, .gating = sample}), InputError);
}

TEST(Strategies, WithOneNodeEveryStrategyStaysInsideTheNode) {
  const auto m = small_model();
  for (const auto& name : all_strategies()) {
    const auto p = plan_for(name, m, {.nodes = 1, .gpus_per_node = 8});
    EXPECT_EQ(p.inter_node_bytes(), 0) << name;
    double moved = 0;
    for (const auto& ph : p.dispatch_phases()) moved += ph.bytes.total();
    EXPECT_GT(moved, 0) << name;
  }
}

// Mixtral-like: 8 experts on 2 nodes x 8 GPUs -> two replica groups of 8 GPUs, one per node.
TEST(Strategies, ExpertReplicaGroupsKeepTrafficInsideTheirGroup) {
  const auto m = small_model({{"num_experts", 8}});
  for (const auto& name : all_strategies()) {
    const auto p = plan_for(name, m, {.nodes = 2, .gpus_per_node = 8});
    EXPECT_EQ(p.ep_size, 8);
    EXPECT_EQ(p.inter_node_bytes(), 0) << name;
  }
}

TEST(Strategies, SameSeedGivesIdenticalPlansAndAnotherSeedDifferentOnes) {
  const auto m = small_model({{"gating", {{"distribution", "zipf"}, {"params", {{"exponent", 0.8}}}}}});
  for (const auto& name : all_strategies()) {
    const auto a = plan_for(name, m, k4x8, 11);
    const auto b = plan_for(name, m, k4x8, 11);
    const auto c = plan_for(name, m, k4x8, 12);
    ASSERT_EQ(a.phases.size(), b.phases.size());
    bool all_same = true, any_diff = false;
    for (std::size_t i = 0; i < a.phases.size(); ++i) {
      all_same = all_same && a.phases[i].bytes == b.phases[i].bytes;
      any_diff = any_diff || !(a.phases[i].bytes == c.phases[i].bytes);
    }
    EXPECT_TRUE(all_same) << name;
    EXPECT_TRUE(any_diff) << name;
    EXPECT_EQ(a.rerouted_tokens(), b.rerouted_tokens()) << name;
  }
}

TEST(Strategies, SharedExpertsRunOnEveryGpuOverAllItsTokens) {
  const auto p = plan_for("flat", small_model({{"shared_experts", 1}}), k4x8);
  ASSERT_EQ(p.expert_parts.back(), "shared");
  for (const auto& gpu : p.expert_work) {
    ASSERT_TRUE(gpu.back().shared);
    EXPECT_EQ(gpu.back().rows, 512);
  }
}

TEST(StrategyTable, UnknownNamesAndParametersAreClearErrors) {
  try {
    make_strategy("fastest");
    FAIL();
  } catch (const InputError& e) {
    const std::string msg = e.what();
    for (const auto& name : all_strategies()) EXPECT_NE(msg.find(name), std::string::npos) << msg;
  }
  StrategyParams p;
  p.set("alpha", 0.3);
  try {
    make_strategy("smile", p);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("cf_intra"), std::string::npos) << e.what();
  }
  try {
    make_strategy("switch", p);
    FAIL();
  } catch (const InputError& e) {  // named once, then what it takes
    EXPECT_EQ(std::string(e.what()), "strategy switch: no parameter \"alpha\"; it has no parameters");
  }
  p = {};
  p.set("alpha", 1.5);
  EXPECT_THROW(make_strategy("scomoe-seq", p), InputError);
  p = {};
  p.set("max_nodes", 2.5);
  EXPECT_THROW(make_strategy("node-limited", p), InputError);
  StrategyParams q;
  EXPECT_THROW(set_strategy_param(q, "alpha", "0.2x"), InputError);
  EXPECT_THROW(set_strategy_param(q, "alpha", ""), InputError);
  set_strategy_param(q, "alpha", "0.125");
  EXPECT_EQ(q.get("alpha"), 0.125);
  for (const auto& s : strategy_table()) EXPECT_EQ(make_strategy(s.name)->name(), s.name);
}

}  // namespace
}  // namespace moesim
