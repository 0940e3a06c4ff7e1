// The embedded default job of `moesim` with no arguments.
#include "tools/commands.h"

namespace moesim::cli {

std::vector<std::string> default_arguments() {
  // The main job: every routing strategy on switch-base-128 (Switch Transformer base, 128
  // experts) over 16 x p4d.24xlarge (128 A100, 4 x 100 Gbps EFA per node), speedups over
  // the flat Switch all-to-all.
  return {"compare", "--cluster", "p4d.24xlarge", "--nodes", "16", "--model", "switch-base-128", "--baseline", "switch"};
}

}  // namespace moesim::cli
