// moesim validate --cases FILE: published measurements vs moesim's predictions.
// moesim validate --measurements FILE... --cluster NAME|FILE: measured points (moesim-bench
// JSON, nccl-tests logs) vs moesim's predictions on that cluster.
#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <optional>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "tools/cli_util.h"
#include "tools/commands.h"
#include "tools/common_options.h"
#include "tools/log_import_options.h"
#include "validation/measurement_validation.h"
#include "validation/published_cases.h"

namespace moesim::cli {

namespace {

struct ValidateArgs {
  std::string cases;
  std::string root = ".";
  std::vector<std::string> measurements;
  std::string cluster;
  std::optional<int> nodes;
  LogImportArgs log;
  CostArgs costs;
  bool json = false;
};

std::string pct(double rel) {
  return fmt::format("{:+.1f}%", 100 * rel);
}

void run_validate_measurements(const ValidateArgs& a) {
  if (a.cluster.empty())
    throw CLI::ValidationError("--measurements needs --cluster NAME|FILE (the cluster they were taken on)");
  const auto inputs = validation::read_measurement_files(a.measurements, a.log.options());
  validation::MeasuredCluster cluster(a.cluster, a.nodes);
  const CostFactors costs = a.costs.load();
  const ComputeEfficiency compute = a.costs.load_compute();
  const auto v = validation::validate_measurements(inputs, cluster, costs, compute);
  if (a.json) {
    fmt::print("{}\n", validation::to_json(v).dump(2));
    return;
  }
  fmt::print("# moesim validate: {} points from {} on cluster {}\n", v.points.size(), fmt::join(inputs.paths(), ", "),
             cluster.name());
  fmt::print("# cost factors: {}; compute: {}\n", costs.origin(), a.costs.compute_origin());
  fmt::print("| kind | what | size (B) | ranks | nodes | measured (us) | predicted (us) | error |\n");
  fmt::print("|---|---|---:|---:|---:|---:|---:|---:|\n");
  for (const auto& p : v.points)
    fmt::print("| {} | {} | {} | {} | {} | {:.2f} | {:.2f} | {} |\n", p.kind, p.what,
               p.bytes ? fmt::format("{:.0f}", *p.bytes) : "", p.kind == "collective" ? fmt::format("{}", p.ranks) : "",
               p.kind == "collective" ? fmt::format("{}", p.nodes) : "", p.measured_us, p.predicted_us, pct(p.error));
  // Per kind of point: where the model is good and where it is not.
  std::map<std::string, std::vector<double>> groups;
  for (const auto& p : v.points) {
    const auto key = p.kind == "collective"
                         ? fmt::format("{} ({} ranks on {} node{})", p.what, p.ranks, p.nodes, p.nodes == 1 ? "" : "s")
                     : p.kind == "gemm" ? std::string("gemm")
                                        : fmt::format("kernel {}", p.what);
    groups[key].push_back(std::abs(p.error));
  }
  fmt::print("\n| group | points | median abs error | worst abs error |\n|---|---:|---:|---:|\n");
  for (auto& [k, e] : groups) {
    std::sort(e.begin(), e.end());
    const std::size_t h = e.size() / 2;
    const double med = e.size() % 2 ? e[h] : 0.5 * (e[h - 1] + e[h]);
    fmt::print("| {} | {} | {:.1f}% | {:.1f}% |\n", k, e.size(), 100 * med, 100 * e.back());
  }
  const auto& w = v.points[v.worst_index];
  fmt::print("\n{} points: median |error| {:.1f}%, worst {:.1f}% ({} {}{}, {})\n", v.points.size(),
             100 * v.median_abs_error, 100 * v.worst_abs_error, w.kind, w.what,
             w.bytes ? fmt::format(" {:.0f} B", *w.bytes) : "", w.file);
  if (!v.skipped.empty()) {
    fmt::print("not compared:\n");
    for (const auto& s : v.skipped) fmt::print("  {}\n", s);
  }
}

void run_validate(const ValidateArgs& a) {
  if (!a.measurements.empty()) {
    run_validate_measurements(a);
    return;
  }
  if (a.cases.empty())
    throw CLI::ValidationError("validate needs --cases FILE or --measurements FILE... --cluster NAME|FILE");
  const auto cases = validation::load_published_cases(a.cases);
  const auto results = validation::run_published_cases(cases, a.costs.load(), a.root);
  std::vector<double> held_out;
  for (const auto& r : results)
    if (r.c.role == "check" && r.c.known_gap.empty()) held_out.push_back(std::abs(r.error));
  std::sort(held_out.begin(), held_out.end());
  const double median = held_out.empty() ? 0 : held_out[held_out.size() / 2];
  const double worst = held_out.empty() ? 0 : held_out.back();
  if (a.json) {
    nlohmann::json pts = nlohmann::json::array();
    for (const auto& r : results)
      pts.push_back({{"name", r.c.name}, {"cluster", r.c.cluster}, {"op", r.c.op}, {"bytes", r.c.bytes}, {"metric", r.c.metric},
                     {"published", r.c.published}, {"predicted", r.predicted}, {"error", r.error}, {"role", r.c.role},
                     {"known_gap", r.c.known_gap}, {"source", r.c.source}});
    fmt::print("{}\n", nlohmann::json{{"points", pts}, {"median_error_held_out", median}, {"worst_error_held_out", worst}}.dump(2));
    return;
  }
  fmt::print("| case | metric | published | moesim | error | role |\n|---|---|---|---|---|---|\n");
  for (const auto& r : results)
    fmt::print("| {} | {} | {:.2f} | {:.2f} | {:+.1f}% | {}{} |\n", r.c.name, r.c.metric == "time_us" ? "time (us)" : "busbw (GB/s)",
               r.c.published, r.predicted, 100 * r.error, r.c.role, r.c.known_gap.empty() ? "" : ", known gap");
  fmt::print("\nheld-out cases without a known gap: {}; median |error| {:.1f}%, worst {:.1f}%\n", held_out.size(), 100 * median,
             100 * worst);
}

}  // namespace

void add_validate_command(CLI::App& app) {
  auto a = std::make_shared<ValidateArgs>();
  auto* cmd = app.add_subcommand("validate",
                                 "Compare moesim with published measurements (validation/cases/*.json) or with "
                                 "your own (moesim-bench JSON, nccl-tests logs)");
  auto* cases = cmd->add_option("--cases", a->cases, "Cases file, e.g. validation/cases/published_collectives.json");
  cmd->add_option("--root", a->root, "Directory that relative cluster paths in the cases start from")
      ->capture_default_str();
  auto* meas =
      cmd->add_option("--measurements", a->measurements,
                      "Measurement files (moesim-measurements JSON or nccl-tests logs) to compare point by point")
          ->expected(1, -1)
          ->excludes(cases);
  cmd->add_option("--cluster", a->cluster,
                  "With --measurements: the cluster they were taken on (preset name or JSON file)")
      ->needs(meas);
  cmd->add_option("--nodes", a->nodes,
                  "With --measurements: node count of rows that do not know theirs (default: ranks / GPUs "
                  "per node, rounded up)")
      ->check(CLI::Range(1, 100000))
      ->needs(meas);
  a->log.add_to(*cmd);
  a->costs.add_to(*cmd);
  cmd->add_flag("--json", a->json,
                "Print JSON: --cases {points, median_error_held_out, worst_error_held_out}; --measurements "
                "{points: [{kind, op|shape, bytes, ranks, nodes, file, measured_us, predicted_us, error}], "
                "median_error, worst_error, skipped}");
  cmd->callback([a] { run_validate(*a); });
}

}  // namespace moesim::cli
