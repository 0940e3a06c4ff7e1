// `moesim collective --allreduce-algorithm` and `--fidelity`, and `moesim run --allreduce-algorithm`,
// through CLI11 as main() runs them (tools/cmd_collective.cpp, tools/cmd_run.cpp).
#include <string>

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include "sim/error.h"
#include "tests/cli_capture.h"
#include "tools/commands.h"
#include "tools/run_setup.h"

namespace {

using json = nlohmann::json;

std::string collective(const std::string& args) {
  return moesim::testing_cli::run_cli(moesim::cli::add_collective_command, "collective " + args);
}
std::string run(const std::string& args) {
  return moesim::testing_cli::run_cli(moesim::cli::add_run_command, "run " + args);
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

TEST(CollectiveCommand, ReportsTheAllReduceAlgorithmThatRanInTextAndJson) {
  const std::string base = "--cluster p5.48xlarge --nodes 2 --op allreduce --bytes 8,1G";
  // Auto across 2 nodes: the tree is faster at 8 B (depth 16 vs 30 ring steps) and at 1 GiB.
  const auto text = collective(base);
  EXPECT_TRUE(contains(text, "algorithm auto")) << text;
  EXPECT_TRUE(contains(text, "  algorithm\n")) << text;
  EXPECT_TRUE(contains(text, "  tree\n")) << text;
  const auto ring = json::parse(collective(base + " --allreduce-algorithm ring --json"));
  const auto tree = json::parse(collective(base + " --allreduce-algorithm tree --json"));
  const auto aut = json::parse(collective(base + " --json"));
  ASSERT_EQ(aut.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(ring[i]["algorithm"], "ring");
    EXPECT_EQ(tree[i]["algorithm"], "tree");
    EXPECT_EQ(aut[i]["algorithm"], "tree");
    EXPECT_EQ(aut[i]["time_us"], tree[i]["time_us"]);
    EXPECT_LT(tree[i]["time_us"].get<double>(), ring[i]["time_us"].get<double>());
  }
  // One node: Auto keeps the ring.
  const auto one = json::parse(collective("--cluster dgx-a100 --nodes 1 --op allreduce --bytes 64M --json"));
  EXPECT_EQ(one[0]["algorithm"], "ring");
  // Other collectives name theirs.
  const auto a2a = json::parse(collective("--cluster dgx-a100 --nodes 1 --op alltoall --bytes 1M --json"));
  EXPECT_EQ(a2a[0]["algorithm"], "direct");
}

TEST(CollectiveCommand, AnUnknownAllReduceAlgorithmIsAnError) {
  try {
    collective("--cluster dgx-a100 --op allreduce --bytes 1M --allreduce-algorithm sharp");
    FAIL() << "no error";
  } catch (const CLI::ValidationError& e) {
    EXPECT_TRUE(contains(e.what(), "sharp")) << e.what();
  }
}

TEST(CollectiveCommand, NvlsRunsOnAnH100NodeAndIsAnErrorOnAnA100Cluster) {
  const auto nvls = json::parse(collective("--cluster dgx-h100 --nodes 1 --op allreduce --bytes 1G --allreduce-algorithm nvls --json"));
  EXPECT_EQ(nvls[0]["algorithm"], "nvls");
  const auto aut = json::parse(collective("--cluster dgx-h100 --nodes 1 --op allreduce --bytes 1G --json"));
  EXPECT_EQ(aut[0]["algorithm"], "nvls");
  try {
    collective("--cluster dgx-a100 --nodes 1 --op allreduce --bytes 1M --allreduce-algorithm nvls");
    FAIL() << "no error";
  } catch (const moesim::InputError& e) {
    EXPECT_TRUE(contains(e.what(), "cluster dgx-a100")) << e.what();
    EXPECT_TRUE(contains(e.what(), "NVLink SHARP")) << e.what();
  }
}

TEST(CollectiveCommand, FluidFidelityPricesWithoutFlowsAndSaysSo) {
  const std::string base = "--cluster p4d.24xlarge --nodes 4 --op alltoall --bytes 1M,64M --json";
  const auto flow = json::parse(collective(base));
  const auto fluid = json::parse(collective(base + " --fidelity fluid"));
  ASSERT_EQ(fluid.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(flow[i]["fidelity"], "flow");
    EXPECT_EQ(fluid[i]["fidelity"], "fluid");
    EXPECT_GT(flow[i]["flows"].get<std::size_t>(), 0u);
    EXPECT_EQ(fluid[i]["flows"], 0);
    EXPECT_EQ(fluid[i]["bytes"], flow[i]["bytes"]);
    // Measured: 195.68 against 194.57 us at 1 MiB, 10,864 against 10,853 us at 64 MiB.
    EXPECT_NEAR(fluid[i]["time_us"].get<double>(), flow[i]["time_us"].get<double>(),
                0.02 * flow[i]["time_us"].get<double>());
  }
  const auto text = collective("--cluster p4d.24xlarge --nodes 2 --op allgather --bytes 1M --fidelity fluid");
  EXPECT_TRUE(contains(text, "fidelity fluid")) << text;
  try {
    collective("--cluster dgx-a100 --op alltoall --bytes 1M --fidelity packet");
    FAIL() << "no error";
  } catch (const CLI::ValidationError& e) {
    EXPECT_TRUE(contains(e.what(), "packet")) << e.what();
  }
}

TEST(CollectiveCommand, ALongFlowReplayIsAnnouncedWithTheFluidAlternative) {
  using moesim::cli::kLongReplayMessages;
  using moesim::cli::long_replay_note;
  using moesim::cli::ReplayKind;
  EXPECT_FALSE(long_replay_note(kLongReplayMessages, ReplayKind::Collective));
  const auto note = long_replay_note(8'380'416, ReplayKind::Collective);
  ASSERT_TRUE(note);
  EXPECT_TRUE(contains(*note, "8.4 M messages for this collective")) << *note;
  EXPECT_TRUE(contains(*note, "--fidelity fluid")) << *note;
  // A small collective (256 flows) writes nothing on stderr.
  ::testing::internal::CaptureStderr();
  collective("--cluster p4d.24xlarge --nodes 2 --op alltoall --bytes 1M --json");
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

TEST(RunCommand, TheAllReduceAlgorithmOptionReachesTheGradientAllReduces) {
  const std::string base =
      "--cluster p4d.24xlarge --nodes 2 --model switch-base-128 --set layers=2 --set tokens_per_gpu=256 --json";
  const auto ring = json::parse(run(base + " --allreduce-algorithm ring"));
  const auto tree = json::parse(run(base + " --allreduce-algorithm tree"));
  const auto aut = json::parse(run(base));
  EXPECT_NE(ring["breakdown"]["allreduce_s"], tree["breakdown"]["allreduce_s"]);
  EXPECT_EQ(ring["breakdown"]["compute_s"], tree["breakdown"]["compute_s"]);
  EXPECT_EQ(aut["iteration_time_s"], tree["iteration_time_s"]);  // 2 nodes: every bucket picks the tree
  EXPECT_THROW(run(base + " --allreduce-algorithm fastest"), CLI::ValidationError);
}
