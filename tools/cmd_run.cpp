// moesim run / moesim compare: one training iteration under one or several routing strategies.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <iostream>
#include <memory>

#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "models/trace.h"
#include "models/training_step.h"
#include "sim/error.h"
#include "sim/parallel_for.h"
#include "tools/cli_util.h"
#include "tools/commands.h"
#include "tools/common_options.h"
#include "tools/run_setup.h"

namespace moesim::cli {

namespace {

struct RunArgs {
  ClusterArgs cluster{.default_cluster_nodes = 16};  // the embedded default: 16 x p4d.24xlarge
  CostArgs costs;
  std::string model = "switch-base-128";
  std::string strategy = "switch";
  std::string strategies = "all";
  std::string baseline = "switch";
  std::vector<std::string> sets;
  std::uint64_t seed = 1;
  int distinct_layer_plans = 0;
  std::string fidelity = "flow";
  std::string allreduce_algorithm = "auto";
  unsigned jobs = 0;  // compare: strategies simulated at once (0 = every hardware thread)
  bool json = false;
  std::string trace;     // run --trace FILE: Chrome trace-event JSON (docs/TRACE.md)
  int trace_bins = 200;  // run --trace-bins: time bins of the link-utilization counters
};

struct Prepared {
  Topology topo;
  CostFactors costs;
  ModelConfig model;
  std::vector<std::pair<std::string, std::string>> strategy_params;  // name, value
  ComputeEfficiency compute;  // --calibration's compute section, else the defaults
};

Prepared prepare(const RunArgs& a) {
  const SetArguments sets = split_sets(a.sets);
  return Prepared{a.cluster.load(), a.costs.load(), load_model_with(a.model, sets), sets.strategy,
                  a.costs.load_compute()};
}

// `noted`: set once the long-replay note was printed (compare prints it for one strategy only).
// `progress`: shown through a replay that got the note (run; compare runs several at once,
// passes none and prints a line as each strategy finishes).
TrainingStepOptions options_for(const RunArgs& a, const Prepared& p, const std::string& strategy, bool only_declared,
                                std::atomic<bool>& noted, ReplayProgress* progress) {
  TrainingStepOptions o = training_options(strategy, p.strategy_params, a.seed, a.distinct_layer_plans, only_declared);
  o.on_replay_size = [&noted, progress](std::size_t messages) {
    if (const auto note = long_replay_note(messages); note && !noted.exchange(true)) {
      fmt::print(stderr, "{}\n", *note);
      if (progress) progress->arm();
    }
  };
  if (progress) o.on_replay_progress = [progress](std::size_t done, std::size_t total) { (*progress)(done, total); };
  o.compute_efficiency = p.compute;
  o.fidelity = *fidelity_from_string(a.fidelity);  // CLI::IsMember checked it
  o.allreduce_algorithm = *allreduce_algorithm_from_string(a.allreduce_algorithm);  // likewise
  return o;
}

void print_header(const Prepared& p, const RunArgs& a) {
  fmt::print("# moesim: model {} on {} ({} nodes, {} GPUs), seed {}, cost factors: {}\n", p.model.name, p.topo.name(),
             p.topo.node_count(), p.topo.gpu_count(), a.seed, p.costs.origin());
}

void run_one(const RunArgs& a) {
  const Prepared p = prepare(a);
  TrainingTimeline timeline;
  std::atomic<bool> noted{false};
  ReplayProgress progress(stderr, ::isatty(2) ? ReplayProgress::Style::Bar : ReplayProgress::Style::Lines);
  TrainingStepOptions options = options_for(a, p, a.strategy, false, noted, &progress);
  if (!a.trace.empty()) options.timeline = &timeline;
  const auto r = simulate_training_step(p.topo, p.costs, p.model, options);
  if (const auto note = fluid_window_note(r.fluid_alltoalls_window_ignored)) fmt::print(stderr, "{}\n", *note);
  if (!a.trace.empty()) {
    const auto s = write_chrome_trace_file(
        a.trace, {.timeline = timeline, .result = r, .topology = p.topo, .costs = p.costs},
        {.counter_bins = a.trace_bins, .info = {{"seed", std::to_string(a.seed)}, {"cost_factors", p.costs.origin()}}});
    fmt::print(stderr, "moesim: trace written to {} ({:.1f} MB, {} events); open it in https://ui.perfetto.dev or {}\n",
               a.trace, static_cast<double>(s.bytes) / 1e6, s.events, "chrome://tracing");
  }
  if (a.json) {
    nlohmann::json j = result_to_json(r);
    j["seed"] = a.seed;  // with the inputs, all it takes to reproduce the run
    fmt::print("{}\n", j.dump(2));
    return;
  }
  print_header(p, a);
  fmt::print("strategy                  {}\n", r.strategy);
  fmt::print("iteration time            {:.3f} ms\n", r.iteration_time_s * 1e3);
  fmt::print("tokens/s                  {:.0f}\n", r.tokens_per_s);
  fmt::print("breakdown (mean per GPU, time with at least one such task running):\n");
  fmt::print("  compute                 {:.3f} ms\n", r.breakdown.compute_s * 1e3);
  fmt::print("  dispatch all-to-all     {:.3f} ms\n", r.breakdown.dispatch_s * 1e3);
  fmt::print("  combine all-to-all      {:.3f} ms\n", r.breakdown.combine_s * 1e3);
  std::string algorithms;  // e.g. "tree x3, ring x1": what --allreduce-algorithm chose
  for (const auto& [name, n] : r.allreduce_algorithms) algorithms += fmt::format("{}{} x{}", algorithms.empty() ? "" : ", ", name, n);
  fmt::print("  gradient all-reduce     {:.3f} ms{}\n", r.breakdown.allreduce_s * 1e3,
             algorithms.empty() ? "" : fmt::format(" ({})", algorithms));
  fmt::print("  exposed communication   {:.3f} ms ({:.0f}% of the iteration)\n", r.breakdown.exposed_communication_s * 1e3,
             r.iteration_time_s > 0 ? 100 * r.breakdown.exposed_communication_s / r.iteration_time_s : 0.0);
  fmt::print("inter-node bytes per GPU  {:.2f} MB (all-to-all, forward + backward)\n", r.inter_node_bytes_per_gpu / 1e6);
  fmt::print("dropped assignments       {:.2f}%\n", 100 * r.dropped_fraction);
  fmt::print("rerouted tokens           {:.2f}% (not given their unconstrained top-k)\n", 100 * r.rerouted_fraction);
  fmt::print("link utilization (mean over links of each class):\n");
  for (const auto& [k, v] : r.link_utilization) fmt::print("  {:<22}  {:.1f}%\n", k, 100 * v);
  fmt::print("simulated {} tasks, {} flows\n", r.tasks, r.flows);
}

void run_compare(const RunArgs& a) {
  const Prepared p = prepare(a);
  std::vector<std::string> names = parse_strategy_list(a.strategies);
  if (std::find(names.begin(), names.end(), a.baseline) == names.end()) names.insert(names.begin(), a.baseline);
  struct Row {
    std::string name;
    std::optional<TrainingStepResult> r;
    std::string error;
  };
  // Each strategy is an independent simulation (no shared state), so they run on `jobs`
  // threads; rows keep the strategies' order, so the output does not depend on `jobs`.
  std::vector<Row> rows(names.size());
  std::vector<std::exception_ptr> fatal(names.size());
  std::atomic<bool> noted{false};
  std::atomic<std::size_t> finished{0};
  const auto start = std::chrono::steady_clock::now();
  const std::size_t jobs = thread_count(static_cast<std::size_t>(a.jobs), names.size());
  parallel_for(names.size(), jobs, [&](std::size_t i) {
    rows[i].name = names[i];
    try {
      TrainingStepOptions o = options_for(a, p, names[i], true, noted, nullptr);
      if (jobs > 1) o.planning_threads = 1;  // the strategies already share the cores
      rows[i].r = simulate_training_step(p.topo, p.costs, p.model, o);
    } catch (const InvariantError&) {
      fatal[i] = std::current_exception();
    } catch (const Error& e) {
      if (names[i] == a.baseline) fatal[i] = std::current_exception();
      rows[i].error = e.what();
    }
    const std::size_t k = ++finished;
    if (noted)  // long replays: a line per strategy instead of a progress bar
      fmt::print(stderr, "moesim: compare: {} {}, {} of {} strategies, {} elapsed\n", names[i],
                 rows[i].r ? "done" : "failed", k, names.size(),
                 duration_text(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()));
  });
  for (const auto& e : fatal)
    if (e) std::rethrow_exception(e);  // the first failing strategy in the list's order
  int window_ignored = 0;
  for (const auto& row : rows)
    if (row.r) window_ignored += row.r->fluid_alltoalls_window_ignored;
  if (const auto note = fluid_window_note(window_ignored)) fmt::print(stderr, "{}\n", *note);
  const double base = std::find_if(rows.begin(), rows.end(), [&](const Row& r) { return r.name == a.baseline; })->r->iteration_time_s;
  if (a.json) {
    nlohmann::json out = {{"baseline", a.baseline}, {"model", p.model.name}, {"cluster", std::string(p.topo.name())},
                          {"nodes", p.topo.node_count()}, {"gpus", p.topo.gpu_count()}, {"seed", a.seed}};
    out["strategies"] = nlohmann::json::array();
    for (const auto& row : rows) {
      if (!row.r) {
        out["strategies"].push_back({{"name", row.name}, {"error", row.error}});
        continue;
      }
      auto j = result_to_json(*row.r);
      j["name"] = row.name;
      j["speedup"] = base / row.r->iteration_time_s;
      out["strategies"].push_back(j);
    }
    fmt::print("{}\n", out.dump(2));
    return;
  }
  print_header(p, a);
  fmt::print("{:<13} {:>10} {:>12} {:>8} {:>9} {:>9} {:>9} {:>10} {:>11} {:>8} {:>9}\n", "strategy", "iter (ms)", "tokens/s",
             "speedup", "disp (ms)", "comb (ms)", "ar (ms)", "exposed %", "xnode MB/g", "dropped", "rerouted");
  for (const auto& row : rows) {
    if (!row.r) {
      fmt::print("{:<13} error: {}\n", row.name, row.error);
      continue;
    }
    const auto& r = *row.r;
    fmt::print("{:<13} {:>10.3f} {:>12.0f} {:>7.2f}x {:>9.3f} {:>9.3f} {:>9.3f} {:>9.0f}% {:>11.2f} {:>7.2f}% {:>8.2f}%\n", row.name,
               r.iteration_time_s * 1e3, r.tokens_per_s, base / r.iteration_time_s, r.breakdown.dispatch_s * 1e3,
               r.breakdown.combine_s * 1e3, r.breakdown.allreduce_s * 1e3,
               100 * r.breakdown.exposed_communication_s / r.iteration_time_s, r.inter_node_bytes_per_gpu / 1e6,
               100 * r.dropped_fraction, 100 * r.rerouted_fraction);
  }
  fmt::print("speedup = {} iteration time / strategy iteration time; exposed = communication not hidden behind compute\n",
             a.baseline);
}

void add_common(CLI::App* cmd, RunArgs& a) {
  a.cluster.add_to(*cmd);
  a.costs.add_to(*cmd);
  cmd->add_option("--model", a.model, "Model preset (switch-base-128, gshard-top2, gpt-medium-moe, scomoe-large, "
                                      "mixtral-8x7b, deepseek-v3) or a model JSON file")
      ->capture_default_str();
  cmd->add_option("--set", a.sets, "Override: model key=value (top_k=2, capacity_factor=1.5, gating.params.exponent=1.2) "
                                   "or strategy.NAME=VALUE (strategy.alpha=0.2); repeatable");
  // CLI11 reads "-1" into an unsigned seed as 2^64 - 1: refuse a sign instead.
  const CLI::Validator unsigned_integer(
      [](const std::string& s) { return s.find('-') == std::string::npos ? std::string() : "must be an integer >= 0"; }, "UINT");
  cmd->add_option("--seed", a.seed, "Seed of the gating sample")->check(unsigned_integer)->capture_default_str();
  cmd->add_option("--distinct-layer-plans", a.distinct_layer_plans,
                  "Plan only this many MoE layers and reuse them (0 = every layer; saves time on huge models)")
      ->check(CLI::Range(0, 100000));
  cmd->add_option("--fidelity", a.fidelity,
                  "flow: every message on the max-min network (reference); fluid: each collective priced by the "
                  "bottleneck model, much faster on large clusters, no contention between overlapping collectives "
                  "(all-to-alls across node kinds are replayed, as NCCL's window of peers matters there)")
      ->check(CLI::IsMember({"flow", "fluid"}))
      ->capture_default_str();
  cmd->add_option("--allreduce-algorithm", a.allreduce_algorithm,
                  "Gradient all-reduces: ring, tree (NCCL's double binary tree), nvls (NVLink SHARP; groups inside one "
                  "node whose NVSwitch supports it) or auto (the fastest the group can run by the fluid model, per bucket)")
      ->check(CLI::IsMember({"ring", "tree", "nvls", "auto"}))
      ->capture_default_str();
  cmd->add_flag("--json", a.json, "Print JSON");
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto a = std::make_shared<RunArgs>();
  auto* cmd = app.add_subcommand("run", "Simulate one training iteration under one routing strategy");
  add_common(cmd, *a);
  cmd->add_option("--strategy", a->strategy, "Routing strategy (see `moesim strategies`)")->capture_default_str();
  cmd->add_option("--trace", a->trace,
                  "Write a Chrome trace-event JSON timeline to FILE (Perfetto, chrome://tracing; docs/TRACE.md)");
  cmd->add_option("--trace-bins", a->trace_bins, "Time bins of the trace's link-utilization counters")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  cmd->callback([a] { run_one(*a); });
}

void add_compare_command(CLI::App& app) {
  auto a = std::make_shared<RunArgs>();
  auto* cmd = app.add_subcommand("compare", "Compare routing strategies: one iteration each, speedup over a baseline");
  add_common(cmd, *a);
  cmd->add_option("--strategies", a->strategies, "Comma-separated strategies, or all")->capture_default_str();
  cmd->add_option("--baseline", a->baseline, "Strategy the speedups are relative to")->capture_default_str();
  cmd->add_option("-j,--jobs", a->jobs, "Strategies simulated at once (default: every hardware thread; output is the same)")
      ->check(CLI::Range(1u, 1024u));
  cmd->callback([a] { run_compare(*a); });
}

void add_strategies_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("strategies", "List the routing strategies and their parameters");
  cmd->callback([] {
    for (const auto& s : strategy_table()) {
      fmt::print("{:<13} {}\n", s.name, s.description);
      for (const auto& p : s.params) fmt::print("{:<13}   strategy.{} (default {}): {}\n", "", p.name, p.default_value, p.description);
    }
  });
}

}  // namespace moesim::cli
