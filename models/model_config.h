#pragma once
// MoE model and parallelism configuration: strict JSON (docs/MODELS.md), embedded presets
// (models/presets/*.json), `--set key=value` overrides, and the expert layout on a cluster.
//
// Errors: every bad value or impossible combination throws ConfigError naming the file (or
// "preset <name>") and the JSON pointer of the offending key, e.g.
//   "preset mixtral-8x7b (after --set top_k=9): /top_k: 9 experts per token but only 8 experts".
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/embedded.h"

namespace moesim {

/// Element types. fp8 is allowed for dispatch only (DeepSeek-V3 dispatches in FP8).
enum class DType : std::uint8_t { Fp32, Bf16, Fp16, Fp8 };
inline constexpr int kDTypeCount = 4;
/// JSON names: "fp32", "bf16", "fp16", "fp8".
std::string_view to_string(DType t);
std::optional<DType> dtype_from_string(std::string_view s);
/// Bytes per element: 4, 2, 2, 1.
double bytes_per_element(DType t);

/// How expert buffers are sized (routing-strategies.md): "capacity" = fixed buffers of C
/// tokens per (source GPU, expert), padded, overflow dropped (Switch/GShard);
/// "dropless" = exact counts, all-to-all-v (FastMoE/Tutel/MegaBlocks).
enum class BufferMode : std::uint8_t { Capacity, Dropless };
std::string_view to_string(BufferMode m);

enum class GatingKind : std::uint8_t { Uniform, Zipf, Correlated, Histogram };
std::string_view to_string(GatingKind k);

/// The gate's expert popularity (docs/MODELS.md "Gating distributions").
struct GatingSpec {
  GatingKind distribution = GatingKind::Uniform;
  /// zipf: popularity of the expert at rank r is proportional to 1/(r+1)^exponent.
  /// correlated: the base popularity (0 = uniform).
  double exponent = 0;
  /// correlated: how many experts each GPU prefers, and the share of its gate mass on them.
  int preferred_experts = 0;
  double strength = 0;
  /// Fraction of experts whose popularity rank changes from one layer to the next
  /// (round(drift * E / 2) random swaps per layer). Absent: zipf and correlated draw an
  /// independent popularity permutation per layer; histogram keeps its measured expert order.
  std::optional<double> drift;
  /// histogram: measured token counts per expert; one row per layer (used cyclically),
  /// or a single row for every layer. Loaded from "file" or given inline.
  std::vector<std::vector<double>> histogram;
  bool operator==(const GatingSpec&) const = default;
};

/// The routing a model was published with (optional; the CLI's --strategy overrides it).
struct RoutingDefault {
  std::string strategy;
  std::map<std::string, double, std::less<>> params;
  bool operator==(const RoutingDefault&) const = default;
};

struct ModelConfig {
  std::string name;
  std::string origin;  // "preset <name>" or the file path: names the file in later errors
  std::string source;  // citations (documentation only)
  std::string notes;

  int layers = 1;
  int first_dense_layers = 0;
  int moe_layer_interval = 1;        // used when moe_layers is empty
  std::vector<int> moe_layers;       // explicit MoE layer indices (0-based), or empty
  int d_model = 0;
  int d_ff = 0;                      // routed (and shared) expert FFN width
  int dense_d_ff = 0;                // FFN width of dense layers
  int num_experts = 0;               // routed experts
  int top_k = 1;
  int shared_experts = 0;            // always-active experts on every GPU (DeepSeek)
  double capacity_factor = 1.0;
  int seq_len = 0;
  int tokens_per_gpu = 0;            // S: micro-batch tokens per GPU
  DType dtype = DType::Bf16;         // weights, activations, combine, gradients
  DType dispatch_dtype = DType::Bf16;
  bool gated_ffn = false;            // SwiGLU/GEGLU: 3 GEMMs per expert instead of 2
  int attention_heads = 1;
  int expert_parallel_size = 0;      // 0 = all GPUs
  int data_parallel_size = 0;        // 0 = all GPUs
  BufferMode buffer_mode = BufferMode::Capacity;
  GatingSpec gating;
  std::optional<RoutingDefault> routing;

  bool operator==(const ModelConfig&) const = default;
  bool is_moe_layer(int layer) const;
  /// Indices of the MoE layers, ascending.
  std::vector<int> moe_layer_indices() const;
};

/// The embedded presets (file stem = preset name).
std::span<const EmbeddedFile> model_presets();
std::vector<std::string> model_preset_names();

/// A preset name ("switch-base-128") or a path to a JSON file (contains '/' or ends in
/// ".json"). Unknown preset names list the presets. Relative histogram files resolve against
/// the model file's directory.
ModelConfig load_model(const std::string& name_or_file);
/// Parses and validates a model object. `file_label` names it in errors.
ModelConfig parse_model(const nlohmann::json& root, const std::string& file_label,
                        const std::string& base_dir = ".");
/// The canonical JSON form (histograms inline); parse_model(to_json(m)) == m.
nlohmann::json to_json(const ModelConfig& m);

/// `--set key=value`: key is a JSON key with '.' for nesting ("top_k",
/// "gating.params.exponent", "routing.params.max_nodes"); value is JSON ("1.25", "true",
/// "[1,3]") or a bare string ("fp8"). Re-validates the whole config; errors name the key.
/// Setting moe_layers clears moe_layer_interval and vice versa.
void apply_override(ModelConfig& m, std::string_view key, std::string_view value);
/// Several overrides applied together and validated once (so a distribution and its new
/// parameters can change in one go). On error `m` is unchanged.
void apply_overrides(ModelConfig& m, std::span<const std::pair<std::string, std::string>> overrides);

// ---------------------------------------------------------------------------------------
// Cluster shape and expert placement.

/// A uniform cluster: `nodes` x `gpus_per_node`; GPU id = node * gpus_per_node + local.
struct ClusterShape {
  int nodes = 1;
  int gpus_per_node = 1;
  int gpus() const { return nodes * gpus_per_node; }
  int node_of(int gpu) const { return gpu / gpus_per_node; }
  int local_of(int gpu) const { return gpu % gpus_per_node; }
  int gpu(int node, int local) const { return node * gpus_per_node + local; }
  bool operator==(const ClusterShape&) const = default;
};

/// Where experts live. Expert-parallel (EP) groups are blocks of `ep_size` consecutive GPUs,
/// aligned with nodes; every group holds all E experts, `experts_per_rank` per GPU, expert e
/// on group rank e / experts_per_rank. Tokens stay inside their GPU's group. When E is
/// smaller than the requested EP size, the group shrinks to E ranks (one expert per GPU) and
/// the extra GPUs hold replicas in their own groups (expert-data-parallel).
struct ExpertLayout {
  ClusterShape cluster;
  int ep_size = 1;
  int num_experts = 1;
  int experts_per_rank = 1;
  int data_parallel_size = 1;  // GPUs sharing dense weights (all of them: no TP/PP modelled)

  int groups() const { return cluster.gpus() / ep_size; }
  int group_of(int gpu) const { return gpu / ep_size; }
  int group_base(int gpu) const { return group_of(gpu) * ep_size; }
  /// Shape of one EP group: (ep_size / G) x G, or 1 x ep_size when the group is inside a node.
  ClusterShape group_shape() const;
  /// Global GPU that hosts `expert` (group-local id) for tokens of `gpu`'s group.
  int owner(int gpu, int expert) const { return group_base(gpu) + expert / experts_per_rank; }
  /// First group-local expert id hosted by `gpu`.
  int first_expert(int gpu) const { return (gpu - group_base(gpu)) * experts_per_rank; }
};

/// Checks the model against the cluster (EP size divides the GPUs and the experts, EP groups
/// align with nodes, DP = all GPUs) and returns the placement. ConfigError names the
/// model file and the key, e.g. "/expert_parallel_size".
ExpertLayout make_expert_layout(const ModelConfig& m, ClusterShape cluster);

}  // namespace moesim
