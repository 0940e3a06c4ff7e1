// ta-moe: topology-aware dispatch (TA-MoE, Chen et al., NeurIPS 2022; routing-strategies.md).
//
// TA-MoE trains the gate toward a target dispatch pattern P (source rank x destination rank)
// that lowers communication cost while every expert still receives an equal share. Here P is
// the entropy-regularised balanced transport (models/sinkhorn.h) over each EP group:
//   cost c_ij = seconds per byte from GPU i to GPU j (RoutingInput::cost_s_per_byte, from
//     the topology; normalised to [0, 1] inside the group),
//   row sums = S * k (every GPU sends all its assignments),
//   column sums = S * k (equal expert load: E_loc experts per rank),
//   regularisation epsilon (parameter; smaller = sharper preference for cheap pairs).
// Each of a token's k assignments then follows P with probability `strength`: a destination
// rank q is drawn from row P_i / (S * k) and the expert from the gate's distribution
// restricted to q's experts (Plackett-Luce restriction, gating.h); otherwise the token keeps
// its free gate choice for that slot. strength = 0 is the flat top-k gate; strength = 1 sends
// the pattern exactly in expectation. The learned pattern's strength is not published: it is
// a parameter to sweep.
// Communication is one all-to-all over the EP group. Capacity mode sizes each (source,
// expert) buffer to the mixed pattern instead of GShard's uniform C (a uniform C would drop
// the tokens the pattern concentrates on cheap ranks): see plan() below.
#include <algorithm>
#include <cmath>

#include "models/sinkhorn.h"
#include "models/strategies/routing_util.h"
#include "models/strategies/strategies.h"
#include "sim/error.h"

namespace moesim::strategies {
namespace {

constexpr double kSinkhornTolerance = 1e-10;
constexpr int kSinkhornMaxIterations = 5000;
constexpr int kRankDraws = 8;

class TaMoeStrategy final : public RoutingStrategy {
 public:
  explicit TaMoeStrategy(const ParamValues& p) : strength_(p["strength"]), epsilon_(p["epsilon"]) {}
  std::string_view name() const override { return "ta-moe"; }
  bool needs_costs() const override { return true; }

  DispatchPlan plan(const RoutingInput& in) const override {
    const auto& L = in.layout;
    const int P = L.cluster.gpus();
    if (in.cost_s_per_byte.size() != static_cast<std::size_t>(P) * static_cast<std::size_t>(P))
      throw InputError(fmt::format("ta-moe needs a {0} x {0} matrix of per-byte costs between GPUs (seconds per byte), got {1} values",
                                   P, in.cost_s_per_byte.size()));
    const int k = in.model.top_k;
    const int S = in.model.tokens_per_gpu;
    const int ep = L.ep_size;
    const auto n = static_cast<std::size_t>(ep);

    // Target pattern per EP group, as one alias table per source GPU over its group's ranks,
    // and (capacity mode) buffers sized to the mixed pattern: source i's capacity for an
    // expert on rank j is int((strength * T_ij / E_loc + (1 - strength) * k * ceil(S / E)) * cf),
    // which is GShard's C at strength 0 and keeps the total buffer ~ cf * S * k.
    const bool padded = in.model.buffer_mode == BufferMode::Capacity;
    const int E = L.num_experts;
    const int epr = L.experts_per_rank;
    const double free_share = static_cast<double>(k) * std::ceil(static_cast<double>(S) / E);
    std::vector<int> caps(padded ? static_cast<std::size_t>(P) * static_cast<std::size_t>(E) : 0);
    std::vector<AliasTable> pattern(static_cast<std::size_t>(P));
    std::vector<double> cost(n * n);
    const std::vector<double> sums(n, static_cast<double>(S) * k);
    for (int g = 0; g < L.groups(); ++g) {
      const auto base = static_cast<std::size_t>(g) * n;
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < n; ++j) cost[i * n + j] = in.cost_s_per_byte[(base + i) * static_cast<std::size_t>(P) + base + j];
      const auto t = balanced_transport(cost, ep, sums, sums, epsilon_, kSinkhornTolerance, kSinkhornMaxIterations);
      if (!t.converged)
        throw InputError(fmt::format("ta-moe: the target pattern did not converge in {} Sinkhorn iterations (column error {:.2g}); "
                                     "raise epsilon (now {})", t.iterations, t.max_column_error, epsilon_));
      for (std::size_t i = 0; i < n; ++i) {
        pattern[base + i] = AliasTable(std::span<const double>(t.plan).subspan(i * n, n));
        for (int e = 0; padded && e < E; ++e) {
          const double target = t.plan[i * n + static_cast<std::size_t>(e / epr)] / epr;
          caps[(base + i) * static_cast<std::size_t>(E) + static_cast<std::size_t>(e)] =
              static_cast<int>(std::floor((strength_ * target + (1 - strength_) * free_share) * in.model.capacity_factor));
        }
      }
    }

    routing::PlanBuilder b(in, name());
    // Pattern-sized buffers differ per pair: all-to-all-v unless the pattern is off.
    const auto comm = padded && strength_ == 0 ? CommPattern::AllToAll : CommPattern::AllToAllV;
    const int phase = b.add_phase("dispatch", ProcessGroup::Global, comm, 0, in.model.d_model);
    b.set_rows(phase, routing::flat_rows(in, b, k, [&](int gpu, std::span<std::uint16_t> choices) {
      Rng rng = routing::strategy_rng(in, name(), gpu);
      routing::first_choices(in, gpu, k, choices, rng);
      const auto& table = pattern[static_cast<std::size_t>(gpu)];
      const ExpertRange everything[] = {{0, L.num_experts}};
      double rerouted = 0;
      for (int t = 0; t < S; ++t) {
        const auto stored = in.gating.token(gpu, t);
        std::span<std::uint16_t> c = choices.subspan(static_cast<std::size_t>(t) * static_cast<std::size_t>(k), static_cast<std::size_t>(k));
        for (int j = 0; j < k; ++j) {
          const auto before = c.first(static_cast<std::size_t>(j));
          const bool repeat = std::find(before.begin(), before.end(), c[static_cast<std::size_t>(j)]) != before.end();
          if (!repeat && rng.uniform() >= strength_) continue;  // keeps its free choice
          // A rank from the pattern, then an expert there the token does not have yet (a few
          // redraws when the drawn rank's experts are all taken).
          int e = -1;
          for (int tries = 0; tries < kRankDraws && e < 0; ++tries) {
            const ExpertRange ranges[] = {routing::rank_experts(L, static_cast<int>(table.sample(rng)))};
            e = continue_ranking(in.gating, gpu, ranges, before, rng);
          }
          if (e < 0 && repeat) e = continue_ranking(in.gating, gpu, everything, before, rng);
          if (e >= 0) c[static_cast<std::size_t>(j)] = static_cast<std::uint16_t>(e);
        }
        if (!routing::same_experts(c, stored.first(static_cast<std::size_t>(k)))) rerouted += 1;
      }
      return rerouted;
    }, [&](int gpu) {
      return routing::Capacity{.per_expert = std::span<const int>(caps).subspan(
                                   static_cast<std::size_t>(gpu) * static_cast<std::size_t>(E), static_cast<std::size_t>(E))};
    }));
    return std::move(b).finish();
  }

 private:
  double strength_, epsilon_;
};

}  // namespace

std::unique_ptr<RoutingStrategy> make_ta_moe(const ParamValues& p) { return std::make_unique<TaMoeStrategy>(p); }

}  // namespace moesim::strategies
