// `moesim calibrate` and `moesim validate --measurements` (tools/cmd_calibrate.cpp,
// tools/cmd_validate.cpp) through CLI11, as main() runs them, and `--calibration` carrying the
// compute section into `moesim run`.
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include "sim/error.h"
#include "tests/cli_capture.h"
#include "tests/validation/synthetic_measurements.h"
#include "tools/commands.h"
#include "validation/nccl_tests_log.h"

namespace {

using json = nlohmann::json;
using moesim::validation::testing::temp_path;

const std::string kNccl = std::string(MOESIM_TEST_DATA_DIR) + "/nccl-tests/";
const std::string kSamples =
    kNccl + "five_tests_4gpu.log " + kNccl + "alltoall_16gpu_2node_mpirun.log " + kNccl + "all_reduce_8gpu_srun.log";

std::string calibrate(const std::string& args) {
  ::testing::internal::CaptureStderr();
  try {
    auto out = moesim::testing_cli::run_cli(moesim::cli::add_calibrate_command, "calibrate " + args);
    ::testing::internal::GetCapturedStderr();
    return out;
  } catch (...) {
    ::testing::internal::GetCapturedStderr();
    throw;
  }
}
std::string validate(const std::string& args) {
  return moesim::testing_cli::run_cli(moesim::cli::add_validate_command, "validate " + args);
}
std::string run(const std::string& args) {
  return moesim::testing_cli::run_cli(moesim::cli::add_run_command, "run " + args);
}
std::string collective(const std::string& args) {
  return moesim::testing_cli::run_cli(moesim::cli::add_collective_command, "collective " + args);
}

std::string write_text(const std::string& name, const std::string& text) {
  const auto path = temp_path(name);
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  return {std::istreambuf_iterator<char>(f), {}};
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// Expects `fn` to throw a moesim::Error subclass E whose message names `file`.
template <typename E, typename Fn>
void expect_error_naming(Fn fn, const std::string& file, const std::string& part = "") {
  try {
    fn();
    ADD_FAILURE() << "no error";
  } catch (const E& e) {
    EXPECT_TRUE(contains(e.what(), file)) << e.what();
    if (!part.empty()) {
      EXPECT_TRUE(contains(e.what(), part)) << e.what();
    }
  }
}

}  // namespace

TEST(CalibrateCommand, FitsTheSampleLogsAndWritesAFileCollectiveAccepts) {
  const auto out_path = temp_path("samples_calib.json");
  const auto out = calibrate("--from " + kSamples + " --cluster dgx-h100 --out " + out_path);
  EXPECT_TRUE(contains(out, "transport nvlink (from sendrecv rows)")) << out;
  EXPECT_TRUE(contains(out, "transport infiniband (from alltoall rows)")) << out;
  EXPECT_TRUE(contains(out, "fit, fastest protocol per size")) << out;
  EXPECT_TRUE(contains(out, "simulated (these rows through the simulator")) << out;
  EXPECT_TRUE(contains(out, "transports not measured (embedded defaults kept): pcie_p2p, pcie_host, efa, roce")) << out;
  EXPECT_TRUE(contains(out, "allreduce rows: not fitted")) << out;
  EXPECT_TRUE(contains(out, "compute: nothing measured, the embedded defaults are kept")) << out;
  EXPECT_TRUE(contains(out, "wrote " + out_path)) << out;
  // The file drives `moesim collective`.
  const auto with = collective("--cluster dgx-h100 --nodes 2 --op alltoall --bytes 1M --calibration " + out_path);
  EXPECT_TRUE(contains(with, "cost factors: " + out_path)) << with;
  const json f = json::parse(read_text(out_path));
  EXPECT_EQ(f["sources"].size(), 3u);
  EXPECT_FALSE(f.contains("compute"));
  EXPECT_TRUE(f["transports"].contains("nvlink"));
  EXPECT_TRUE(f["transports"].contains("infiniband"));
}

TEST(CalibrateCommand, JsonPrintsTheFitReport) {
  const auto out_path = temp_path("samples_calib_json.json");
  const json j = json::parse(calibrate("--from " + kSamples + " --cluster dgx-h100 --json --out " + out_path));
  EXPECT_EQ(j["out"], out_path);
  EXPECT_EQ(j["fit"]["cluster"], "dgx-h100");
  EXPECT_EQ(j["fit"]["inputs"].size(), 3u);
  ASSERT_EQ(j["fit"]["transports"].size(), 2u);
  EXPECT_TRUE(j["fit"]["transports"][0]["envelope_error"].contains("worst_rel_error"));
  EXPECT_EQ(j["fit"]["transports_kept_default"].size(), 4u);
}

TEST(CalibrateCommand, ARunWithTheCalibrationUsesItsComputeCurves) {
  using namespace moesim::validation::testing;
  const auto meas = temp_path("cli_synthetic.json");
  moesim::validation::write_measurements_file(synthetic_measurements({.alltoall = false}), meas);
  const auto calib = temp_path("cli_calib.json");
  calibrate("--from " + meas + " --cluster dgx-h100 --out " + calib);
  // The generating values as a calibration file: what a perfect fit would have written.
  json gen = json::parse(kGeneratingCosts);
  gen["compute"] = json::parse(kGeneratingCompute);
  const auto truth = write_text("cli_truth.json", gen.dump());
  const std::string base =
      "--cluster dgx-h100 --nodes 1 --model switch-base-128 --set layers=2 --set tokens_per_gpu=2048 --json";
  const double calibrated = json::parse(run(base + " --calibration " + calib))["breakdown"]["compute_s"];
  const double generating = json::parse(run(base + " --calibration " + truth))["breakdown"]["compute_s"];
  const double defaults = json::parse(run(base))["breakdown"]["compute_s"];
  EXPECT_NEAR(calibrated, generating, 0.03 * generating);
  // 62% of peak + 14 us per GEMM is slower than the defaults (81.6% + 9.6 us).
  EXPECT_GT(calibrated, 1.1 * defaults);
}

TEST(CalibrateCommand, BadInputsAreErrorsNamingTheFile) {
  const auto out = temp_path("never_written.json");
  // Truncated nccl-tests log.
  const std::string log = read_text(kNccl + "alltoall_16gpu_2node_mpirun.log");
  const auto cut = write_text("cli_truncated.log", log.substr(0, log.find("# Out of bounds")));
  expect_error_naming<moesim::validation::LogFormatError>(
      [&] { calibrate("--from " + cut + " --cluster dgx-h100 --out " + out); }, cut, "Avg bus bandwidth");
  // Malformed JSON.
  const auto bad = write_text("cli_malformed.json", "{\"format\": \"moesim-measurements\",");
  expect_error_naming<moesim::ConfigError>([&] { calibrate("--from " + bad + " --cluster dgx-h100 --out " + out); },
                                           bad, "malformed JSON");
  // Unknown file type.
  const auto text = write_text("cli_unknown.csv", "size,time\n8,1.0\n");
  expect_error_naming<moesim::InputError>([&] { calibrate("--from " + text + " --cluster dgx-h100 --out " + out); },
                                          text, "unknown file type");
  // Missing file.
  const auto missing = temp_path("cli_missing.log");
  expect_error_naming<moesim::InputError>([&] { calibrate("--from " + missing + " --cluster dgx-h100 --out " + out); },
                                          missing, "cannot open");
  // Cluster mismatch: 8 ranks per node measured, 4-GPU nodes given.
  const auto small = write_text("cli_4gpu_cluster.json", R"({
    "name": "four-gpu", "description": "4 x A100 per node for the cluster-mismatch test",
    "node_kinds": {"node": {"type": "nvswitch", "gpu": "a100-sxm4-40gb", "gpus": 4, "nvlink": "nvlink3",
                            "pcie": "pcie-gen4",
                            "pcie_switches": {"count": 2, "nics_per_switch": 1}, "nic": "efa-v1-100g"}},
    "nodes": [{"kind": "node", "count": 2}], "fabric": {"type": "single_switch"}})");
  const auto a2a = kNccl + "alltoall_16gpu_2node_mpirun.log";
  expect_error_naming<moesim::InputError>([&] { calibrate("--from " + a2a + " --cluster " + small + " --out " + out); },
                                          a2a, "8 ranks per node on 2 nodes, but node 0 of cluster");
  EXPECT_FALSE(std::ifstream(out).good());
  // Missing required options are usage errors.
  EXPECT_THROW(calibrate("--from " + a2a + " --out " + out), CLI::RequiredError);
}

TEST(CalibrateCommand, LogOptionsSupplyWhatALogDoesNotSay) {
  // The all-to-all sample without its "#  Rank" lines: the rank count is unknown.
  std::string log = read_text(kNccl + "alltoall_16gpu_2node_mpirun.log"), kept;
  for (std::size_t at = 0, end; at < log.size(); at = end + 1) {
    end = log.find('\n', at);
    if (end == std::string::npos) end = log.size();
    const auto line = log.substr(at, end - at);
    if (!contains(line, "#  Rank")) kept += line + "\n";
  }
  const auto anonymous = write_text("cli_no_ranks.log", kept);
  const auto out = temp_path("cli_no_ranks_calib.json");
  expect_error_naming<moesim::validation::LogFormatError>(
      [&] { calibrate("--from " + anonymous + " --cluster dgx-h100 --out " + out); }, anonymous,
      "number of ranks is unknown");
  const auto text = calibrate("--from " + anonymous + " --cluster dgx-h100 --nodes 2 --log-ranks 16 --out " + out);
  EXPECT_TRUE(contains(text, "alltoall, 16 ranks on 2 nodes: infiniband")) << text;
}

TEST(ValidateCommand, MeasurementsModeComparesEveryPointAndKeepsCasesMode) {
  using namespace moesim::validation::testing;
  const auto meas = temp_path("cli_validate_exact.json");
  moesim::validation::write_measurements_file(synthetic_measurements({.sigma = 0, .alltoall = false}), meas);
  json gen = json::parse(kGeneratingCosts);
  gen["compute"] = json::parse(kGeneratingCompute);
  const auto truth = write_text("cli_validate_truth.json", gen.dump());
  const json j =
      json::parse(validate("--measurements " + meas + " --cluster dgx-h100 --calibration " + truth + " --json"));
  EXPECT_LT(j["worst_error"].get<double>(), 1e-9);
  EXPECT_EQ(j["points"][0]["kind"], "collective");
  EXPECT_EQ(j["points"][0]["op"], "sendrecv");
  EXPECT_EQ(j["points"][0]["ranks"], 2);
  // With the defaults instead, the error is the gap between the two sets of values.
  const json d = json::parse(validate("--measurements " + meas + " --cluster dgx-h100 --json"));
  EXPECT_GT(d["worst_error"].get<double>(), 0.05);
  const auto text = validate("--measurements " + kNccl + "five_tests_4gpu.log --cluster dgx-h100");
  EXPECT_TRUE(contains(text, "| collective | sendrecv | 8 | 4 | 1 |")) << text;
  EXPECT_TRUE(contains(text, "median |error|")) << text;
  EXPECT_TRUE(contains(text, "not compared:")) << text;
  // --cases still works; one of the two modes is needed, not both.
  const auto cases = validate("--cases " + std::string(MOESIM_SOURCE_DIR) +
                              "/validation/cases/published_collectives.json --root " + MOESIM_SOURCE_DIR);
  EXPECT_TRUE(contains(cases, "held-out cases")) << cases;
  EXPECT_THROW(validate("--json"), CLI::ValidationError);
  EXPECT_THROW(validate("--measurements " + meas), CLI::ValidationError);  // no --cluster
  EXPECT_THROW(validate("--cases x.json --measurements " + meas + " --cluster dgx-h100"), CLI::ExcludesError);
}
