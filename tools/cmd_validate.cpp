// moesim validate --cases FILE: published measurements vs moesim's predictions.
#include <algorithm>
#include <cmath>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tools/commands.h"
#include "tools/common_options.h"
#include "validation/published_cases.h"

namespace moesim::cli {

namespace {

struct ValidateArgs {
  std::string cases;
  std::string root = ".";
  CostArgs costs;
  bool json = false;
};

void run_validate(const ValidateArgs& a) {
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
  auto* cmd = app.add_subcommand("validate", "Compare moesim with published measurements (validation/cases/*.json)");
  cmd->add_option("--cases", a->cases, "Cases file, e.g. validation/cases/published_collectives.json")->required();
  cmd->add_option("--root", a->root, "Directory that relative cluster paths in the cases start from")->capture_default_str();
  a->costs.add_to(*cmd);
  cmd->add_flag("--json", a->json, "Print JSON {points: [...], median_error_held_out, worst_error_held_out}");
  cmd->callback([a] { run_validate(*a); });
}

}  // namespace moesim::cli
