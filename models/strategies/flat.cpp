// flat: one gate over all E experts, one all-to-all over the EP group for dispatch and one for
// combine (routing-strategies.md "flat"). Three table rows share this class:
//   switch (top-1, Switch Transformer), gshard (top-2, GShard), flat (the model's top_k).
// Capacity (capacity mode): C = int(k * ceil(S / E) * cf) per (source GPU, expert), GShard
// order, padded buffers: every GPU sends E_loc * C rows to every rank of its group.
#include <string>

#include "models/strategies/routing_util.h"
#include "models/strategies/strategies.h"
#include "sim/error.h"

namespace moesim::strategies {
namespace {

class FlatStrategy final : public RoutingStrategy {
 public:
  FlatStrategy(std::string_view name, int k) : name_(name), k_(k) {}
  std::string_view name() const override { return name_; }

  DispatchPlan plan(const RoutingInput& in) const override {
    const int k = k_ > 0 ? k_ : in.model.top_k;
    if (k > in.layout.num_experts)
      throw InputError(fmt::format("strategy {} routes each token to {} experts but the model has {}", name_, k, in.layout.num_experts));
    routing::PlanBuilder b(in, name_);
    const int phase = b.add_phase("dispatch", ProcessGroup::Global, b.a2a_pattern(), 0, in.model.d_model);
    b.set_rows(phase, routing::flat_rows(in, b, k, [&](int gpu, std::span<std::uint16_t> choices) {
      Rng rng = routing::strategy_rng(in, name_, gpu);
      routing::first_choices(in, gpu, k, choices, rng);
      return 0.0;
    }));
    return std::move(b).finish();
  }

 private:
  std::string name_;
  int k_;  // 0 = the model's top_k
};

}  // namespace

std::unique_ptr<RoutingStrategy> make_flat(const ParamValues&) { return std::make_unique<FlatStrategy>("flat", 0); }
std::unique_ptr<RoutingStrategy> make_switch(const ParamValues&) { return std::make_unique<FlatStrategy>("switch", 1); }
std::unique_ptr<RoutingStrategy> make_gshard(const ParamValues&) { return std::make_unique<FlatStrategy>("gshard", 2); }

}  // namespace moesim::strategies
