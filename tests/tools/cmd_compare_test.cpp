// `moesim compare` through CLI11 (tools/cmd_run.cpp): strategies run on --jobs threads and
// the output must not depend on how many.
#include <algorithm>
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include "sim/error.h"
#include "tests/cli_capture.h"
#include "tools/commands.h"
#include "tools/run_setup.h"

namespace {

std::string compare(const std::string& args) {
  return moesim::testing_cli::run_cli(moesim::cli::add_compare_command, "compare " + args);
}

const std::string kSmall = "--cluster p4d.24xlarge --nodes 2 --set layers=2 --set tokens_per_gpu=512";

}  // namespace

TEST(CompareCommand, OutputIsTheSameWithOneOrSeveralJobs) {
  const std::string one = compare(kSmall + " --jobs 1 --json");
  const std::string three = compare(kSmall + " --jobs 3 --json");
  EXPECT_EQ(one, three);
  const auto j = nlohmann::json::parse(one);
  ASSERT_GE(j["strategies"].size(), 9u);  // every strategy, in the table's order
  EXPECT_EQ(j["strategies"][0]["name"], "switch");
  EXPECT_EQ(j["strategies"][0]["speedup"], 1.0);
  for (const auto& s : j["strategies"]) EXPECT_GT(s["iteration_time_s"].get<double>(), 0) << s["name"];
  EXPECT_EQ(compare(kSmall + " --jobs 1"), compare(kSmall + " --jobs 2"));  // the text table too
}

TEST(CompareCommand, AFailingStrategyIsARowAndAFailingBaselineFailsTheCommandWhateverTheJobs) {
  // alpha = 2 is out of range for scomoe-seq only: the others run.
  const std::string args = kSmall + " --strategies switch,smile,scomoe-seq --set strategy.alpha=2";
  const std::string one = compare(args + " --jobs 1");
  EXPECT_NE(one.find("scomoe-seq    error: strategy scomoe-seq: alpha = 2 is out of range"), std::string::npos) << one;
  EXPECT_NE(one.find("smile "), std::string::npos) << one;
  EXPECT_EQ(one, compare(args + " --jobs 3"));
  for (const char* jobs : {" --jobs 1", " --jobs 3"})
    EXPECT_THROW(compare(args + " --baseline scomoe-seq" + jobs), moesim::Error) << jobs;
}

TEST(RunCommand, NodesDefaultToSixteenForTheDefaultClusterAndToTheClustersOwnForAnyOther) {
  auto run = [](const std::string& args) {
    const std::string out = moesim::testing_cli::run_cli(moesim::cli::add_run_command,
                                                         "run --set layers=2 --set tokens_per_gpu=256 --json " + args);
    return nlohmann::json::parse(out);
  };
  EXPECT_EQ(run("")["nodes"], 16);                                  // the embedded default, 16 x p4d.24xlarge
  EXPECT_EQ(run("--cluster a6000-pcie --model scomoe-large --set num_experts=32")["nodes"], 4);  // its own (topo list)
  EXPECT_EQ(run("--cluster p4d.24xlarge --nodes 2")["nodes"], 2);
  // A two-group cluster has no single count to change: without --nodes it runs as it is.
  const auto mixed = run("--cluster mixed-a100-v100 --distinct-layer-plans 1");
  EXPECT_EQ(mixed["nodes"], 16);
  EXPECT_EQ(mixed["gpus"], 128);
  EXPECT_THROW(run("--cluster mixed-a100-v100 --nodes 4"), moesim::Error);
}

TEST(RunCommand, ANegativeSeedIsRejectedNotWrapped) {
  // CLI11 would read "-1" into the unsigned seed as 2^64 - 1.
  EXPECT_THROW(moesim::testing_cli::run_cli(moesim::cli::add_run_command, "run " + kSmall + " --seed -1"), CLI::ValidationError);
  const std::string ok = moesim::testing_cli::run_cli(moesim::cli::add_run_command, "run " + kSmall + " --seed 7 --json");
  EXPECT_EQ(nlohmann::json::parse(ok)["seed"], 7);
}

TEST(RunCommand, AFlowReplayOfMillionsOfMessagesIsAnnouncedWithTheFluidAlternative) {
  using moesim::cli::kLongReplayMessages;
  using moesim::cli::long_replay_note;
  EXPECT_FALSE(long_replay_note(0));
  EXPECT_FALSE(long_replay_note(kLongReplayMessages));
  const auto note = long_replay_note(64'100'000);
  ASSERT_TRUE(note);
  EXPECT_NE(note->find("64.1 M messages"), std::string::npos) << *note;
  EXPECT_NE(note->find("--fidelity fluid"), std::string::npos) << *note;
  EXPECT_TRUE(long_replay_note(kLongReplayMessages + 1));
  // A small run (tens of thousands of messages) prints nothing on stderr.
  ::testing::internal::CaptureStderr();
  moesim::testing_cli::run_cli(moesim::cli::add_run_command, "run " + kSmall + " --json");
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

TEST(RunCommand, AFluidAllToAllAcrossNodeKindsTooLargeToReplayIsNoted) {
  using moesim::cli::fluid_window_note;
  EXPECT_FALSE(fluid_window_note(0));
  const auto one = fluid_window_note(1);
  ASSERT_TRUE(one);
  EXPECT_NE(one->find("1 all-to-all across node kinds"), std::string::npos) << *one;
  EXPECT_NE(one->find("was priced"), std::string::npos) << *one;
  EXPECT_NE(one->find("--fidelity flow"), std::string::npos) << *one;
  const auto three = fluid_window_note(3);
  ASSERT_TRUE(three);
  EXPECT_NE(three->find("3 all-to-alls across node kinds"), std::string::npos) << *three;
  EXPECT_NE(three->find("were priced"), std::string::npos) << *three;
  // The mixed cluster's all-to-alls are small enough to replay: nothing on stderr.
  ::testing::internal::CaptureStderr();
  moesim::testing_cli::run_cli(moesim::cli::add_run_command,
                               "run --cluster mixed-a100-v100 --model switch-base-128 --set layers=2 "
                               "--set tokens_per_gpu=256 --fidelity fluid --json");
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

TEST(RunCommand, ReplayProgressTextAndItsSilenceUntilArmed) {
  using moesim::cli::ReplayProgress;
  EXPECT_EQ(ReplayProgress::text(ReplayProgress::Style::Lines, 25, 100, 10.0),
            "moesim: replay 25.0% (25 of 100 tasks), ETA 30s");
  EXPECT_EQ(ReplayProgress::text(ReplayProgress::Style::Lines, 100, 100, 200.0),
            "moesim: replay 100.0% (100 of 100 tasks), elapsed 3m20s");
  EXPECT_EQ(ReplayProgress::text(ReplayProgress::Style::Bar, 50, 100, 4.0),
            "moesim: replay [###############...............]  50.0%  ETA 4s   ");
  EXPECT_EQ(ReplayProgress::text(ReplayProgress::Style::Lines, 0, 100, 1.0),
            "moesim: replay 0.0% (0 of 100 tasks), ETA ?");  // no rate yet

  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  auto written = [f] {
    std::fflush(f);
    std::string out(static_cast<std::size_t>(std::ftell(f)), ' ');
    std::rewind(f);
    const std::size_t n = std::fread(out.data(), 1, out.size(), f);
    out.resize(n);
    return out;
  };
  ReplayProgress lines(f, ReplayProgress::Style::Lines);
  lines(50, 100);
  lines(100, 100);
  EXPECT_EQ(written(), "");  // not armed: a short replay says nothing
  lines.arm();
  lines(50, 100);  // within the first 30 s: no line yet
  lines(100, 100);
  const std::string out = written();
  EXPECT_EQ(out.rfind("moesim: replay 100.0% (100 of 100 tasks), elapsed ", 0), 0u) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  std::fclose(f);
}
