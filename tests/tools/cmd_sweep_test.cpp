// Tests of `moesim sweep` and `moesim merge` through CLI11, as main() runs them.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <unistd.h>

#include <gtest/gtest.h>

#include "sim/error.h"
#include "tests/cli_capture.h"
#include "tests/tools/test_files.h"
#include "tools/commands.h"

namespace {

std::string sweep(const std::string& args) {
  return moesim::testing_cli::run_cli(moesim::cli::add_sweep_command, args);
}
std::string merge(const std::string& args) {
  return moesim::testing_cli::run_cli(moesim::cli::add_merge_command, args);
}

std::string temp_path(const std::string& name) { return moesim::testing_files::temp_path("moesim_cmd_sweep_test", name); }
using moesim::testing_files::contains;
using moesim::testing_files::read_file;

std::size_t line_count(const std::string& s) {
  return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n'));
}

const std::string kGrid = "sweep --nodes 1,2 --experts 8,16 --strategies switch,smile --quiet";

TEST(SweepCommand, WritesOneRowPerPointToTheOutputFile) {
  const auto out = temp_path("cmd.csv");
  EXPECT_EQ(sweep(kGrid + " -j 2 -o " + out), "");
  const auto text = read_file(out);
  EXPECT_EQ(line_count(text), 9u);
  EXPECT_EQ(
      text.rfind("point,key,cluster,nodes,model,num_experts,seed,strategy,status,error,gpus,iteration_time_s,", 0), 0u)
      << text;
  EXPECT_TRUE(contains(text,
                       "\n3,cluster=p4d.24xlarge;nodes=1;model=switch-base-128;num_experts=16;seed=1;strategy=smile,"
                       "p4d.24xlarge,1,switch-base-128,16,1,smile,ok,,8,"))
      << text;
  // Without --resume an existing file is not touched; with it nothing is left to run.
  EXPECT_THROW(sweep(kGrid + " -o " + out), moesim::InputError);
  sweep(kGrid + " --resume -o " + out);
  EXPECT_EQ(read_file(out), text);
}

TEST(SweepCommand, WritesToStandardOutputWithoutAnOutputFile) {
  const auto out = temp_path("cmd-ref.csv");
  sweep(kGrid + " -j 1 -o " + out);
  EXPECT_EQ(sweep(kGrid + " -j 2"), read_file(out));
}

TEST(SweepCommand, JsonLinesFormat) {
  const auto out = sweep("sweep --nodes 1 --experts 8 --strategies switch --quiet --format jsonl");
  EXPECT_EQ(line_count(out), 1u);
  EXPECT_EQ(out.rfind("{\"point\":0,\"key\":\"cluster=p4d.24xlarge;", 0), 0u) << out;
}

TEST(SweepCommand, DryRunListsTheShardsPoints) {
  const auto out = sweep(kGrid + " --dry-run --shard 2/2");
  EXPECT_EQ(out,
            "point,key\n"
            "2,cluster=p4d.24xlarge;nodes=1;model=switch-base-128;num_experts=16;seed=1;strategy=switch\n"
            "3,cluster=p4d.24xlarge;nodes=1;model=switch-base-128;num_experts=16;seed=1;strategy=smile\n"
            "6,cluster=p4d.24xlarge;nodes=2;model=switch-base-128;num_experts=16;seed=1;strategy=switch\n"
            "7,cluster=p4d.24xlarge;nodes=2;model=switch-base-128;num_experts=16;seed=1;strategy=smile\n");
}

TEST(SweepCommand, AFailingPointEndsWithStatusOneAfterEveryPointRan) {
  const auto out = temp_path("cmd-fail.csv");
  try {
    sweep("sweep --nodes 1 --experts 8,12 --strategies switch --quiet -o " + out);
    ADD_FAILURE() << "no exit code";
  } catch (const moesim::cli::ExitCode& e) {
    EXPECT_EQ(e.code, 1);
  }
  const auto text = read_file(out);
  EXPECT_EQ(line_count(text), 3u);
  EXPECT_TRUE(contains(text, ",error,")) << text;
}

TEST(SweepCommand, GridFileAndGridOptionsExcludeEachOther) {
  const auto grid = temp_path("cmd-grid.json");
  {
    std::ofstream f(grid);
    f << R"({"axes": {"nodes": [1], "num_experts": [8], "strategy": ["switch"], "top_k": [1]}})";
  }
  const auto out = sweep("sweep --quiet --grid " + grid);
  EXPECT_EQ(line_count(out), 2u);
  EXPECT_TRUE(contains(out, ";num_experts=8;top_k=1;seed=1;")) << out;
  EXPECT_THROW(sweep("sweep --grid " + grid + " --nodes 2"), CLI::ParseError);
  EXPECT_THROW(sweep("sweep --shard 3/2 --nodes 1"), moesim::InputError);
  EXPECT_THROW(sweep("sweep --axis top_k --nodes 1"), moesim::InputError);
}

TEST(MergeCommand, JoinsShardFilesIntoTheFullSweep) {
  const auto full = temp_path("m-full.csv"), a = temp_path("m-1.csv"), b = temp_path("m-2.csv"),
             out = temp_path("m-out.csv");
  sweep(kGrid + " -o " + full);
  sweep(kGrid + " --shard 1/2 -o " + a);
  sweep(kGrid + " --shard 2/2 -o " + b);
  merge("merge --quiet " + b + " " + a + " -o " + out);
  EXPECT_EQ(read_file(out), read_file(full));
  EXPECT_THROW(merge("merge " + a + " -o " + out), moesim::InputError);  // exists
  try {
    merge("merge " + a + " -o " + out + " --overwrite");
    ADD_FAILURE() << "no error";
  } catch (const moesim::InputError& e) {
    EXPECT_TRUE(contains(e.what(), "in no file")) << e.what();
  }
  EXPECT_EQ(read_file(out), read_file(full));  // a failed merge leaves the output alone
}

}  // namespace
