// notebooks/: each notebook runs headless (notebooks/run_notebook.py) against the built
// moesim on its small grid, and prints what its cells promise.
#include <array>
#include <cstdio>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "tests/shell_run.h"

namespace {

using moesim::testing_shell::run;
using moesim::testing_shell::Shell;

std::string notebook_command(const std::string& notebook, const std::string& env) {
  return env + " '" MOESIM_PYTHON3 "' '" MOESIM_SOURCE_DIR "/notebooks/run_notebook.py' '" MOESIM_SOURCE_DIR "/notebooks/" +
         notebook + "'";
}

}  // namespace

TEST(Notebooks, StrategySpeedupsRunsHeadlessAndPrintsOneSpeedupPerStrategyAndNodeCount) {
  const std::string png = ::testing::TempDir() + "strategy_speedups.png";
  std::remove(png.c_str());
  const Shell r = run(notebook_command("strategy_speedups.ipynb",
                                     "MOESIM='" MOESIM_BIN "' MOESIM_NOTEBOOK_QUICK=1 MOESIM_NOTEBOOK_PNG='" + png + "'"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // The plot cell draws to the file where matplotlib is installed and says so where not.
  if (r.output.find("matplotlib is not installed") == std::string::npos) {
    EXPECT_NE(r.output.find("plot written to " + png), std::string::npos) << r.output;
    FILE* f = std::fopen(png.c_str(), "rb");
    ASSERT_NE(f, nullptr) << png;
    std::array<unsigned char, 8> magic{};
    EXPECT_EQ(std::fread(magic.data(), 1, magic.size(), f), magic.size());
    std::fclose(f);
    EXPECT_EQ(magic[1], 'P');  // \x89PNG
    EXPECT_EQ(magic[2], 'N');
  }
  EXPECT_NE(r.output.find("switch-base-128 on p4d.24xlarge: 10 points, 5 strategies x 2 node counts"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("--- cell 5 of 5"), std::string::npos) << r.output;
  // The speedup table: a row per strategy, one value per node count; switch is 1 by definition.
  std::istringstream lines(r.output);
  std::string line;
  int rows = 0;
  bool in_table = false;
  while (std::getline(lines, line)) {
    if (line.rfind("speedup over switch", 0) == 0) {
      in_table = true;
      continue;
    }
    if (!in_table || line.rfind("nodes", 0) == 0) continue;
    if (line.rfind("---", 0) == 0) break;
    std::istringstream cols(line);
    std::string name, a, b, extra;
    cols >> name >> a >> b;
    EXPECT_FALSE(cols >> extra) << line;
    EXPECT_EQ(a.back(), 'x') << line;
    EXPECT_EQ(b.back(), 'x') << line;
    if (name == "switch") {
      EXPECT_EQ(a, "1.00x");
      EXPECT_EQ(b, "1.00x");
    }
    ++rows;
  }
  EXPECT_EQ(rows, 5) << r.output;
}

TEST(Notebooks, StrategySpeedupsReadsASweepCsvInsteadOfRunningOne) {
  const std::string csv = ::testing::TempDir() + "notebook_sweep.csv";
  const Shell sweep = run("'" MOESIM_BIN "' sweep --cluster dgx-h100 --nodes 1,2,4 --strategies switch,smile --fidelity fluid "
                          "--set layers=2 --quiet --overwrite -o '" + csv + "'");
  ASSERT_EQ(sweep.exit_code, 0) << sweep.output;
  const Shell r = run(notebook_command("strategy_speedups.ipynb", "MOESIM='" MOESIM_BIN "' MOESIM_SWEEP_CSV='" + csv + "'"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("switch-base-128 on dgx-h100: 6 points, 2 strategies x 3 node counts"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("where the time goes on 4 nodes"), std::string::npos) << r.output;
  // Not a sweep's CSV: the second cell says what it expected.
  const Shell bad = run(notebook_command("strategy_speedups.ipynb",
                                         "MOESIM='" MOESIM_BIN "' MOESIM_SWEEP_CSV='" MOESIM_SOURCE_DIR "/README.md'"));
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  EXPECT_NE(bad.output.find("expected the CSV of one `moesim sweep`"), std::string::npos) << bad.output;
  // Two seeds per (strategy, nodes): the tables would mix them, so the notebook refuses.
  const std::string seeds = ::testing::TempDir() + "notebook_seeds.csv";
  ASSERT_EQ(run("'" MOESIM_BIN "' sweep --nodes 1 --strategies switch --seeds 1,2 --fidelity fluid --set layers=2 --quiet "
                "--overwrite -o '" + seeds + "'").exit_code, 0);
  const Shell two = run(notebook_command("strategy_speedups.ipynb", "MOESIM='" MOESIM_BIN "' MOESIM_SWEEP_CSV='" + seeds + "'"));
  EXPECT_EQ(two.exit_code, 1) << two.output;
  EXPECT_NE(two.output.find("one point per strategy and node count expected; 1 pairs have several"), std::string::npos)
      << two.output;
}

TEST(Notebooks, AMoesimPathThatIsNoFileStopsTheNotebookWithANonZeroExitNamingIt) {
  const Shell r = run(notebook_command("strategy_speedups.ipynb", "MOESIM=/nonexistent/moesim"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("code cell 1 stopped: MOESIM=/nonexistent/moesim is not a file"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("--- cell 2"), std::string::npos) << r.output;  // nothing after the failing cell
}

TEST(Notebooks, TheRunnerRejectsAFileThatIsNoNotebook) {
  const Shell r = run("'" MOESIM_PYTHON3 "' '" MOESIM_SOURCE_DIR "/notebooks/run_notebook.py' '" MOESIM_SOURCE_DIR "/README.md'");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("README.md: not a readable notebook"), std::string::npos) << r.output;
}
