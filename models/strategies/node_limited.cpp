// node-limited: DeepSeek-V3's node-limited routing with de-duplicated forwarding
// (DeepSeek-V3 report §2.1.2 and §3.2.2; routing-strategies.md).
//
// Each token uses at most M nodes. DeepSeek picks the M nodes with the highest sum of the
// k/M best expert affinities per node; the gate model here has rankings, not scores, so the
// nodes are those of the token's best-ranked experts: walking its top-k in order, the first M
// distinct nodes. A token whose top-k spans more than M nodes is rerouted: its experts become
// its first k choices restricted to those nodes (Plackett-Luce restriction, gating.h).
//
// Phases (point-to-point kernels like DeepEP's, not collectives):
//   dispatch-inter (step 0): the token crosses the network once per target node m != its
//     own, to the GPU with its own local index on m (rail-aligned);
//   dispatch-intra (step 1): that GPU forwards it over NVLink once per target GPU on m
//     (de-duplicated: two experts on one GPU receive one copy); targets on the token's own
//     node are sent directly from the source GPU.
//   combine mirrors both (each GPU returns one partial sum per token; the forwarder reduces
//   them and sends one message back).
// Capacity mode drops assignments over C = int(k * ceil(S / E) * cf) per (source, expert),
// but buffers are never padded (DeepEP sends exact counts); DeepSeek-V3 itself is dropless.
#include <algorithm>
#include <array>

#include "models/strategies/routing_util.h"
#include "models/strategies/strategies.h"
#include "sim/error.h"

namespace moesim::strategies {
namespace {

class NodeLimitedStrategy final : public RoutingStrategy {
 public:
  explicit NodeLimitedStrategy(const ParamValues& p) : max_nodes_(static_cast<int>(p["max_nodes"])) {}
  std::string_view name() const override { return "node-limited"; }

  DispatchPlan plan(const RoutingInput& in) const override {
    const auto& L = in.layout;
    const auto& c = L.cluster;
    const int k = in.model.top_k;
    const int S = in.model.tokens_per_gpu;
    const int G = L.group_shape().gpus_per_node;
    routing::PlanBuilder b(in, name());
    const int inter = b.add_phase("dispatch-inter", ProcessGroup::InterNodeSameLocal, CommPattern::PointToPoint, 0, in.model.d_model);
    const int intra = b.add_phase("dispatch-intra", ProcessGroup::IntraNode, CommPattern::PointToPoint, 1, in.model.d_model);
    const int C = b.padded() ? routing::capacity(k, S, L.num_experts, in.model.capacity_factor) : -1;

    const int per_node = G * L.experts_per_rank;  // experts per node of the group
    std::vector<int> nodes, targets;
    std::vector<ExpertRange> ranges;
    auto choose = [&](int gpu, std::span<std::uint16_t> choices) {
      const auto& gm = b.group(gpu);
      const int first_node = gm.node[0];
      double rerouted = 0;
      Rng rng = routing::strategy_rng(in, name(), gpu);
      routing::first_choices(in, gpu, k, choices, rng);
      for (int t = 0; t < S; ++t) {
        auto tok = choices.subspan(static_cast<std::size_t>(t) * static_cast<std::size_t>(k), static_cast<std::size_t>(k));
        nodes.clear();
        for (auto e : tok) {
          const int m = gm.node[e] - first_node;  // node index inside the group
          if (std::find(nodes.begin(), nodes.end(), m) == nodes.end()) nodes.push_back(m);
        }
        if (static_cast<int>(nodes.size()) <= max_nodes_) continue;
        nodes.resize(static_cast<std::size_t>(max_nodes_));  // the first M distinct nodes in ranking order
        std::sort(nodes.begin(), nodes.end());
        ranges.clear();
        for (int m : nodes) ranges.push_back({m * per_node, (m + 1) * per_node});
        const int got = restricted_choices(in.gating, gpu, t, ranges, k, tok, rng);
        MOESIM_CHECK(got == k, "token {} got {} of {} experts in {} nodes", t, got, k, max_nodes_);
        rerouted += 1;
      }
      return rerouted;
    };
    auto visit = [&](int gpu, int, std::span<const std::uint16_t> kept) {
      const auto& gm = b.group(gpu);
      const int own = c.node_of(gpu);
      const int local = c.local_of(gpu);
      targets.clear();
      nodes.clear();
      for (auto e : kept) {
        const int g = gm.owner[e];
        if (std::find(targets.begin(), targets.end(), g) != targets.end()) continue;  // one copy per GPU
        targets.push_back(g);
        const int m = gm.node[e];
        const int via = m == own ? gpu : c.gpu(m, local);
        b.add_rows(intra, via, g, 1);
        if (via != gpu && std::find(nodes.begin(), nodes.end(), m) == nodes.end()) {  // one network copy per node
          nodes.push_back(m);
          b.add_rows(inter, gpu, via, 1);
        }
      }
    };
    routing::route_tokens(in, b, k, [C](int) { return routing::Capacity{.uniform = C}; }, /*padded_rows=*/false, choose, visit);
    return std::move(b).finish();
  }

 private:
  int max_nodes_;
};

}  // namespace

std::unique_ptr<RoutingStrategy> make_node_limited(const ParamValues& p) { return std::make_unique<NodeLimitedStrategy>(p); }

}  // namespace moesim::strategies
