// hier-a2a (Tutel 2DH): the flat gate and capacity, moved by a 2-phase collective
// (routing-strategies.md "Beyond the three papers"):
//   dispatch-intra (step 0, intra-node): GPU (n, l) sends to (n, l') everything bound for
//     GPUs with local index l' on any node (rows bound for (n, l') itself arrive here);
//   dispatch-inter (step 1, same local index): (n, l') sends to (m, l'), m != n, what it
//     collected for node m. Each GPU sends N-1 larger network messages instead of P-G.
// Combine mirrors both phases (inter first, then intra).
#include "models/strategies/routing_util.h"
#include "models/strategies/strategies.h"

namespace moesim::strategies {
namespace {

class HierA2aStrategy final : public RoutingStrategy {
 public:
  std::string_view name() const override { return "hier-a2a"; }

  DispatchPlan plan(const RoutingInput& in) const override {
    routing::PlanBuilder b(in, name());
    const int k = in.model.top_k;
    const auto rows = routing::flat_rows(in, b, k, [&](int gpu, std::span<std::uint16_t> choices) {
      Rng rng = routing::strategy_rng(in, name(), gpu);
      routing::first_choices(in, gpu, k, choices, rng);
      return 0.0;
    });
    const int intra = b.add_phase("dispatch-intra", ProcessGroup::IntraNode, b.a2a_pattern(), 0, in.model.d_model);
    const int inter = b.add_phase("dispatch-inter", ProcessGroup::InterNodeSameLocal, b.a2a_pattern(), 1, in.model.d_model);
    const auto& c = in.layout.cluster;
    const int P = b.gpus();
    for (int s = 0; s < P; ++s)
      rows.for_each_in_row(s, [&](int d, double r) {
        const int via = c.gpu(c.node_of(s), c.local_of(d));  // same node as s, same local index as d
        b.add_rows(intra, s, via, r);
        if (via != d) b.add_rows(inter, via, d, r);
      });
    return std::move(b).finish();
  }
};

}  // namespace

std::unique_ptr<RoutingStrategy> make_hier_a2a(const ParamValues&) { return std::make_unique<HierA2aStrategy>(); }

}  // namespace moesim::strategies
