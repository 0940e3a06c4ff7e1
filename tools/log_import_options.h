#pragma once
// --log-op / --log-ranks (moesim calibrate, moesim validate --measurements): what an nccl-tests
// log does not say about a table (validation/nccl_tests_log.h: the op when no *_perf test is
// named before it and the data fit several, the rank count when it has no "#  Rank" lines).
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "validation/nccl_tests_log.h"

namespace moesim::cli {

struct LogImportArgs {
  std::string op;
  std::optional<int> ranks;

  void add_to(CLI::App& cmd) {
    std::vector<std::string> ops;
    for (auto o : validation::kAllCollectiveOps) ops.emplace_back(validation::to_string(o));
    cmd.add_option("--log-op", op, "Collective of nccl-tests tables whose log does not name it")
        ->check(CLI::IsMember(ops));
    cmd.add_option("--log-ranks", ranks, "Rank count of nccl-tests tables without '#  Rank' lines")
        ->check(CLI::Range(1, 1 << 20));
  }
  validation::NcclTestsImportOptions options() const {
    validation::NcclTestsImportOptions o;
    if (!op.empty()) o.op = validation::collective_op_from_string(op);
    o.ranks = ranks;
    return o;
  }
};

}  // namespace moesim::cli
