#pragma once
// Published collective measurements as validation cases (validation/cases/*.json): run each
// through simulate_collective and compare with the published figure.
#include <optional>
#include <string>
#include <vector>

#include "sim/cost_factors.h"

namespace moesim::validation {

struct PublishedCase {
  std::string name;
  std::string cluster;        // preset name or a path relative to the source tree
  std::optional<int> nodes;
  std::string op;             // alltoall, allreduce, allgather
  std::string allreduce_algorithm = "auto";  // allreduce: ring, tree, nvls or auto (what was measured)
  double bytes = 0;
  std::string metric;         // busbw_GBps or time_us
  double published = 0;
  std::string role;           // fit or check
  double tolerance = 0;       // relative error allowed by the golden test
  std::string known_gap;
  std::string source;
};

struct CaseResult {
  PublishedCase c;
  double predicted = 0;
  double error = 0;  // (predicted - published) / published
};

/// Strict reader; `root_dir` resolves relative cluster paths.
std::vector<PublishedCase> load_published_cases(const std::string& path);
/// Runs every case; relative cluster file paths resolve against `root_dir`.
std::vector<CaseResult> run_published_cases(const std::vector<PublishedCase>& cases, const CostFactors& costs,
                                            const std::string& root_dir);

}  // namespace moesim::validation
