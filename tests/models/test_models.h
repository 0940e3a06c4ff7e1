#pragma once
// Small helpers shared by the models tests.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/model_config.h"
#include "models/strategy.h"

namespace moesim::testing {

/// A small model (d 64, d_ff 128, 32 experts, top-2, 512 tokens per GPU, dropless) with
/// `changes` merged in.
inline ModelConfig small_model(const nlohmann::json& changes = nlohmann::json::object()) {
  nlohmann::json j = {{"name", "small"},       {"layers", 4},           {"d_model", 64},       {"d_ff", 128},
                      {"num_experts", 32},     {"top_k", 2},            {"seq_len", 128},      {"tokens_per_gpu", 512},
                      {"attention_heads", 4},  {"capacity_factor", 1.25}, {"buffer_mode", "dropless"}};
  j.update(changes);
  return parse_model(j, "test model");
}

/// Seconds per byte: 0 to itself, 1/300e9 inside a node, 1/25e9 across nodes.
inline std::vector<double> test_costs(ClusterShape c) {
  const int P = c.gpus();
  std::vector<double> cost(static_cast<std::size_t>(P) * P);
  for (int i = 0; i < P; ++i)
    for (int j = 0; j < P; ++j)
      cost[static_cast<std::size_t>(i) * P + j] = i == j ? 0.0 : c.node_of(i) == c.node_of(j) ? 1 / 300e9 : 1 / 25e9;
  return cost;
}

inline DispatchPlan plan_for(std::string_view strategy, const ModelConfig& m, ClusterShape c, std::uint64_t seed = 1,
                             const StrategyParams& params = {}, int layer = 1) {
  const auto layout = make_expert_layout(m, c);
  const auto sample = sample_gating(m, layout, layer, seed);
  const auto costs = test_costs(c);
  const auto s = make_strategy(strategy, params);
  return s->plan({.model = m, .layout = layout, .gating = sample, .cost_s_per_byte = costs});
}

}  // namespace moesim::testing
