#include "tools/run_setup.h"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "models/strategy.h"
#include "sim/collectives/fluid.h"
#include "sim/error.h"
#include "tools/cli_util.h"

namespace moesim::cli {

std::pair<std::string, std::string> split_set(const std::string& kv) {
  const auto eq = kv.find('=');
  if (eq == std::string::npos || eq == 0)
    throw InputError(fmt::format("--set \"{}\": expected key=value (model keys like top_k=2, or strategy.NAME=VALUE)", kv));
  return {kv.substr(0, eq), kv.substr(eq + 1)};
}

SetArguments split_sets(const std::vector<std::string>& sets) {
  SetArguments out;
  for (const auto& kv : sets) {
    auto [k, v] = split_set(kv);
    if (k.rfind("strategy.", 0) == 0) out.strategy.emplace_back(k.substr(9), v);
    else out.model.emplace_back(k, v);
  }
  return out;
}

ModelConfig load_model_with(const std::string& name_or_file, const SetArguments& sets) {
  ModelConfig m = load_model(name_or_file);
  if (!sets.model.empty()) apply_overrides(m, sets.model);
  return m;
}

std::vector<std::string> all_strategy_names() {
  std::vector<std::string> names;
  for (const auto& s : strategy_table()) names.emplace_back(s.name);
  return names;
}

namespace {
const StrategyInfo& checked_strategy(const std::string& name) {
  const StrategyInfo* info = find_strategy(name);
  if (!info)
    throw InputError(fmt::format("unknown strategy \"{}\": expected one of {}", name, fmt::join(all_strategy_names(), ", ")));
  return *info;
}
}  // namespace

std::vector<std::string> parse_strategy_list(const std::string& list) {
  if (list == "all") return all_strategy_names();
  std::vector<std::string> names;
  std::size_t start = 0;
  while (true) {
    const auto c = list.find(',', start);
    names.push_back(list.substr(start, c == std::string::npos ? std::string::npos : c - start));
    checked_strategy(names.back());
    if (c == std::string::npos) break;
    start = c + 1;
  }
  return names;
}

TrainingStepOptions training_options(const std::string& strategy,
                                     const std::vector<std::pair<std::string, std::string>>& strategy_params,
                                     std::uint64_t seed, int distinct_layer_plans, bool only_declared) {
  const StrategyInfo& info = checked_strategy(strategy);
  TrainingStepOptions o;
  o.strategy = strategy;
  o.seed = seed;
  o.distinct_layer_plans = distinct_layer_plans;
  for (const auto& [k, v] : strategy_params) {
    const bool declared = std::any_of(info.params.begin(), info.params.end(), [&](const ParamInfo& pi) { return pi.name == k; });
    if (only_declared && !declared) continue;
    set_strategy_param(o.params, k, v);
  }
  return o;
}

std::optional<std::string> long_replay_note(std::size_t messages, ReplayKind kind) {
  if (messages <= kLongReplayMessages) return std::nullopt;
  const double millions = static_cast<double>(messages) / 1e6;
  if (kind == ReplayKind::Collective)
    // Per million messages (docs/PERFORMANCE.md, "moesim collective"): a 64 MiB all-to-all on
    // 128 and 256 x p4d, 1.0 M messages in 2.0 s and 125 MB, 4.2 M in 8.3 s and 448 MB; a
    // 1 MiB ring all-reduce on 64 and 128 x p4d, 2.1 M in 1.9 s and 196 MB, 8.4 M in 8.2 s and 764 MB.
    return fmt::format(
        "moesim: note: the flow model replays {:.1f} M messages for this collective; on the development machine "
        "each million took 0.9-2.0 s and 90-120 MB (docs/PERFORMANCE.md). --fidelity fluid prices it without them.",
        millions);
  // Per million messages (docs/PERFORMANCE.md): switch-base-128 on 16 x p4d, 0.45 M messages
  // in 0.6 s and 62 MB; deepseek-v3 node-limited on 128 x p4d, 73 M in 694 s and 7.2 GB.
  return fmt::format(
      "moesim: note: the flow model replays {:.1f} M messages for this step; on the development machine each "
      "million took 1.3-9.5 s and 100-140 MB (docs/PERFORMANCE.md). --fidelity fluid prices the step without them, "
      "in seconds.",
      millions);
}

std::optional<std::string> fluid_window_note(int alltoalls) {
  if (alltoalls <= 0) return std::nullopt;
  return fmt::format(
      "moesim: note: {} all-to-all{} across node kinds had more than {} messages, too many to replay, and {} priced "
      "by the fluid formula, which leaves out NCCL's window of peers in flight: on mixed A100/V100 nodes that made a "
      "uniform all-to-all up to 46% too fast (docs/PERFORMANCE.md). --fidelity flow replays every message.",
      alltoalls, alltoalls == 1 ? "" : "s", kMaxWindowReplayMessages, alltoalls == 1 ? "was" : "were");
}

namespace {
double report_interval_s(ReplayProgress::Style s) { return s == ReplayProgress::Style::Bar ? 0.5 : 30.0; }
}  // namespace

void ReplayProgress::arm() {
  armed_ = true;
  start_ = std::chrono::steady_clock::now();
  next_s_ = style_ == Style::Bar ? 0 : report_interval_s(style_);  // a bar at once, a line after 30 s
}

void ReplayProgress::operator()(std::size_t done, std::size_t total) {
  if (!armed_) return;
  const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const bool last = done >= total;
  if (!last && t < next_s_) return;
  next_s_ = t + report_interval_s(style_);
  if (style_ == Style::Bar)
    fmt::print(out_, "\r{}{}", text(style_, done, total, t), last ? "\n" : "");
  else
    fmt::print(out_, "{}\n", text(style_, done, total, t));
  std::fflush(out_);
}

std::string ReplayProgress::text(Style style, std::size_t done, std::size_t total, double elapsed_s) {
  const double f = total ? static_cast<double>(done) / static_cast<double>(total) : 1.0;
  const std::string when = done >= total ? "elapsed " + duration_text(elapsed_s)
                                         : "ETA " + duration_text(f > 0 ? elapsed_s * (1 - f) / f : -1);
  if (style == Style::Lines)
    return fmt::format("moesim: replay {:.1f}% ({} of {} tasks), {}", 100 * f, done, total, when);
  const int width = 30, filled = static_cast<int>(width * f);
  std::string bar(static_cast<std::size_t>(filled), '#');
  bar.resize(width, '.');
  return fmt::format("moesim: replay [{}] {:5.1f}%  {}   ", bar, 100 * f, when);  // trailing blanks clear a longer ETA
}

nlohmann::json result_to_json(const TrainingStepResult& r) {
  nlohmann::json util = nlohmann::json::object();
  for (const auto& [k, v] : r.link_utilization) util[k] = v;
  return {{"strategy", r.strategy},
          {"model", r.model},
          {"cluster", r.cluster},
          {"nodes", r.nodes},
          {"gpus", r.gpus},
          {"iteration_time_s", r.iteration_time_s},
          {"tokens_per_s", r.tokens_per_s},
          {"breakdown",
           {{"compute_s", r.breakdown.compute_s},
            {"dispatch_s", r.breakdown.dispatch_s},
            {"combine_s", r.breakdown.combine_s},
            {"allreduce_s", r.breakdown.allreduce_s},
            {"exposed_communication_s", r.breakdown.exposed_communication_s}}},
          {"inter_node_bytes_per_gpu", r.inter_node_bytes_per_gpu},
          {"dropped_fraction", r.dropped_fraction},
          {"rerouted_fraction", r.rerouted_fraction},
          {"link_utilization", util},
          {"allreduce_algorithms", r.allreduce_algorithms},
          {"tasks", r.tasks},
          {"flows", r.flows}};
}

}  // namespace moesim::cli
