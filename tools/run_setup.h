#pragma once
// What `moesim run`, `compare` and `sweep` share: loading a cluster, cost factors and model
// with --set overrides, turning a strategy name and strategy.* parameters into
// TrainingStepOptions, and the JSON form of a TrainingStepResult.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/model_config.h"
#include "models/training_step.h"
#include "sim/cost_factors.h"
#include "topologies/topology.h"

namespace moesim::cli {

/// "key=value" -> {key, value}; InputError naming the --set argument otherwise.
std::pair<std::string, std::string> split_set(const std::string& kv);

/// --set arguments split into model overrides and strategy.NAME parameters.
struct SetArguments {
  std::vector<std::pair<std::string, std::string>> model;     // key, value
  std::vector<std::pair<std::string, std::string>> strategy;  // NAME (without "strategy."), value
};
SetArguments split_sets(const std::vector<std::string>& sets);

/// The model preset or file with the model overrides applied.
ModelConfig load_model_with(const std::string& name_or_file, const SetArguments& sets);

/// Every strategy name in table order.
std::vector<std::string> all_strategy_names();
/// "all" -> every strategy; else the comma-separated names (each checked against the table).
std::vector<std::string> parse_strategy_list(const std::string& list);

/// Options for one strategy. `only_declared`: skip strategy.* parameters the strategy does
/// not declare (compare and sweep apply one --set to several strategies); otherwise an
/// undeclared parameter is an InputError. Unknown strategy names are InputErrors.
TrainingStepOptions training_options(const std::string& strategy,
                                     const std::vector<std::pair<std::string, std::string>>& strategy_params,
                                     std::uint64_t seed, int distinct_layer_plans, bool only_declared);

/// Flow-level replays above this many messages take minutes and GiBs (docs/PERFORMANCE.md).
inline constexpr std::size_t kLongReplayMessages = 5'000'000;
/// What a long replay replays: a training step (`run`, `compare`) or one collective.
enum class ReplayKind : std::uint8_t { Step, Collective };
/// The note `run`, `compare` and `collective` print on stderr before such a replay
/// (TrainingStepOptions::on_replay_size, CollectiveOptions::on_replay_size), suggesting
/// --fidelity fluid; nullopt for `messages` <= kLongReplayMessages.
std::optional<std::string> long_replay_note(std::size_t messages, ReplayKind kind = ReplayKind::Step);

/// The note `run`, `compare` and `collective` print on stderr after a fluid simulation that
/// priced `alltoalls` all-to-alls across node kinds by the formula because they were too large
/// to replay (sim/collectives/fluid.h, fluid_alltoall); nullopt for none.
std::optional<std::string> fluid_window_note(int alltoalls);

/// `moesim run`'s progress through a long replay (after long_replay_note), on stderr: on a
/// terminal one bar redrawn in place at most twice a second, otherwise (a log file) a line
/// every 30 s; either way a last line when the replay ends. Silent until arm().
class ReplayProgress {
 public:
  enum class Style : std::uint8_t { Bar, Lines };
  ReplayProgress(std::FILE* out, Style style) : out_(out), style_(style) {}
  void arm();
  /// TrainingStepOptions::on_replay_progress.
  void operator()(std::size_t done, std::size_t total);
  /// The text of one report: `elapsed_s` since arm(); done == total is the last.
  static std::string text(Style style, std::size_t done, std::size_t total, double elapsed_s);

 private:
  std::FILE* out_;
  Style style_;
  bool armed_ = false;
  std::chrono::steady_clock::time_point start_;
  double next_s_ = 0;  // seconds after arm() of the next report (the last one is always made)
};

/// The result as JSON (docs/OUTPUTS.md lists every field).
nlohmann::json result_to_json(const TrainingStepResult& r);

}  // namespace moesim::cli
