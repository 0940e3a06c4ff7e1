// moesim sweep: a grid of training-step simulations, run in parallel and streamed in point
// order to CSV or JSON lines (tools/sweep.h; columns and rules in docs/OUTPUTS.md).
//   moesim sweep [--grid FILE | --cluster LIST --nodes LIST --gpus-per-node LIST --model LIST
//                 --experts LIST --strategies LIST --seeds LIST --axis KEY=LIST --set KEY=VALUE ...]
//                [-o FILE] [--format csv|jsonl] [-j N] [--resume | --overwrite] [--shard K/N]
//                [--fsync] [--quiet] [--max-points N] [--dry-run]
// Exit status: 0 every point of the shard ran and succeeded (or --max-points stopped it);
// 1 a point failed (status error; the rest ran) or bad input; 3 a point hit an internal error;
// 128 + signal (130 for Ctrl-C) when interrupted (finished rows are all written).
#include <atomic>
#include <csignal>
#include <memory>

#include <fmt/format.h>
#include <unistd.h>

#include "sim/error.h"
#include "tools/commands.h"
#include "tools/common_options.h"
#include "tools/run_setup.h"
#include "tools/sweep.h"

namespace moesim::cli {

namespace {

// Set by the SIGINT/SIGTERM handler. A signal handler can reach no other state, so this is
// the one process-wide flag of the CLI (the library takes a pointer to it: RunOptions::stop).
std::atomic<bool> g_stop_requested{false};
std::atomic<int> g_stop_signal{0};

extern "C" void on_stop_signal(int sig) {
  if (g_stop_requested.exchange(true)) {  // the second one: the default action, at once
    std::signal(sig, SIG_DFL);
    std::raise(sig);
    return;
  }
  g_stop_signal.store(sig);
  static const char msg[] =
      "\nmoesim sweep: stopping: finishing the points being simulated and writing them (again to quit at once)\n";
  [[maybe_unused]] const auto n = ::write(2, msg, sizeof msg - 1);
}

// Installs the handler for the duration of a sweep, then restores the previous ones.
class StopSignals {
 public:
  StopSignals() {
    g_stop_requested = false;
    g_stop_signal = 0;
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
  ~StopSignals() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }

 private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

struct SweepArgs {
  std::string grid;
  std::string clusters, nodes, gpus_per_node, nics_per_node, models, experts, strategies, seeds;
  std::vector<std::string> axes;
  std::vector<std::string> sets;
  std::string baseline = "switch";
  int distinct_layer_plans = 0;
  std::string fidelity = "flow";
  CostArgs costs;

  std::string output;
  std::string format = "csv";
  unsigned jobs = 0;
  bool resume = false;
  bool overwrite = false;
  std::string shard = "1/1";
  bool fsync = false;
  bool quiet = false;
  std::size_t max_points = 0;
  bool dry_run = false;
};

std::vector<nlohmann::json> names(const std::string& list) {
  std::vector<nlohmann::json> out;
  std::size_t start = 0;
  while (true) {
    const auto comma = list.find(',', start);
    out.emplace_back(list.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

sweep::GridSpec spec_from(const SweepArgs& a) {
  if (!a.grid.empty()) return sweep::load_grid_file(a.grid);
  sweep::GridSpec spec;
  if (!a.clusters.empty()) spec.axes.emplace_back("cluster", names(a.clusters));
  if (!a.nodes.empty()) spec.axes.emplace_back("nodes", sweep::parse_value_list(a.nodes, "--nodes"));
  if (!a.gpus_per_node.empty())
    spec.axes.emplace_back("gpus_per_node", sweep::parse_value_list(a.gpus_per_node, "--gpus-per-node"));
  if (!a.nics_per_node.empty())
    spec.axes.emplace_back("nics_per_node", sweep::parse_value_list(a.nics_per_node, "--nics-per-node"));
  if (!a.models.empty()) spec.axes.emplace_back("model", names(a.models));
  if (!a.experts.empty()) spec.axes.emplace_back("num_experts", sweep::parse_value_list(a.experts, "--experts"));
  if (!a.strategies.empty()) spec.axes.emplace_back("strategy", names(a.strategies));
  if (!a.seeds.empty()) spec.axes.emplace_back("seed", sweep::parse_value_list(a.seeds, "--seeds"));
  for (const auto& kv : a.axes) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0)
      throw InputError(
          fmt::format("--axis \"{}\": expected KEY=V1,V2,... (a model key, strategy.NAME or cluster/POINTER)", kv));
    const std::string key = kv.substr(0, eq);
    if (std::any_of(spec.axes.begin(), spec.axes.end(), [&](const auto& ax) { return ax.first == key; }))
      throw InputError(fmt::format("--axis {}: that axis is already given", key));
    spec.axes.emplace_back(key, sweep::parse_value_list(kv.substr(eq + 1), "--axis " + key));
  }
  for (const auto& kv : a.sets) spec.fixed.push_back(split_set(kv));
  spec.baseline = a.baseline;
  spec.distinct_layer_plans = a.distinct_layer_plans;
  spec.fidelity = a.fidelity;
  spec.ideal = a.costs.ideal;
  spec.calibration = a.costs.calibration;
  return spec;
}

void run_sweep_command(const SweepArgs& a) {
  const sweep::Grid grid = sweep::Grid::plan(spec_from(a));
  const sweep::Shard shard = sweep::parse_shard(a.shard);
  const std::size_t shard_points = sweep::shard_point_count(grid, shard);
  if (a.dry_run) {
    fmt::print(stderr, "moesim sweep: {} points (grid {}), shard {}/{}: {} points, comparison groups of {}\n",
               grid.size(), grid.id(), shard.index, shard.count, shard_points, grid.group_size());
    std::string out = "point,key\n";
    for (std::size_t j = 0; j < shard_points; ++j) {
      const std::size_t p = sweep::shard_point(grid, shard, j);
      out += fmt::format("{},{}\n", p, sweep::csv_field(grid.key(p)));
    }
    fmt::print("{}", out);
    return;
  }

  sweep::RunOptions ro;
  ro.output = a.output;
  ro.format = a.format == "jsonl" ? sweep::Format::Jsonl : sweep::Format::Csv;
  ro.jobs = a.jobs;
  ro.resume = a.resume;
  ro.overwrite = a.overwrite;
  ro.shard = shard;
  ro.fsync = a.fsync;
  ro.max_points = a.max_points;
  ro.stop = &g_stop_requested;
  sweep::ProgressPrinter printer(
      stderr, ::isatty(2) ? sweep::ProgressPrinter::Style::Bar : sweep::ProgressPrinter::Style::Lines);
  if (!a.quiet) ro.progress = [&printer](const sweep::Progress& p) { printer(p); };

  sweep::SweepSummary s;
  {
    StopSignals signals;
    s = sweep::run_sweep(grid, ro);
  }
  const std::string where = a.output.empty() ? "standard output" : a.output;
  if (s.dropped_partial_bytes)
    fmt::print(stderr, "moesim sweep: dropped an incomplete last line ({} bytes) of {}\n", s.dropped_partial_bytes,
               where);
  if (!a.quiet)
    fmt::print(stderr,
               "moesim sweep: {} of {} points of shard {}/{} in {} ({} already there, {} run in {:.1f} s{}){}\n",
               s.resumed + s.run, s.shard_points, shard.index, shard.count, where, s.resumed, s.run, s.wall_s,
               s.run && s.wall_s > 0 ? fmt::format(", {:.2f} points/s", static_cast<double>(s.run) / s.wall_s) : "",
               s.complete ? "" : "; not complete: run again with --resume");
  if (const auto note = fluid_window_note(s.fluid_alltoalls_window_ignored)) fmt::print(stderr, "{}\n", *note);
  if (const int sig = g_stop_signal.load(); sig != 0) {
    fmt::print(stderr, "moesim sweep: interrupted; {} rows are in {}: continue with --resume\n", s.resumed + s.run,
               where);
    throw ExitCode{128 + sig};
  }
  if (s.failed + s.internal_errors > 0) {
    fmt::print(stderr,
               "moesim sweep: {} point{} failed ({} error, {} internal_error; see the status and error columns){}\n",
               s.failed + s.internal_errors, s.failed + s.internal_errors > 1 ? "s" : "", s.failed, s.internal_errors,
               s.first_error.empty() ? "" : fmt::format("; first: {}", s.first_error));
    throw ExitCode{s.internal_errors > 0 ? 3 : 1};
  }
}

}  // namespace

void add_sweep_command(CLI::App& app) {
  auto a = std::make_shared<SweepArgs>();
  auto* cmd = app.add_subcommand(
      "sweep",
      "Simulate a grid of configurations (clusters, nodes, experts, strategies, any model key...) in parallel; "
      "one CSV or JSON-lines row per point, in point order (docs/OUTPUTS.md)");
  auto* grid = cmd->add_option(
      "--grid", a->grid, "Grid file (JSON: axes, fixed overrides; docs/OUTPUTS.md); excludes the grid options below");
  auto axis_option = [&](const std::string& name, std::string& target, const std::string& help) {
    cmd->add_option(name, target, help)->excludes(grid)->group("Grid (without --grid)");
  };
  axis_option("--cluster", a->clusters, "Cluster presets or files, comma-separated (default p4d.24xlarge)");
  axis_option("--nodes", a->nodes, "Node counts: 1,2,4 or 1:64 (powers of two); default: each cluster's own");
  axis_option("--gpus-per-node", a->gpus_per_node,
              "GPUs per node (reshapes a cluster's one node kind; docs/OUTPUTS.md)");
  axis_option("--nics-per-node", a->nics_per_node, "NICs per node (reshapes a cluster's one node kind)");
  axis_option("--model", a->models, "Model presets or files, comma-separated (default switch-base-128)");
  axis_option("--experts", a->experts, "Expert counts (the model key num_experts): 8,16 or 8:512");
  axis_option("--strategies", a->strategies, "Routing strategies, comma-separated, or all (default all)");
  axis_option("--seeds", a->seeds, "Seeds of the gating sample (repeats): 1,2,3 (default 1)");
  cmd->add_option("--axis", a->axes,
                  "Any other axis KEY=V1,V2,...: a model key (top_k=1,2), strategy.NAME (strategy.alpha=0.1,0.2) "
                  "or cluster/JSON-POINTER (cluster/fabric/oversubscription=1,2); repeatable")
      ->excludes(grid)
      ->group("Grid (without --grid)");
  cmd->add_option("--set", a->sets,
                  "Fixed override for every point: model key=value or strategy.NAME=VALUE; repeatable")
      ->excludes(grid)
      ->group("Grid (without --grid)");
  cmd->add_option("--baseline", a->baseline, "Strategy the speedup column is relative to")
      ->capture_default_str()
      ->excludes(grid)
      ->group("Grid (without --grid)");
  cmd->add_option("--distinct-layer-plans", a->distinct_layer_plans,
                  "Plan only this many MoE layers and reuse them (0 = every layer)")
      ->check(CLI::Range(0, 100000))
      ->excludes(grid)
      ->group("Grid (without --grid)");
  cmd->add_option("--fidelity", a->fidelity,
                  "flow: every message on the max-min network; fluid: collectives priced by the bottleneck "
                  "model, much faster (docs/PERFORMANCE.md gives the gap)")
      ->check(CLI::IsMember({"flow", "fluid"}))
      ->capture_default_str()
      ->excludes(grid)
      ->group("Grid (without --grid)");
  a->costs.add_to(*cmd);
  cmd->get_option("--calibration")->excludes(grid)->group("Grid (without --grid)");
  cmd->get_option("--ideal")->excludes(grid)->group("Grid (without --grid)");

  cmd->add_option("-o,--output", a->output, "Output file (default: standard output)");
  cmd->add_option("--format", a->format, "csv or jsonl (one JSON object per line)")
      ->check(CLI::IsMember({"csv", "jsonl"}))
      ->capture_default_str();
  cmd->add_option("-j,--jobs", a->jobs, "Points simulated at once (default: every hardware thread)")
      ->check(CLI::Range(1u, 4096u));
  auto* resume = cmd->add_flag("--resume", a->resume, "Keep the rows already in --output and run the rest");
  cmd->add_flag("--overwrite", a->overwrite, "Start --output again if it exists")->excludes(resume);
  cmd->add_option("--shard", a->shard,
                  "Run shard K of N (1-based): every N-th comparison group; join with moesim merge")
      ->capture_default_str();
  cmd->add_flag("--fsync", a->fsync, "fsync the output after each write");
  cmd->add_flag("-q,--quiet", a->quiet, "No progress or summary on stderr");
  cmd->add_option("--max-points", a->max_points,
                  "Run at most this many new points, then stop (continue with --resume)");
  cmd->add_flag("--dry-run", a->dry_run, "Print the shard's points (index, key) without simulating");
  cmd->callback([a] { run_sweep_command(*a); });
}

}  // namespace moesim::cli
