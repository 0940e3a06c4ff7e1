#pragma once
// Routing strategies (routing-strategies.md; docs/STRATEGIES.md): one interface, one class per
// strategy in models/strategies/<name>.cpp, picked by name from one explicit table in
// models/strategy.cpp (no registration macros).
//
// A strategy turns one layer's gate sample into a DispatchPlan: it decides which experts each
// token really uses (node limits, local-first, steering, capacity drops) and which bytes move
// between which GPUs in which phases. It never looks at links: ta-moe receives per-pair costs
// as a plain matrix computed by the caller.
//
// Usage:
//   StrategyParams p;
//   set_strategy_param(p, "alpha", "0.2");                 // from --param alpha=0.2
//   auto s = make_strategy("scomoe-seq", p);               // InputError on unknown names
//   auto layout = make_expert_layout(model, {.nodes = 4, .gpus_per_node = 8});
//   auto sample = sample_gating(model, layout, layer, seed);
//   DispatchPlan plan = s->plan({.model = model, .layout = layout, .gating = sample});
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "models/dispatch_plan.h"
#include "models/gating.h"
#include "models/model_config.h"

namespace moesim {

/// A strategy parameter's declaration (one row of the strategy table).
struct ParamInfo {
  std::string_view name;
  std::string_view description;
  /// Default value; NaN = taken from the model config (documented in `description`).
  double default_value;
  double min;
  double max;
  bool integer = false;
};

/// Parameter values by name, as given by the user (unvalidated until make_strategy).
class StrategyParams {
 public:
  void set(std::string_view name, double value) { values_[std::string(name)] = value; }
  std::optional<double> get(std::string_view name) const;
  const std::map<std::string, double, std::less<>>& values() const { return values_; }
  bool empty() const { return values_.empty(); }

 private:
  std::map<std::string, double, std::less<>> values_;
};

/// Parses `value` as a number and stores it; InputError naming the parameter otherwise.
/// (Names are checked against the chosen strategy by make_strategy.)
void set_strategy_param(StrategyParams& params, std::string_view name, std::string_view value);

/// Every declared parameter of one strategy with its value (given, or the default; NaN =
/// "from the model").
class ParamValues {
 public:
  ParamValues(std::span<const ParamInfo> info, const StrategyParams& given);
  /// InvariantError if `name` is not declared for this strategy.
  double operator[](std::string_view name) const;

 private:
  std::vector<std::pair<std::string_view, double>> values_;
};

/// What a strategy plans from.
struct RoutingInput {
  const ModelConfig& model;
  const ExpertLayout& layout;
  const GatingSample& gating;  // the layer's gate decisions (carries the layer and seed)
  /// ta-moe only: seconds per byte from GPU i to GPU j, row-major, gpus x gpus (the caller
  /// derives it from the topology). Empty for the other strategies.
  std::span<const double> cost_s_per_byte = {};
};

class RoutingStrategy {
 public:
  virtual ~RoutingStrategy() = default;
  /// The table name ("smile", ...).
  virtual std::string_view name() const = 0;
  /// True when plan() needs RoutingInput::cost_s_per_byte.
  virtual bool needs_costs() const { return false; }
  /// Plans one layer. Throws InputError when the model, cluster and parameters cannot work
  /// together (e.g. scomoe-feat slice widths that are not whole features).
  virtual DispatchPlan plan(const RoutingInput& in) const = 0;
};

struct StrategyInfo {
  std::string_view name;
  std::string_view description;  // one line
  std::span<const ParamInfo> params;
  std::unique_ptr<RoutingStrategy> (*make)(const ParamValues&);
};

/// The one table of strategies, in documentation order.
std::span<const StrategyInfo> strategy_table();
/// nullptr when unknown.
const StrategyInfo* find_strategy(std::string_view name);
/// The error message for `name = value` on `info`, or nullopt when fine.
std::optional<std::string> check_strategy_param(const StrategyInfo& info, std::string_view name, double value);
/// Unknown strategy: InputError listing the table. Unknown parameter or value out of range:
/// InputError naming it and listing the strategy's parameters.
std::unique_ptr<RoutingStrategy> make_strategy(std::string_view name, const StrategyParams& params = {});

}  // namespace moesim
