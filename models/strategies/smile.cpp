// smile: bi-level routing (SMILE, He et al., arXiv 2212.05191; routing-strategies.md).
//
// Experts are organised as node x GPU. A token goes first to a node (inter-node router,
// top-1 over the N nodes of its EP group), then to a GPU there (intra-node router, top-1 over
// G GPUs), then to an expert of that GPU. Under the Plackett-Luce gate model (gating.h) the
// node of a token's first-choice expert is distributed as the node router's choice, so the
// token's node, GPU and expert are those of its first choice: SMILE changes the structure of
// the communication and the capacity, not the expert a token prefers.
//
// Phases:
//   dispatch-inter (step 0, same local index): GPU (n, l) sends each token to (m, l), m = the
//     token's node: N-1 network messages of about S*d*b/N bytes.
//   dispatch-intra (step 1, intra-node): (m, l) forwards each arrived token to (m, l').
//   combine mirrors both.
// Capacity (capacity mode), one per level since SMILE published none (parameters):
//   level 1 per (source GPU, node): C_node = int(ceil(S / N) * cf_inter); overflow dropped in
//     token order; buffers padded to C_node rows per node.
//   level 2 per (forwarder, GPU): C_gpu = int(ceil(S' / G) * cf_intra), S' = N * C_node (the
//     forwarder's padded receive buffer); arrivals in (source node, token) order; padded to
//     C_gpu rows per GPU; a GPU with several experts splits its padding evenly among them.
#include <cmath>

#include "models/strategies/routing_util.h"
#include "models/strategies/strategies.h"

namespace moesim::strategies {
namespace {

class SmileStrategy final : public RoutingStrategy {
 public:
  explicit SmileStrategy(const ParamValues& p) : cf_inter_(p["cf_inter"]), cf_intra_(p["cf_intra"]) {}
  std::string_view name() const override { return "smile"; }

  DispatchPlan plan(const RoutingInput& in) const override {
    routing::PlanBuilder b(in, name());
    const auto& L = in.layout;
    const auto gs = L.group_shape();
    const int N = gs.nodes;
    const int G = gs.gpus_per_node;
    const int P = b.gpus();
    const int S = in.model.tokens_per_gpu;
    const int epr = L.experts_per_rank;
    const bool padded = b.padded();
    const double cf_inter = std::isnan(cf_inter_) ? in.model.capacity_factor : cf_inter_;
    const double cf_intra = std::isnan(cf_intra_) ? in.model.capacity_factor : cf_intra_;
    const int c_node = padded ? routing::capacity(1, S, N, cf_inter) : -1;
    const int c_gpu = padded ? routing::capacity(1, N * c_node, G, cf_intra) : -1;
    const int inter = b.add_phase("dispatch-inter", ProcessGroup::InterNodeSameLocal, b.a2a_pattern(), 0, in.model.d_model);
    const int intra = b.add_phase("dispatch-intra", ProcessGroup::IntraNode, b.a2a_pattern(), 1, in.model.d_model);
    auto group_node = [&](int gpu, int e) { return (L.owner(gpu, e) - L.group_base(gpu)) / G; };
    // GPU of group-node m with the same in-node position as `gpu`.
    auto same_index = [&](int gpu, int m) { return L.group_base(gpu) + m * G + (gpu - L.group_base(gpu)) % G; };

    // Level 1: each source keeps up to C_node tokens per node; kept first choices are
    // bucketed by node (offsets[gpu][m] .. offsets[gpu][m + 1]) in token order.
    std::vector<std::uint16_t> bucket(static_cast<std::size_t>(P) * static_cast<std::size_t>(S));
    std::vector<int> offsets(static_cast<std::size_t>(P) * static_cast<std::size_t>(N + 1), 0);
    std::vector<int> kept_per_node(static_cast<std::size_t>(N));
    std::vector<std::uint8_t> keep(static_cast<std::size_t>(S));
    for (int gpu = 0; gpu < P; ++gpu) {
      std::fill(kept_per_node.begin(), kept_per_node.end(), 0);
      auto& st = b.stats(gpu);
      st.tokens += S;
      st.assignments += S;
      for (int t = 0; t < S; ++t) {
        const int m = group_node(gpu, in.gating.token(gpu, t)[0]);
        auto& n = kept_per_node[static_cast<std::size_t>(m)];
        keep[static_cast<std::size_t>(t)] = c_node < 0 || n < c_node;
        if (keep[static_cast<std::size_t>(t)]) ++n;
        else {
          st.dropped += 1;
          st.tokens_fully_dropped += 1;
          b.count_nodes_reached(0);
        }
      }
      int* off = &offsets[static_cast<std::size_t>(gpu) * static_cast<std::size_t>(N + 1)];
      for (int m = 0; m < N; ++m) {
        off[m + 1] = off[m] + kept_per_node[static_cast<std::size_t>(m)];
        b.add_rows(inter, gpu, same_index(gpu, m), padded ? c_node : kept_per_node[static_cast<std::size_t>(m)]);
      }
      std::vector<int> fill(off, off + N);
      std::uint16_t* out = &bucket[static_cast<std::size_t>(gpu) * static_cast<std::size_t>(S)];
      for (int t = 0; t < S; ++t) {
        if (!keep[static_cast<std::size_t>(t)]) continue;
        const auto e = in.gating.token(gpu, t)[0];
        out[fill[static_cast<std::size_t>(group_node(gpu, e))]++] = e;
      }
    }

    // Level 2: forwarder f = (m, l) takes arrivals from (n, l) for n = 0..N-1, in order.
    std::vector<int> kept_per_gpu(static_cast<std::size_t>(G));
    for (int f = 0; f < P; ++f) {
      std::fill(kept_per_gpu.begin(), kept_per_gpu.end(), 0);
      const int base = L.group_base(f);
      const int m = (f - base) / G;
      for (int n = 0; n < N; ++n) {
        const int src = same_index(f, n);
        const int* off = &offsets[static_cast<std::size_t>(src) * static_cast<std::size_t>(N + 1)];
        const std::uint16_t* arrivals = &bucket[static_cast<std::size_t>(src) * static_cast<std::size_t>(S)];
        for (int i = off[m]; i < off[m + 1]; ++i) {
          const int e = arrivals[i];
          const int dst = L.owner(f, e);
          auto& used = kept_per_gpu[static_cast<std::size_t>((dst - base) % G)];
          if (c_gpu >= 0 && used >= c_gpu) {
            b.stats(src).dropped += 1;
            b.stats(src).tokens_fully_dropped += 1;
            b.count_nodes_reached(0);
            continue;
          }
          ++used;
          b.count_nodes_reached(1);
          b.add_expert(dst, e, 0, padded ? 0.0 : 1.0, 1.0);
          if (!padded) b.add_rows(intra, f, dst, 1);
        }
      }
      if (padded) {
        for (int l = 0; l < G; ++l) {
          const int dst = base + m * G + l;
          b.add_rows(intra, f, dst, c_gpu);
          for (int e = L.first_expert(dst); e < L.first_expert(dst) + epr; ++e)
            b.add_expert(dst, e, 0, static_cast<double>(c_gpu) / epr, 0.0);
        }
      }
    }
    return std::move(b).finish();
  }

 private:
  double cf_inter_, cf_intra_;  // NaN = the model's capacity_factor
};

}  // namespace

std::unique_ptr<RoutingStrategy> make_smile(const ParamValues& p) { return std::make_unique<SmileStrategy>(p); }

}  // namespace moesim::strategies
