#include "validation/measurements.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "sim/error.h"

namespace moesim::validation {
namespace {

// Every field set, including the optional ones, so a round trip checks all of them.
// (Values are arbitrary test values, not measurements.)
MeasurementSet full_set() {
  MeasurementSet s;
  s.hardware = HardwareInfo{.gpu_name = "Test GPU",
                            .gpu_count = 2,
                            .driver = "13.0",
                            .cuda_version = "13.0",
                            .nccl_version = "2.28.9",
                            .clocks = Clocks{.sm_MHz = 1980, .memory_MHz = 2619},
                            .topology_text = "\tGPU0\tGPU1\nGPU0\t X \tNV18\nGPU1\tNV18\t X \n",
                            .hostname = "host-a",
                            .date = "2025-01-02T03:04:05Z",
                            .compute_capability = "9.0",
                            .sm_count = 132,
                            .memory_bytes = 85520809984};
  s.source = {.tool = "unit test", .file = "x.json"};
  s.collectives.push_back(CollectiveMeasurement{.op = CollectiveOp::AllToAll,
                                                .ranks = 2,
                                                .nodes = 1,
                                                .bytes = 1048576,
                                                .count = 262144,
                                                .dtype = "float",
                                                .redop = "none",
                                                .root = -1,
                                                .in_place = true,
                                                .time_us = 12.25,
                                                .algbw_GBps = 85.6,
                                                .busbw_GBps = 42.8,
                                                .wrong = 0});
  CollectiveMeasurement minimal;  // optionals unset
  minimal.op = CollectiveOp::SendRecv;
  minimal.bytes = 8;
  minimal.time_us = 5.5;
  s.collectives.push_back(minimal);
  s.gemms.push_back(GemmMeasurement{.m = 256,
                                    .n = 14336,
                                    .k = 4096,
                                    .dtype = "bf16",
                                    .time_us = 101.5,
                                    .spread = TimeSpread{.min_us = 99, .p10_us = 100, .p90_us = 103, .max_us = 110},
                                    .reps = 20,
                                    .iterations_per_rep = 4,
                                    .tflops = 296.3});
  s.kernels.push_back(KernelMeasurement{.name = "permute",
                                        .params = {{"tokens", 4096}, {"hidden", 4096}, {"top_k", 2}},
                                        .bytes = 67108864,
                                        .time_us = 40.0,
                                        .spread = std::nullopt,
                                        .reps = 10});
  s.notes = {"fp8 skipped: not supported"};
  return s;
}

template <typename F>
ConfigError config_error_of(F&& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e;
  }
  ADD_FAILURE() << "expected a ConfigError";
  return ConfigError("", "", "none");
}

std::string replace_once(std::string text, const std::string& from, const std::string& to) {
  const auto p = text.find(from);
  EXPECT_NE(p, std::string::npos) << from;
  if (p != std::string::npos) text.replace(p, from.size(), to);
  return text;
}

TEST(Measurements, RoundTripThroughJsonTextPreservesEveryField) {
  const auto s = full_set();
  const auto text = write_measurements_text(s);
  EXPECT_EQ(read_measurements_text(text, "mem"), s);
}

TEST(Measurements, RoundTripThroughAFilePreservesEveryField) {
  const auto s = full_set();
  const auto path = (std::filesystem::temp_directory_path() / "moesim_measurements_roundtrip.json").string();
  write_measurements_file(s, path);
  EXPECT_EQ(read_measurements_file(path), s);
  std::filesystem::remove(path);
}

TEST(Measurements, WritingTheSameSetTwiceGivesIdenticalText) {
  EXPECT_EQ(write_measurements_text(full_set()), write_measurements_text(full_set()));
}

TEST(Measurements, AFileWithOnlyFormatAndVersionIsAnEmptySet) {
  const auto s = read_measurements_text(R"({"format": "moesim-measurements", "version": 1})", "min");
  EXPECT_EQ(s, MeasurementSet{});
}

TEST(Measurements, AnUnknownKeyInACollectiveIsRejectedWithItsJsonPointer) {
  auto text = replace_once(write_measurements_text(full_set()), "\"ranks\": 2", "\"ranks\": 2, \"rank\": 3");
  const auto e = config_error_of([&] { read_measurements_text(text, "in.json"); });
  EXPECT_EQ(e.file(), "in.json");
  EXPECT_EQ(e.json_path(), "/collectives/0/rank");
}

TEST(Measurements, AnUnknownTopLevelKeyIsRejected) {
  const auto e = config_error_of(
      [] { read_measurements_text(R"({"format": "moesim-measurements", "version": 1, "gemm": []})", "in.json"); });
  EXPECT_EQ(e.json_path(), "/gemm");
}

TEST(Measurements, AnUnknownHardwareKeyIsRejected) {
  auto text = replace_once(write_measurements_text(full_set()), "\"gpu_count\": 2", "\"gpu_count\": 2, \"gpus\": 2");
  EXPECT_EQ(config_error_of([&] { read_measurements_text(text, "in.json"); }).json_path(), "/hardware/gpus");
}

TEST(Measurements, AnotherFormatOrVersionIsRejected) {
  EXPECT_EQ(config_error_of([] { read_measurements_text(R"({"format": "x", "version": 1})", "f"); }).json_path(),
            "/format");
  EXPECT_EQ(config_error_of([] {
              read_measurements_text(R"({"format": "moesim-measurements", "version": 2})", "f");
            }).json_path(),
            "/version");
}

TEST(Measurements, OutOfRangeAndUnknownValuesNameTheirPath) {
  const auto base = write_measurements_text(full_set());
  struct Case {
    std::string from, to, path;
  };
  const std::vector<Case> cases = {
      {"\"bytes\": 1048576", "\"bytes\": -1", "/collectives/0/bytes"},
      {"\"op\": \"alltoall\"", "\"op\": \"all_to_all\"", "/collectives/0/op"},
      {"\"ranks\": 2", "\"ranks\": 0", "/collectives/0/ranks"},
      {"\"nodes\": 1", "\"nodes\": 3", "/collectives/0/nodes"},
      {"\"dtype\": \"bf16\"", "\"dtype\": \"bfloat16\"", "/gemms/0/dtype"},
      {"\"time_us\": 101.5", "\"time_us\": 0", "/gemms/0/time_us"},
      {"\"time_us\": 101.5", "\"time_us\": 98", "/gemms/0/time_us"},  // median below spread min
      {"\"p10\": 100.0", "\"p10\": 104.0", "/gemms/0/time_spread_us"},
      {"\"name\": \"permute\"", "\"name\": \"scatter\"", "/kernels/0/name"},
      {"\"top_k\": 2", "\"top_k\": 2.5", "/kernels/0/params/top_k"},
  };
  for (const auto& c : cases) {
    const auto text = replace_once(base, c.from, c.to);
    EXPECT_EQ(config_error_of([&] { read_measurements_text(text, "in.json"); }).json_path(), c.path) << c.to;
  }
}

TEST(Measurements, TheWriterRefusesASetThatBreaksTheSchema) {
  auto s = full_set();
  s.collectives[0].bytes = -5;
  const auto e = config_error_of([&] { write_measurements_text(s); });
  EXPECT_EQ(e.json_path(), "/collectives/0/bytes");
}

TEST(Measurements, TheShippedSchemaSampleReads) {
  const auto s = read_measurements_file(MOESIM_TEST_DATA_DIR "/measurements/schema_sample.json");
  EXPECT_FALSE(s.collectives.empty());
  EXPECT_FALSE(s.gemms.empty());
  EXPECT_FALSE(s.kernels.empty());
  EXPECT_EQ(s.source.tool, "hand-written schema sample (not a measurement)");
}

TEST(Measurements, BusBandwidthFactorsFollowNcclTests) {
  // nccl-tests src/*.cu: allreduce 2(n-1)/n; allgather, reducescatter, alltoall (n-1)/n; others 1.
  EXPECT_DOUBLE_EQ(busbw_factor(CollectiveOp::AllReduce, 8), 1.75);
  EXPECT_DOUBLE_EQ(busbw_factor(CollectiveOp::AllToAll, 8), 0.875);
  EXPECT_DOUBLE_EQ(busbw_factor(CollectiveOp::AllGather, 4), 0.75);
  EXPECT_DOUBLE_EQ(busbw_factor(CollectiveOp::ReduceScatter, 2), 0.5);
  EXPECT_DOUBLE_EQ(busbw_factor(CollectiveOp::SendRecv, 16), 1.0);
  EXPECT_DOUBLE_EQ(busbw_factor(CollectiveOp::Broadcast, 16), 1.0);
  EXPECT_DOUBLE_EQ(busbw_factor(CollectiveOp::AllReduce, 1), 0.0);
}

TEST(Measurements, CollectiveOpNamesRoundTrip) {
  for (auto op : kAllCollectiveOps) EXPECT_EQ(collective_op_from_string(to_string(op)), op);
  EXPECT_FALSE(collective_op_from_string("all_reduce").has_value());
}

}  // namespace
}  // namespace moesim::validation
