#include "models/model_config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "sim/error.h"
#include "test_models.h"

namespace moesim {
namespace {

using testing::small_model;

// Runs f and returns the JSON path of the ConfigError it throws ("<none>" if it does not).
template <typename F>
std::string error_path(F&& f, std::string* message = nullptr) {
  try {
    f();
  } catch (const ConfigError& e) {
    if (message) *message = e.what();
    return e.json_path();
  }
  return "<none>";
}

TEST(ModelConfig, EveryPresetLoadsAndRoundTripsThroughJson) {
  const auto names = model_preset_names();
  ASSERT_EQ(names.size(), 6u);
  for (const auto& name : names) {
    SCOPED_TRACE(name);
    const ModelConfig m = load_model(name);
    EXPECT_EQ(m.name, name);
    EXPECT_FALSE(m.source.empty());
    EXPECT_FALSE(m.moe_layer_indices().empty());
    ASSERT_TRUE(m.routing.has_value());
    EXPECT_NE(find_strategy(m.routing->strategy), nullptr);
    ModelConfig again = parse_model(to_json(m), m.origin);
    EXPECT_EQ(again, m);
  }
}

// Switch-Base: 12 layers, every 2nd FFN is MoE -> layers 1, 3, 5, 7, 9, 11.
TEST(ModelConfig, SwitchBasePresetHasMoeInEveryOtherLayer) {
  const auto m = load_model("switch-base-128");
  EXPECT_EQ(m.moe_layer_indices(), (std::vector<int>{1, 3, 5, 7, 9, 11}));
  EXPECT_EQ(m.num_experts, 128);
  EXPECT_EQ(m.top_k, 1);
  EXPECT_EQ(m.d_model, 768);
  EXPECT_EQ(m.d_ff, 3072);
}

// DeepSeek-V3: 61 layers, the first 3 dense -> 58 MoE layers (3..60).
TEST(ModelConfig, DeepSeekV3PresetHasThreeDenseLayersAndFp8Dispatch) {
  const auto m = load_model("deepseek-v3");
  const auto moe = m.moe_layer_indices();
  ASSERT_EQ(moe.size(), 58u);
  EXPECT_EQ(moe.front(), 3);
  EXPECT_EQ(moe.back(), 60);
  EXPECT_EQ(m.dispatch_dtype, DType::Fp8);
  EXPECT_EQ(m.dtype, DType::Bf16);
  EXPECT_EQ(m.shared_experts, 1);
  EXPECT_EQ(m.top_k, 8);
  EXPECT_TRUE(m.gated_ffn);
  EXPECT_EQ(m.routing->params.at("max_nodes"), 4);
}

TEST(ModelConfig, UnknownPresetNamesEveryPreset) {
  try {
    load_model("gpt-17");
    FAIL() << "no error";
  } catch (const InputError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("gpt-17"), std::string::npos);
    for (const auto& name : model_preset_names()) EXPECT_NE(msg.find(name), std::string::npos) << msg;
  }
}

TEST(ModelConfig, MissingFileIsAConfigErrorNamingTheFile) {
  std::string msg;
  error_path([] { load_model("/nonexistent/model.json"); }, &msg);
  EXPECT_NE(msg.find("/nonexistent/model.json"), std::string::npos) << msg;
}

TEST(ModelConfig, BadValuesAreErrorsAtTheirJsonPath) {
  std::string msg;
  EXPECT_EQ(error_path([] { small_model({{"top_k", 33}}); }, &msg), "/top_k");
  EXPECT_NE(msg.find("only 32 experts"), std::string::npos) << msg;
  EXPECT_EQ(error_path([] { small_model({{"topk", 2}}); }), "/topk");
  EXPECT_EQ(error_path([] { small_model({{"d_model", 0}}); }), "/d_model");
  EXPECT_EQ(error_path([] { small_model({{"capacity_factor", 0}}); }), "/capacity_factor");
  EXPECT_EQ(error_path([] { small_model({{"dtype", "fp8"}}); }), "/dtype");
  EXPECT_EQ(error_path([] { small_model({{"dispatch_dtype", "int4"}}); }), "/dispatch_dtype");
  EXPECT_EQ(error_path([] { small_model({{"attention_heads", 5}}); }), "/attention_heads");
  EXPECT_EQ(error_path([] { small_model({{"buffer_mode", "padded"}}); }), "/buffer_mode");
  EXPECT_EQ(error_path([] { small_model({{"first_dense_layers", 4}}); }), "/first_dense_layers");
  EXPECT_EQ(error_path([] { small_model({{"moe_layers", {1, 3}}, {"moe_layer_interval", 2}}); }), "/moe_layers");
  EXPECT_EQ(error_path([] { small_model({{"moe_layers", {1, 4}}}); }), "/moe_layers/1");
  EXPECT_EQ(error_path([] { small_model({{"moe_layers", {2, 1}}}); }), "/moe_layers/1");
  // Interval 8 in 4 layers: (l + 1) % 8 == 0 never holds.
  EXPECT_EQ(error_path([] { small_model({{"moe_layer_interval", 8}}); }), "/moe_layer_interval");
}

TEST(ModelConfig, GatingAndRoutingErrorsNameTheirNestedPath) {
  std::string msg;
  EXPECT_EQ(error_path([] { small_model({{"gating", {{"distribution", "zipf"}}}}); }), "/gating/params");
  EXPECT_EQ(error_path([] { small_model({{"gating", {{"distribution", "zipf"}, {"params", nlohmann::json::object()}}}}); }),
            "/gating/params/exponent");
  EXPECT_EQ(error_path([] { small_model({{"gating", {{"distribution", "zipf"}, {"params", {{"exponent", 1}, {"spread", 2}}}}}}); }),
            "/gating/params/spread");
  EXPECT_EQ(error_path([] { small_model({{"gating", {{"distribution", "uniform"}, {"params", {{"exponent", 1}}}}}}); }),
            "/gating/params/exponent");
  EXPECT_EQ(error_path([] { small_model({{"gating", {{"distribution", "histogram"}, {"params", {{"counts", {1, 2, 3}}}}}}}); }),
            "/gating/params/counts");
  EXPECT_EQ(error_path([] {
              small_model({{"gating", {{"distribution", "correlated"}, {"params", {{"preferred_experts", 40}, {"strength", 0.5}}}}}});
            }),
            "/gating/params/preferred_experts");
  EXPECT_EQ(error_path([] { small_model({{"gating", {{"distribution", "zipf"}, {"params", {{"exponent", 1}, {"drift", 2}}}}}}); }),
            "/gating/params/drift");
  EXPECT_EQ(error_path([] { small_model({{"routing", {{"strategy", "random"}}}}); }, &msg), "/routing/strategy");
  EXPECT_NE(msg.find("smile"), std::string::npos) << msg;
  EXPECT_EQ(error_path([] { small_model({{"routing", {{"strategy", "smile"}, {"params", {{"alpha", 0.5}}}}}}); }, &msg),
            "/routing/params/alpha");
  EXPECT_NE(msg.find("cf_inter"), std::string::npos) << msg;
  EXPECT_NE(msg.find("strategy smile: no parameter \"alpha\""), std::string::npos) << msg;
  EXPECT_EQ(error_path([] { small_model({{"routing", {{"strategy", "node-limited"}, {"params", {{"max_nodes", 1.5}}}}}}); }),
            "/routing/params/max_nodes");
}

TEST(ModelConfig, HistogramFileResolvesNextToTheModelFile) {
  const auto dir = std::filesystem::temp_directory_path() / "moesim_models_test_hist";
  std::filesystem::create_directories(dir);
  nlohmann::json counts = nlohmann::json::array();
  for (int e = 0; e < 32; ++e) counts.push_back(e + 1);
  std::ofstream(dir / "hist.json") << nlohmann::json{{"source", "test"}, {"counts", counts}}.dump();
  auto model = to_json(small_model());
  model["gating"] = {{"distribution", "histogram"}, {"params", {{"file", "hist.json"}}}};
  std::ofstream(dir / "model.json") << model.dump();
  const auto m = load_model((dir / "model.json").string());
  ASSERT_EQ(m.gating.histogram.size(), 1u);
  EXPECT_EQ(m.gating.histogram[0][31], 32);
  // The canonical form carries the counts inline, so it loads without the file.
  EXPECT_EQ(parse_model(to_json(m), m.origin), m);

  std::ofstream(dir / "hist.json") << nlohmann::json{{"counts", counts}, {"bins", 3}}.dump();
  std::string msg;
  EXPECT_EQ(error_path([&] { load_model((dir / "model.json").string()); }, &msg), "/bins");
  EXPECT_NE(msg.find("hist.json"), std::string::npos) << msg;
  std::filesystem::remove_all(dir);
}

TEST(ModelConfig, OverridesChangeValuesAndRevalidate) {
  auto m = load_model("switch-base-128");
  apply_override(m, "capacity_factor", "1.0");
  EXPECT_EQ(m.capacity_factor, 1.0);
  apply_override(m, "dispatch_dtype", "fp8");
  EXPECT_EQ(m.dispatch_dtype, DType::Fp8);
  apply_override(m, "moe_layers", "[0,5]");
  EXPECT_EQ(m.moe_layer_indices(), (std::vector<int>{0, 5}));
  apply_override(m, "moe_layer_interval", "3");
  EXPECT_EQ(m.moe_layer_indices(), (std::vector<int>{2, 5, 8, 11}));
  const std::vector<std::pair<std::string, std::string>> zipf = {{"gating.distribution", "zipf"}, {"gating.params.exponent", "1.2"}};
  apply_overrides(m, zipf);
  EXPECT_EQ(m.gating.distribution, GatingKind::Zipf);
  EXPECT_EQ(m.gating.exponent, 1.2);
  apply_override(m, "gating.distribution", "uniform");  // clears the zipf parameters
  EXPECT_EQ(m.gating.distribution, GatingKind::Uniform);
  apply_override(m, "routing.strategy", "smile");  // switch -> smile; params start empty
  apply_override(m, "routing.params.cf_inter", "2");
  EXPECT_EQ(m.routing->params.at("cf_inter"), 2);
  EXPECT_EQ(error_path([&] { apply_override(m, "routing.params.alpha", "0.5"); }), "/routing/params/alpha");
}

TEST(ModelConfig, BadOverridesNameTheKeyAndValue) {
  auto m = load_model("mixtral-8x7b");
  std::string msg;
  EXPECT_EQ(error_path([&] { apply_override(m, "top_k", "abc"); }, &msg), "/top_k");
  EXPECT_NE(msg.find("--set top_k=abc"), std::string::npos) << msg;
  EXPECT_EQ(error_path([&] { apply_override(m, "top_k", "9"); }, &msg), "/top_k");
  EXPECT_EQ(error_path([&] { apply_override(m, "topk", "2"); }), "/topk");
  EXPECT_EQ(error_path([&] { apply_override(m, "gating.params.exponent", "1"); }), "/gating/params/exponent");
  EXPECT_THROW(apply_override(m, "top_k.x", "1"), InputError);
  EXPECT_THROW(apply_override(m, "", "1"), InputError);
  EXPECT_EQ(m.top_k, 2);  // failed overrides leave the config unchanged
}

TEST(ExpertLayout, PlacesExpertsInNodeAlignedGroups) {
  const auto m = small_model();  // 32 experts
  const auto a = make_expert_layout(m, {.nodes = 4, .gpus_per_node = 8});
  EXPECT_EQ(a.ep_size, 32);
  EXPECT_EQ(a.experts_per_rank, 1);
  EXPECT_EQ(a.owner(5, 17), 17);
  const auto b = make_expert_layout(m, {.nodes = 2, .gpus_per_node = 8});
  EXPECT_EQ(b.experts_per_rank, 2);
  EXPECT_EQ(b.owner(0, 17), 8);
  EXPECT_EQ(b.group_shape(), (ClusterShape{2, 8}));
  // 32 experts on 128 GPUs: replicas in blocks of 32 GPUs (4 nodes each), one expert per GPU.
  const auto c = make_expert_layout(m, {.nodes = 16, .gpus_per_node = 8});
  EXPECT_EQ(c.ep_size, 32);
  EXPECT_EQ(c.groups(), 4);
  EXPECT_EQ(c.owner(100, 3), 99);
  EXPECT_EQ(c.group_shape(), (ClusterShape{4, 8}));
  // EP 4 inside 8-GPU nodes.
  const auto d = make_expert_layout(small_model({{"expert_parallel_size", 4}}), {.nodes = 2, .gpus_per_node = 8});
  EXPECT_EQ(d.group_shape(), (ClusterShape{1, 4}));
  EXPECT_EQ(d.experts_per_rank, 8);
  EXPECT_EQ(d.owner(13, 9), 13);
}

TEST(ExpertLayout, ImpossibleCombinationsNameTheModelKey) {
  std::string msg;
  // 32 experts cannot be split over 48 GPUs (32 < 48 and 48 is not a multiple of 32).
  EXPECT_EQ(error_path([] { make_expert_layout(small_model(), {.nodes = 6, .gpus_per_node = 8}); }, &msg), "/num_experts");
  EXPECT_NE(msg.find("test model"), std::string::npos) << msg;
  // 48 experts over 32 ranks.
  EXPECT_EQ(error_path([] { make_expert_layout(small_model({{"num_experts", 48}}), {.nodes = 4, .gpus_per_node = 8}); }),
            "/num_experts");
  EXPECT_EQ(error_path([] { make_expert_layout(small_model({{"expert_parallel_size", 64}}), {.nodes = 4, .gpus_per_node = 8}); }),
            "/expert_parallel_size");
  EXPECT_EQ(error_path([] { make_expert_layout(small_model({{"expert_parallel_size", 12}, {"num_experts", 48}}), {.nodes = 3, .gpus_per_node = 8}); }),
            "/expert_parallel_size");
  // 12 experts on 24 GPUs -> groups of 12 GPUs, which straddle 8-GPU nodes.
  EXPECT_EQ(error_path([] { make_expert_layout(small_model({{"num_experts", 12}}), {.nodes = 3, .gpus_per_node = 8}); }),
            "/num_experts");
  EXPECT_EQ(error_path([] { make_expert_layout(small_model({{"data_parallel_size", 8}}), {.nodes = 4, .gpus_per_node = 8}); }),
            "/data_parallel_size");
}

}  // namespace
}  // namespace moesim
