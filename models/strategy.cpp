#include "models/strategy.h"

#include <cmath>
#include <limits>

#include "models/strategies/strategies.h"
#include "sim/error.h"

namespace moesim {
namespace {

constexpr double kFromModel = std::numeric_limits<double>::quiet_NaN();

// Parameter declarations, one array per strategy that has parameters.
constexpr ParamInfo kSmileParams[] = {
    {"cf_inter", "capacity factor of the node level (default: the model's capacity_factor)", kFromModel, 0, 1000},
    {"cf_intra", "capacity factor of the GPU level (default: the model's capacity_factor)", kFromModel, 0, 1000},
};
constexpr ParamInfo kScomoeSeqParams[] = {
    {"alpha", "share of a GPU's tokens kept on its own experts (SCoMoE README advice 0.2)", 0.2, 0, 1},
    {"beta", "share of a GPU's tokens routed inside its node (README advice 0.5; 1 - alpha on one node)", 0.5, 0, 1},
    {"affinity", "1: local/node tokens are those that prefer local/node experts; 0: chosen at random", 1.0, 0, 1},
};
constexpr ParamInfo kScomoeFeatParams[] = {
    {"alpha", "share of the features processed by the GPU's own experts (README advice 0.2; alpha * d_model must be whole)", 0.25, 0, 1},
    {"beta", "share of the features routed inside the node (README advice 0.5; 1 - alpha on one node)", 0.5, 0, 1},
};
constexpr ParamInfo kTaMoeParams[] = {
    {"strength", "probability that an assignment follows the target pattern instead of the free gate (not published)", 0.5, 0, 1},
    {"epsilon", "Sinkhorn entropy regularisation relative to the cost range (smaller = sharper)", 0.1, 0.01, 100},
};
constexpr ParamInfo kNodeLimitedParams[] = {
    {"max_nodes", "M: most nodes a token may reach (DeepSeek-V3: 4)", 4, 1, 1 << 20, true},
};

const StrategyInfo kTable[] = {
    {"switch", "flat top-1 gate, one all-to-all over the EP group (Switch Transformer)", {}, strategies::make_switch},
    {"gshard", "flat top-2 gate, one all-to-all over the EP group (GShard)", {}, strategies::make_gshard},
    {"flat", "flat top-k gate with the model's top_k, one all-to-all over the EP group", {}, strategies::make_flat},
    {"smile", "bi-level: top-1 node over the network (same-index GPUs), then top-1 GPU inside the node (SMILE)", kSmileParams,
     strategies::make_smile},
    {"scomoe-seq", "tokens split local / intra-node / global by affinity; three sub-MoEs (SCoMoE-Seq)", kScomoeSeqParams,
     strategies::make_scomoe_seq},
    {"scomoe-feat", "features split into local / intra-node / global slices; three sub-MoEs (SCoMoE-Feat)", kScomoeFeatParams,
     strategies::make_scomoe_feat},
    {"ta-moe", "gate steered toward a cost-aware, load-balanced dispatch pattern (Sinkhorn; TA-MoE)", kTaMoeParams,
     strategies::make_ta_moe},
    {"hier-a2a", "flat gate; intra-node regroup by local index, then all-to-all among same-index GPUs (Tutel 2DH)", {},
     strategies::make_hier_a2a},
    {"node-limited", "at most M nodes per token; one network copy per node, NVLink forwarding (DeepSeek-V3)", kNodeLimitedParams,
     strategies::make_node_limited},
};

std::string describe_params(const StrategyInfo& info) {
  if (info.params.empty()) return "it has no parameters";
  std::vector<std::string> parts;
  for (const auto& p : info.params) parts.push_back(fmt::format("{} ({})", p.name, p.description));
  return fmt::format("its parameters: {}", fmt::join(parts, "; "));
}

}  // namespace

std::optional<double> StrategyParams::get(std::string_view name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

void set_strategy_param(StrategyParams& params, std::string_view name, std::string_view value) {
  if (name.empty()) throw InputError(fmt::format("strategy parameter \"={}\": missing the parameter name", value));
  const std::string text(value);
  std::size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || !std::isfinite(v))
    throw InputError(fmt::format("strategy parameter {}={}: expected a number", name, value));
  params.set(name, v);
}

ParamValues::ParamValues(std::span<const ParamInfo> info, const StrategyParams& given) {
  for (const auto& p : info) values_.emplace_back(p.name, given.get(p.name).value_or(p.default_value));
}

double ParamValues::operator[](std::string_view name) const {
  for (const auto& [n, v] : values_)
    if (n == name) return v;
  throw InvariantError(fmt::format("strategy parameter {} is not declared in the strategy table", name));
}

std::span<const StrategyInfo> strategy_table() { return kTable; }

const StrategyInfo* find_strategy(std::string_view name) {
  for (const auto& s : kTable)
    if (s.name == name) return &s;
  return nullptr;
}

std::optional<std::string> check_strategy_param(const StrategyInfo& info, std::string_view name, double value) {
  for (const auto& p : info.params) {
    if (p.name != name) continue;
    if (!std::isfinite(value) || value < p.min || value > p.max)
      return fmt::format("{} = {} is out of range: expected {} in [{}, {}]", name, value, p.integer ? "an integer" : "a number", p.min, p.max);
    if (p.integer && value != std::floor(value)) return fmt::format("{} = {} must be an integer", name, value);
    return std::nullopt;
  }
  return fmt::format("no parameter \"{}\"; {}", name, describe_params(info));
}

std::unique_ptr<RoutingStrategy> make_strategy(std::string_view name, const StrategyParams& params) {
  const StrategyInfo* info = find_strategy(name);
  if (!info) {
    std::vector<std::string_view> names;
    for (const auto& s : kTable) names.push_back(s.name);
    throw InputError(fmt::format("unknown routing strategy \"{}\": expected one of {}", name, fmt::join(names, ", ")));
  }
  for (const auto& [key, value] : params.values())
    if (auto msg = check_strategy_param(*info, key, value)) throw InputError(fmt::format("strategy {}: {}", name, *msg));
  return info->make(ParamValues(info->params, params));
}

}  // namespace moesim
