// Tests of `moesim replay` (tools/cmd_replay.cpp) through CLI11, as main() runs it.
#include <cstdio>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include "sim/collectives/replay.h"
#include "tests/cli_capture.h"
#include "tools/commands.h"
#include "topologies/cluster_loader.h"

namespace {

const std::string kData = std::string(MOESIM_SOURCE_DIR) + "/tests/replay/data/";

std::string run(const std::string& args) { return moesim::testing_cli::run_cli(moesim::cli::add_replay_command, args); }

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

TEST(ReplayCommand, PrintsCompletionPerGpuTimesLinkKindsAndBusiestLinks) {
  const auto out =
      run("replay --cluster " + kData + "ideal-8gpu-4nic.json --matrix " + kData + "skewed-16gpu.csv --ideal");
  EXPECT_TRUE(contains(out, "completion time: ")) << out;
  EXPECT_TRUE(contains(out, "cost factors: ideal")) << out;
  EXPECT_TRUE(contains(out, "recv finish (us)")) << out;
  EXPECT_TRUE(contains(out, "n1/gpu7")) << out;  // all 16 GPUs are listed
  EXPECT_TRUE(contains(out, "network_access")) << out;
  EXPECT_TRUE(contains(out, "nvlink3")) << out;
  // GPU 5 (n0/gpu5, NIC n0/nic2) receives 4x the bytes: its NIC's downlink is the busiest link.
  const auto busiest = out.find("busiest links");
  ASSERT_NE(busiest, std::string::npos) << out;
  const auto title_end = out.find('\n', busiest), header_end = out.find('\n', title_end + 1);
  const auto first_row = out.substr(header_end + 1, out.find('\n', header_end + 1) - header_end - 1);
  EXPECT_TRUE(contains(first_row, "switch -> n0/nic2")) << out;
}

TEST(ReplayCommand, JsonGivesPerGpuArraysLinkKindsAndBusiestLinks) {
  const auto out = run("replay --cluster " + kData + "ideal-8gpu-4nic.json --nodes 2 --matrix " + kData +
                       "skewed-16gpu.json --json --top 3 --algorithm hierarchical");
  const auto j = nlohmann::json::parse(out);
  ASSERT_EQ(j.at("send_finish_us").size(), 16u);
  ASSERT_EQ(j.at("recv_finish_us").size(), 16u);
  EXPECT_EQ(j.at("algorithm"), "hierarchical");
  EXPECT_EQ(j.at("busiest_links").size(), 3u);
  EXPECT_TRUE(j.at("busiest_links")[0].contains("from"));
  EXPECT_TRUE(j.at("busiest_links")[0].contains("utilization"));
  EXPECT_FALSE(j.at("links_by_kind").empty());
  // The same figures as the library.
  const auto topo = moesim::load_cluster(kData + "ideal-8gpu-4nic.json", 2);
  const auto m = moesim::load_traffic_matrix(kData + "skewed-16gpu.json", 16);
  const auto r = replay_traffic(topo, moesim::CostFactors::defaults(), m, moesim::AllToAllAlgorithm::Hierarchical);
  EXPECT_DOUBLE_EQ(j.at("completion_time_us").get<double>(), r.completion.us());
  double latest = 0;
  for (const auto& t : j.at("recv_finish_us")) latest = std::max(latest, t.get<double>());
  EXPECT_DOUBLE_EQ(latest, r.completion.us());
  EXPECT_GE(j.at("completion_time_us").get<double>(), j.at("link_bound_us").get<double>());
}

TEST(ReplayCommand, ManyGpusAreSummarisedWithTheSlowestListed) {
  // 16 nodes = 128 GPUs: one heavy flow into GPU 77 (n9/gpu5) makes it the slowest.
  const std::string path = testing::TempDir() + "/replay-128.csv";
  {
    std::ofstream f(path);
    f << "src,dst,bytes\n0,77,1e9\n";
    for (int g = 1; g < 128; ++g) f << g << "," << (g + 1) % 128 << ",1e6\n";
  }
  const auto out = run("replay --cluster " + kData + "ideal-8gpu-4nic.json --nodes 16 --matrix " + path + " --ideal");
  EXPECT_TRUE(contains(out, "receive finish (us): min")) << out;
  EXPECT_TRUE(contains(out, "slowest GPUs")) << out;
  EXPECT_TRUE(contains(out, "max") && contains(out, "(n9/gpu5)")) << out;
  EXPECT_FALSE(contains(out, "n3/gpu3 ")) << out;  // not every GPU is listed
  std::remove(path.c_str());
}

TEST(ReplayCommand, AMatrixThatDoesNotFitTheClusterIsAnErrorNamingTheFile) {
  // skewed-16gpu.json has 16 GPUs; 3 nodes have 24.
  try {
    run("replay --cluster " + kData + "ideal-8gpu-4nic.json --nodes 3 --matrix " + kData + "skewed-16gpu.json");
    FAIL() << "no error";
  } catch (const moesim::ConfigError& e) {
    EXPECT_EQ(e.json_path(), "/gpus");
    EXPECT_TRUE(contains(e.what(), "skewed-16gpu.json: /gpus: the matrix has 16 GPUs but the cluster has 24"))
        << e.what();
  }
  try {
    run("replay --cluster " + kData + "ideal-8gpu-4nic.json --nodes 1 --matrix " + kData + "skewed-16gpu.csv");
    FAIL() << "no error";
  } catch (const moesim::MatrixFormatError& e) {
    EXPECT_TRUE(contains(e.what(), "skewed-16gpu.csv:13: dst 8 is out of range: the cluster has 8 GPUs (0-7)"))
        << e.what();
  }
}

TEST(ReplayCommand, ClusterAndMatrixAreRequiredAndIdealExcludesCalibration) {
  EXPECT_THROW(run("replay --matrix x.csv"), CLI::RequiredError);
  EXPECT_THROW(run("replay --cluster p4d.24xlarge"), CLI::RequiredError);
  EXPECT_THROW(run("replay --cluster p4d.24xlarge --matrix x.csv --ideal --calibration c.json"), CLI::ExcludesError);
  EXPECT_THROW(run("replay --cluster p4d.24xlarge --matrix x.txt"), moesim::InputError);
}

TEST(ReplayCommand, WritesEveryLinkAndEveryTransferToCsvForCrossChecks) {
  const std::string links = testing::TempDir() + "/replay-links.csv", flows = testing::TempDir() + "/replay-flows.csv";
  run("replay --cluster " + kData + "ideal-8gpu-4nic.json --matrix " + kData +
      "skewed-16gpu.csv --ideal --no-pxn --links-csv " + links + " --flows-csv " + flows);
  const auto read = [](const std::string& p) {
    std::ifstream f(p);
    std::vector<std::string> lines;
    for (std::string l; std::getline(f, l);) lines.push_back(l);
    return lines;
  };
  const auto l = read(links), fl = read(flows);
  // 116 directed links (moesim topo show), 240 off-diagonal pairs; plus the header lines.
  ASSERT_EQ(l.size(), 117u);
  EXPECT_EQ(l[0], "link,from,to,class,kind,capacity_GBps,latency_us,bytes,wire_bytes,utilization,busy_us,peak_flows");
  ASSERT_EQ(fl.size(), 241u);
  EXPECT_EQ(fl[0], "src,dst,src_name,dst_name,bytes,start_us,finish_us");
  EXPECT_EQ(fl[1].rfind("0,1,n0/gpu0,n0/gpu1,4194304,0,", 0), 0u) << fl[1];
  bool nic = false;
  for (const auto& line : l)
    nic = nic || line.find(",n0/nic2,switch,network_access,efa-v1,12.5,2,") != std::string::npos;
  EXPECT_TRUE(nic);
  std::remove(links.c_str());
  std::remove(flows.c_str());
}
