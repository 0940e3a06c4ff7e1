// The embedded default job of `moesim` with no arguments.
#include "tools/commands.h"

namespace moesim::cli {

std::vector<std::string> default_arguments() {
  // Until routing strategies are wired into the training step (issue 4), the default
  // compares the two all-to-all algorithms (NCCL direct vs 2-level hierarchical) on the
  // default cluster: 16 x p4d.24xlarge (128 A100, 4 x 100 Gbps EFA per node).
  return {"collective", "--op", "alltoall", "--cluster", "p4d.24xlarge", "--nodes", "16", "--bytes", "1M:256M:4"};
}

}  // namespace moesim::cli
