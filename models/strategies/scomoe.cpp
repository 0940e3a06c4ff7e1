// scomoe-seq and scomoe-feat (SCoMoE, Zeng & Xiong, ICLR 2023; routing-strategies.md).
// One class, two table rows. Parameters alpha (intra-GPU share) and beta (intra-node share);
// with one node in the EP group, beta = 1 - alpha (the reference's rule).
//
// seq: of the S tokens on a GPU, floor(alpha*S) with the highest affinity to the GPU's own
//   experts stay local (top-k over the local experts, no communication); of the rest,
//   floor(beta*S) with the highest affinity to the node's experts run a top-k MoE over the
//   node's experts with an intra-node all-to-all; the remainder run the top-k MoE over all E
//   experts with an all-to-all over the EP group. Each sub-MoE has its own capacity
//   C = int(k_part * ceil(S_part / E_part) * cf), k_part = min(top_k, E_part).
//   Affinity: SCoMoE ranks tokens by their mean gate logit over the subset. The gate model
//   here has rankings, not logits, so a token's score is (k - j) / k where j is the position
//   of its first choice inside the subset (0 when none of its top-k is there), mixed with a
//   uniform random key: key = affinity * score + (1 - affinity) * u. affinity = 1 (default)
//   selects the tokens that prefer the subset; affinity = 0 selects at random. Ties go to the
//   lower token index.
// feat: every token's d features split into slices of alpha*d (top-k over the local experts,
//   no communication), beta*d (node experts, intra-node all-to-all) and (1-alpha-beta)*d (all
//   experts, global all-to-all); each slice's experts have input width = slice width and
//   hidden width d_ff * slice/d (parameter-preserving; the reference only fixes the input
//   width). Slices must be whole features (ratios such as 1/2, 1/4).
// Both cut the bytes entering the global all-to-all by the factor (1 - alpha - beta); for seq
// with affinity > 0 the remaining tokens prefer remote experts more than average, so the
// inter-node share of those bytes is higher than flat routing's (see docs/STRATEGIES.md).
// Phases: dispatch-node (intra-node) and dispatch-global (EP group), both step 0
// (independent); combine mirrors them.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "models/strategies/routing_util.h"
#include "models/strategies/strategies.h"
#include "sim/error.h"

namespace moesim::strategies {
namespace {

enum class Mode { Seq, Feat };

struct SubMoe {
  int part = 0;
  int phase = -1;  // -1: local, no communication
  int k = 1;
  ExpertRange experts;
  int capacity = -1;  // < 0: unlimited
};

// Fills `dst` with token t's experts in sub-MoE `sub`: its unconstrained top-k for the
// global part, else its best choices among the part's experts. True when the choice differs
// from its unconstrained top-k (a rerouted token).
bool choose_in_part(const RoutingInput& in, int gpu, int t, bool global, const SubMoe& sub, std::span<std::uint16_t> dst,
                    Rng& rng) {
  const auto stored = in.gating.token(gpu, t);
  if (global) {
    std::copy_n(stored.begin(), sub.k, dst.begin());
    return false;
  }
  const ExpertRange ranges[] = {sub.experts};
  const int got = restricted_choices(in.gating, gpu, t, ranges, sub.k, dst, rng);
  MOESIM_CHECK(got == sub.k, "token {} got {} of {} experts", t, got, sub.k);
  return !routing::same_experts(dst, stored.first(static_cast<std::size_t>(sub.k)));
}

// Routes `n` tokens of `gpu` (choices: n x m.k) through a sub-MoE; fills `keep`.
void run_sub_moe(routing::PlanBuilder& b, const RoutingInput& in, int gpu, const SubMoe& m,
                 std::span<const std::uint16_t> choices, int n, std::vector<std::uint8_t>& keep) {
  const auto& L = in.layout;
  const bool padded = b.padded();
  const auto a = routing::admit(choices, n, m.k, {.uniform = m.capacity}, L.num_experts, keep);
  auto& st = b.stats(gpu);
  st.assignments += static_cast<double>(n) * m.k;
  st.dropped += a.dropped;
  for (std::size_t i = 0; i < static_cast<std::size_t>(n) * static_cast<std::size_t>(m.k); ++i) {
    if (!keep[i]) continue;
    const int e = choices[i];
    const int dst = L.owner(gpu, e);
    b.add_expert(dst, e, m.part, padded ? 0.0 : 1.0, 1.0);
    if (m.phase >= 0 && !padded) b.add_rows(m.phase, gpu, dst, 1);
  }
  if (padded && n > 0) {
    const int epr = L.experts_per_rank;
    for (int r = L.owner(gpu, m.experts.begin); r <= L.owner(gpu, m.experts.end - 1); ++r) {
      if (m.phase >= 0) b.add_rows(m.phase, gpu, r, static_cast<double>(epr) * m.capacity);
      for (int e = L.first_expert(r); e < L.first_expert(r) + epr; ++e) b.add_expert(r, e, m.part, m.capacity, 0.0);
    }
  }
}

double position_score(std::span<const std::uint16_t> stored, ExpertRange r) {
  const auto k = static_cast<double>(stored.size());
  for (std::size_t j = 0; j < stored.size(); ++j)
    if (stored[j] >= r.begin && stored[j] < r.end) return (k - static_cast<double>(j)) / k;
  return 0;
}

class ScomoeStrategy final : public RoutingStrategy {
 public:
  ScomoeStrategy(Mode mode, const ParamValues& p)
      : mode_(mode), alpha_(p["alpha"]), beta_(p["beta"]), affinity_(mode == Mode::Seq ? p["affinity"] : 0.0) {}
  std::string_view name() const override { return mode_ == Mode::Seq ? "scomoe-seq" : "scomoe-feat"; }

  DispatchPlan plan(const RoutingInput& in) const override {
    const auto gs = in.layout.group_shape();
    const double alpha = alpha_;
    const double beta = gs.nodes == 1 ? 1.0 - alpha_ : beta_;
    if (alpha + beta > 1.0 + 1e-12)
      throw InputError(fmt::format("{}: alpha + beta = {} + {} exceeds 1", name(), alpha, beta));
    return mode_ == Mode::Seq ? plan_seq(in, alpha, beta) : plan_feat(in, alpha, beta);
  }

 private:
  struct Levels {
    ExpertRange local, node;
    int k_local, k_node, k;
  };
  Levels levels(const RoutingInput& in, int gpu) const {
    const auto& L = in.layout;
    const int r = gpu - L.group_base(gpu);
    const int G = L.group_shape().gpus_per_node;
    const int k = in.model.top_k;
    return {routing::rank_experts(L, r), routing::node_experts(L, r / G), std::min(k, L.experts_per_rank),
            std::min(k, G * L.experts_per_rank), k};
  }

  DispatchPlan plan_seq(const RoutingInput& in, double alpha, double beta) const {
    routing::PlanBuilder b(in, name());
    const auto& m = in.model;
    const auto& L = in.layout;
    const int S = m.tokens_per_gpu;
    const int G = L.group_shape().gpus_per_node;
    const int n_local = static_cast<int>(std::floor(alpha * S));
    const int n_node = std::min(S - n_local, static_cast<int>(std::floor(beta * S)));
    const int n_global = S - n_local - n_node;
    b.set_part(0, "global", m.d_model, m.d_ff);
    const int part_local = b.add_part("local", m.d_model, m.d_ff);
    const int part_node = b.add_part("node", m.d_model, m.d_ff);
    const int phase_node = b.add_phase("dispatch-node", ProcessGroup::IntraNode, b.a2a_pattern(), 0, m.d_model);
    const int phase_global = b.add_phase("dispatch-global", ProcessGroup::Global, b.a2a_pattern(), 0, m.d_model);
    auto cap = [&](int k, int n, int experts) { return b.padded() ? routing::capacity(k, n, experts, m.capacity_factor) : -1; };

    std::vector<double> key(static_cast<std::size_t>(S));
    std::vector<int> order;
    std::vector<std::uint8_t> part_of(static_cast<std::size_t>(S));
    std::vector<std::uint16_t> choices, out;
    std::vector<std::uint8_t> keep;
    std::vector<int> tokens;
    std::vector<std::uint16_t> kept;
    for (int gpu = 0; gpu < b.gpus(); ++gpu) {
      const Levels lv = levels(in, gpu);
      Rng rng = routing::strategy_rng(in, name(), gpu);
      // Select the local tokens among all, then the node tokens among the rest.
      std::fill(part_of.begin(), part_of.end(), std::uint8_t{2});
      auto select = [&](ExpertRange range, int count, std::uint8_t part) {
        order.clear();
        for (int t = 0; t < S; ++t)
          if (part_of[static_cast<std::size_t>(t)] == 2) {
            order.push_back(t);
            key[static_cast<std::size_t>(t)] =
                affinity_ * position_score(in.gating.token(gpu, t), range) + (1 - affinity_) * rng.uniform();
          }
        std::sort(order.begin(), order.end(), [&](int a, int c) {
          const double ka = key[static_cast<std::size_t>(a)], kc = key[static_cast<std::size_t>(c)];
          return ka != kc ? ka > kc : a < c;
        });
        for (int i = 0; i < count; ++i) part_of[static_cast<std::size_t>(order[static_cast<std::size_t>(i)])] = part;
      };
      select(lv.local, n_local, 0);
      select(lv.node, n_node, 1);

      b.stats(gpu).tokens += S;
      const SubMoe subs[3] = {
          {part_local, -1, lv.k_local, lv.local, cap(lv.k_local, n_local, L.experts_per_rank)},
          {part_node, phase_node, lv.k_node, lv.node, cap(lv.k_node, n_node, G * L.experts_per_rank)},
          {0, phase_global, lv.k, {0, L.num_experts}, cap(lv.k, n_global, L.num_experts)}};
      for (std::uint8_t p = 0; p < 3; ++p) {
        const SubMoe& sub = subs[p];
        tokens.clear();
        for (int t = 0; t < S; ++t)
          if (part_of[static_cast<std::size_t>(t)] == p) tokens.push_back(t);
        const int n = static_cast<int>(tokens.size());
        choices.assign(static_cast<std::size_t>(n) * static_cast<std::size_t>(sub.k), 0);
        out.resize(static_cast<std::size_t>(sub.k));
        for (int i = 0; i < n; ++i) {
          const int t = tokens[static_cast<std::size_t>(i)];
          std::span<std::uint16_t> dst(choices.data() + static_cast<std::size_t>(i) * static_cast<std::size_t>(sub.k),
                                       static_cast<std::size_t>(sub.k));
          if (choose_in_part(in, gpu, t, p == 2, sub, dst, rng)) b.stats(gpu).rerouted_tokens += 1;
        }
        run_sub_moe(b, in, gpu, sub, choices, n, keep);
        for (int i = 0; i < n; ++i) {
          kept.clear();
          for (int j = 0; j < sub.k; ++j) {
            const auto idx = static_cast<std::size_t>(i) * static_cast<std::size_t>(sub.k) + static_cast<std::size_t>(j);
            if (keep[idx]) kept.push_back(choices[idx]);
          }
          if (kept.empty()) b.stats(gpu).tokens_fully_dropped += 1;
          b.count_nodes_reached(b.nodes_of(gpu, kept));
        }
      }
    }
    return std::move(b).finish();
  }

  DispatchPlan plan_feat(const RoutingInput& in, double alpha, double beta) const {
    routing::PlanBuilder b(in, name());
    const auto& m = in.model;
    const auto& L = in.layout;
    const int S = m.tokens_per_gpu;
    const int G = L.group_shape().gpus_per_node;
    auto width = [&](double ratio, const char* what) {
      const double w = ratio * m.d_model;
      if (std::abs(w - std::round(w)) > 1e-9)
        throw InputError(fmt::format("scomoe-feat: {} * d_model = {} * {} = {} is not a whole number of features; use "
                                     "ratios such as 1/2, 1/4, 1/8", what, ratio, m.d_model, w));
      return static_cast<int>(std::lround(w));
    };
    const int w_local = width(alpha, "alpha");
    const int w_node = width(beta, "beta");
    const int w_global = m.d_model - w_local - w_node;
    auto hidden = [&](int w) { return static_cast<int>(std::lround(static_cast<double>(m.d_ff) * w / m.d_model)); };
    b.set_part(0, "global-slice", w_global, hidden(w_global));
    const int part_local = b.add_part("local-slice", w_local, hidden(w_local));
    const int part_node = b.add_part("node-slice", w_node, hidden(w_node));
    const int phase_node = w_node > 0 ? b.add_phase("dispatch-node", ProcessGroup::IntraNode, b.a2a_pattern(), 0, w_node) : -1;
    const int phase_global = w_global > 0 ? b.add_phase("dispatch-global", ProcessGroup::Global, b.a2a_pattern(), 0, w_global) : -1;
    auto cap = [&](int k, int experts) { return b.padded() ? routing::capacity(k, S, experts, m.capacity_factor) : -1; };

    std::vector<std::uint16_t> choices[3];
    std::vector<std::uint8_t> keep[3];
    std::vector<std::uint16_t> kept;
    std::vector<std::uint8_t> rerouted(static_cast<std::size_t>(S));
    for (int gpu = 0; gpu < b.gpus(); ++gpu) {
      const Levels lv = levels(in, gpu);
      Rng rng = routing::strategy_rng(in, name(), gpu);
      const SubMoe subs[3] = {{part_local, -1, lv.k_local, lv.local, cap(lv.k_local, L.experts_per_rank)},
                              {part_node, phase_node, lv.k_node, lv.node, cap(lv.k_node, G * L.experts_per_rank)},
                              {0, phase_global, lv.k, {0, L.num_experts}, cap(lv.k, L.num_experts)}};
      const bool active[3] = {w_local > 0, w_node > 0, w_global > 0};
      std::fill(rerouted.begin(), rerouted.end(), std::uint8_t{0});
      b.stats(gpu).tokens += S;
      for (int p = 0; p < 3; ++p) {
        const SubMoe& sub = subs[p];
        choices[p].assign(active[p] ? static_cast<std::size_t>(S) * static_cast<std::size_t>(sub.k) : 0, 0);
        keep[p].clear();
        if (!active[p]) continue;
        for (int t = 0; t < S; ++t) {
          std::span<std::uint16_t> dst(choices[p].data() + static_cast<std::size_t>(t) * static_cast<std::size_t>(sub.k),
                                       static_cast<std::size_t>(sub.k));
          if (choose_in_part(in, gpu, t, p == 2, sub, dst, rng)) rerouted[static_cast<std::size_t>(t)] = 1;
        }
        run_sub_moe(b, in, gpu, sub, choices[p], S, keep[p]);
      }
      for (int t = 0; t < S; ++t) {
        kept.clear();
        for (int p = 0; p < 3; ++p)
          for (int j = 0; active[p] && j < subs[p].k; ++j) {
            const auto idx = static_cast<std::size_t>(t) * static_cast<std::size_t>(subs[p].k) + static_cast<std::size_t>(j);
            if (keep[p][idx]) kept.push_back(choices[p][idx]);
          }
        if (kept.empty()) b.stats(gpu).tokens_fully_dropped += 1;
        b.stats(gpu).rerouted_tokens += rerouted[static_cast<std::size_t>(t)];
        // Distinct nodes over all slices (an expert id may repeat across slices: harmless).
        b.count_nodes_reached(b.nodes_of(gpu, kept));
      }
    }
    return std::move(b).finish();
  }

  Mode mode_;
  double alpha_, beta_, affinity_;
};

}  // namespace

std::unique_ptr<RoutingStrategy> make_scomoe_seq(const ParamValues& p) { return std::make_unique<ScomoeStrategy>(Mode::Seq, p); }
std::unique_ptr<RoutingStrategy> make_scomoe_feat(const ParamValues& p) { return std::make_unique<ScomoeStrategy>(Mode::Feat, p); }

}  // namespace moesim::strategies
