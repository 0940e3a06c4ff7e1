#include "validation/nccl_tests_log.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

// The logs under tests/data/nccl-tests are FORMAT SAMPLES with made-up numbers (see the
// README there); these tests check parsing, never the values' realism.

namespace moesim::validation {
namespace {

const std::string kDir = MOESIM_TEST_DATA_DIR "/nccl-tests/";

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  for (std::string l; std::getline(ss, l);) out.push_back(l);
  return out;
}

std::string join_lines(const std::vector<std::string>& lines, std::size_t count) {
  std::string out;
  for (std::size_t i = 0; i < count && i < lines.size(); ++i) out += lines[i] + "\n";
  return out;
}

/// 1-based number of the first line containing `needle` (0 if none).
int line_of(const std::string& text, const std::string& needle, int from = 1) {
  const auto lines = split_lines(text);
  for (std::size_t i = static_cast<std::size_t>(from - 1); i < lines.size(); ++i)
    if (lines[i].find(needle) != std::string::npos) return static_cast<int>(i) + 1;
  return 0;
}

std::string drop_lines_containing(const std::string& text, const std::string& needle) {
  std::string out;
  for (const auto& l : split_lines(text))
    if (l.find(needle) == std::string::npos) out += l + "\n";
  return out;
}

template <typename F>
LogFormatError log_error_of(F&& f) {
  try {
    f();
  } catch (const LogFormatError& e) {
    return e;
  }
  ADD_FAILURE() << "expected a LogFormatError";
  return LogFormatError("", 0, "none");
}

TEST(NcclTestsLog, SrunLabelledAllReduceImportsBothColumnGroupsOfEveryRow) {
  const auto r = import_nccl_tests_log_file(kDir + "all_reduce_8gpu_srun.log");
  ASSERT_EQ(r.tables.size(), 1u);
  const auto& t = r.tables[0];
  EXPECT_EQ(t.op, CollectiveOp::AllReduce);
  EXPECT_EQ(t.op_source, "command line");
  EXPECT_EQ(t.ranks, 8);
  EXPECT_EQ(t.nodes, 1);
  EXPECT_EQ(t.hosts, std::vector<std::string>{"gpu-node-01"});
  EXPECT_EQ(t.gpu_name, "NVIDIA H100 80GB HBM3");
  ASSERT_TRUE(t.avg_busbw_GBps.has_value());
  EXPECT_DOUBLE_EQ(*t.avg_busbw_GBps, 78.8171);

  const auto& c = r.measurements.collectives;
  ASSERT_EQ(c.size(), 50u);  // 25 sizes (8 B .. 128 MiB, factor 2) x {out-of-place, in-place}
  EXPECT_EQ(t.measurements, 50u);
  EXPECT_EQ(c[0].bytes, 8);
  EXPECT_EQ(c[0].count, 2);
  EXPECT_EQ(c[0].dtype, "float");
  EXPECT_EQ(c[0].redop, "sum");
  EXPECT_EQ(c[0].root, -1);
  EXPECT_FALSE(c[0].in_place);
  EXPECT_DOUBLE_EQ(c[0].time_us, 14.00);
  EXPECT_TRUE(c[1].in_place);
  EXPECT_DOUBLE_EQ(c[1].time_us, 14.10);
  EXPECT_EQ(c[0].wrong, 0);
  const auto& last = c[48];
  EXPECT_EQ(last.bytes, 134217728);
  EXPECT_DOUBLE_EQ(last.time_us, 760.0);
  EXPECT_DOUBLE_EQ(last.algbw_GBps, 176.60);
  EXPECT_DOUBLE_EQ(last.busbw_GBps, 309.05);
  for (const auto& m : c) {
    EXPECT_EQ(m.ranks, 8);
    EXPECT_EQ(m.nodes, 1);
  }
  const auto& hw = r.measurements.hardware;
  EXPECT_EQ(hw.gpu_name, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(hw.gpu_count, 8);
  EXPECT_EQ(hw.hostname, "gpu-node-01");
  EXPECT_EQ(hw.nccl_version, "2.21.5+cuda12.4");
  EXPECT_EQ(r.measurements.source.tool, "nccl-tests");
  EXPECT_EQ(r.measurements.source.file, kDir + "all_reduce_8gpu_srun.log");
}

TEST(NcclTestsLog, MpirunTaggedAlltoallCountsRanksAndNodesFromRankLines) {
  const auto r = import_nccl_tests_log_file(kDir + "alltoall_16gpu_2node_mpirun.log");
  ASSERT_EQ(r.tables.size(), 1u);
  const auto& t = r.tables[0];
  EXPECT_EQ(t.op, CollectiveOp::AllToAll);
  EXPECT_EQ(t.ranks, 16);
  EXPECT_EQ(t.nodes, 2);
  EXPECT_EQ(t.hosts, (std::vector<std::string>{"gpu-node-07", "gpu-node-08"}));
  const auto& c = r.measurements.collectives;
  ASSERT_EQ(c.size(), 38u);  // 19 sizes (1 KiB .. 256 MiB) x 2 groups
  for (std::size_t i = 0; i < c.size(); ++i) {
    EXPECT_EQ(c[i].redop, "none");
    EXPECT_EQ(c[i].root, -1);
    EXPECT_EQ(c[i].in_place, i % 2 == 1);
    // The in-place #wrong column prints N/A: not checked, so unset.
    if (c[i].in_place) EXPECT_FALSE(c[i].wrong.has_value());
    else EXPECT_EQ(c[i].wrong, 0);
  }
  // busbw = algbw * 15/16 for a 16-rank all-to-all (within the two printed decimals).
  EXPECT_NEAR(c.back().busbw_GBps, c.back().algbw_GBps * 15.0 / 16.0, 0.01);
  EXPECT_EQ(r.measurements.hardware.hostname, "gpu-node-07,gpu-node-08");
  EXPECT_EQ(r.measurements.hardware.gpu_count, 16);
}

TEST(NcclTestsLog, SeveralTestsInOneFileAreSplitByTheirOwnHeaders) {
  const auto r = import_nccl_tests_log_file(kDir + "five_tests_4gpu.log");
  ASSERT_EQ(r.tables.size(), 5u);
  const std::vector<CollectiveOp> ops = {CollectiveOp::AllGather, CollectiveOp::ReduceScatter, CollectiveOp::SendRecv,
                                         CollectiveOp::Broadcast, CollectiveOp::Reduce};
  const std::vector<std::string> sources = {"collective-test line", "collective-test line", "command line",
                                            "collective-test line", "command line"};
  std::size_t total = 0;
  for (std::size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(r.tables[i].op, ops[i]) << i;
    EXPECT_EQ(r.tables[i].op_source, sources[i]) << i;
    EXPECT_EQ(r.tables[i].ranks, 4);
    EXPECT_EQ(r.tables[i].nodes, 1);
    EXPECT_EQ(r.tables[i].measurements, 18u);  // 9 sizes x 2 groups
    total += r.tables[i].measurements;
  }
  ASSERT_EQ(r.measurements.collectives.size(), total);
  EXPECT_EQ(r.measurements.collectives[18].op, CollectiveOp::ReduceScatter);
  EXPECT_EQ(r.measurements.collectives.back().op, CollectiveOp::Reduce);
  EXPECT_EQ(r.measurements.collectives.back().root, 0);
  // "nccl-library=22705" -> 2.27.5; the tests' own version names the tool.
  EXPECT_EQ(r.measurements.hardware.nccl_version, "2.27.5");
  EXPECT_EQ(r.measurements.source.tool, "nccl-tests 2.17.1");
}

TEST(NcclTestsLog, ATableWhoseOpTheLogDoesNotNameIsInferredWhenOnlyOneOpFits) {
  // Without the command line, busbw/algbw = 1.75 = 2(8-1)/8 on 8 ranks singles out all-reduce.
  const auto text = drop_lines_containing(read_text(kDir + "all_reduce_8gpu_srun.log"), "all_reduce_perf");
  const auto r = import_nccl_tests_log_text(text, "no-echo.log");
  ASSERT_EQ(r.tables.size(), 1u);
  EXPECT_EQ(r.tables[0].op, CollectiveOp::AllReduce);
  EXPECT_EQ(r.tables[0].op_source, "data");
}

TEST(NcclTestsLog, AnAmbiguousTableNeedsTheOpOption) {
  // (n-1)/n with redop "none" fits both all-to-all and all-gather.
  const auto text = drop_lines_containing(read_text(kDir + "alltoall_16gpu_2node_mpirun.log"), "alltoall_perf");
  const auto e = log_error_of([&] { import_nccl_tests_log_text(text, "a2a.log"); });
  EXPECT_EQ(e.line(), line_of(text, "size         count"));
  EXPECT_NE(std::string(e.what()).find("alltoall, allgather"), std::string::npos) << e.what();

  const auto r = import_nccl_tests_log_text(text, "a2a.log", {.op = CollectiveOp::AllToAll, .ranks = {}, .nodes = {}});
  ASSERT_EQ(r.tables.size(), 1u);
  EXPECT_EQ(r.tables[0].op, CollectiveOp::AllToAll);
  EXPECT_EQ(r.tables[0].op_source, "option");
}

TEST(NcclTestsLog, AnOpOptionThatContradictsTheBandwidthsIsAnError) {
  const auto text = drop_lines_containing(read_text(kDir + "all_reduce_8gpu_srun.log"), "all_reduce_perf");
  const auto e = log_error_of(
      [&] { import_nccl_tests_log_text(text, "x.log", {.op = CollectiveOp::AllToAll, .ranks = {}, .nodes = {}}); });
  EXPECT_NE(std::string(e.what()).find("does not match alltoall on 8 ranks"), std::string::npos) << e.what();
}

TEST(NcclTestsLog, ACutFileReportsTheTableAsTruncatedAtItsLastLine) {
  const auto full = read_text(kDir + "all_reduce_8gpu_srun.log");
  const int cut = line_of(full, "     1048576 ");
  ASSERT_GT(cut, 0);
  const auto text = join_lines(split_lines(full), static_cast<std::size_t>(cut));
  const auto e = log_error_of([&] { import_nccl_tests_log_text(text, "cut.log"); });
  EXPECT_EQ(e.file(), "cut.log");
  EXPECT_EQ(e.line(), cut);
  EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
  EXPECT_EQ(std::string(e.what()).rfind(fmt::format("cut.log:{}: ", cut), 0), 0u) << e.what();
}

TEST(NcclTestsLog, ARowCutMidwayIsReportedAtItsLine) {
  auto lines = split_lines(read_text(kDir + "all_reduce_8gpu_srun.log"));
  const int cut = line_of(join_lines(lines, lines.size()), "     1048576 ");
  auto& row = lines[static_cast<std::size_t>(cut - 1)];
  row = row.substr(0, row.size() - 30);
  const auto text = join_lines(lines, static_cast<std::size_t>(cut));
  const auto e = log_error_of([&] { import_nccl_tests_log_text(text, "cut.log"); });
  EXPECT_EQ(e.line(), cut);
  EXPECT_NE(std::string(e.what()).find("the file ends here"), std::string::npos) << e.what();
}

TEST(NcclTestsLog, AMalformedCellNamesItsLineAndColumn) {
  auto lines = split_lines(read_text(kDir + "five_tests_4gpu.log"));
  const auto all = join_lines(lines, lines.size());
  const int bad = line_of(all, "      262144 ");
  auto& row = lines[static_cast<std::size_t>(bad - 1)];
  row.replace(row.find("13.75"), 5, "13.x5");
  const auto e = log_error_of([&] { import_nccl_tests_log_text(join_lines(lines, lines.size()), "bad.log"); });
  EXPECT_EQ(e.line(), bad);
  EXPECT_NE(std::string(e.what()).find("column 6 (time)"), std::string::npos) << e.what();
}

TEST(NcclTestsLog, ATestThatStartsBeforeThePreviousTableEndedIsReportedThere) {
  const auto five = read_text(kDir + "five_tests_4gpu.log");
  const auto lines = split_lines(five);
  const int cut = line_of(five, "     2097152 ");  // inside the first table
  const auto text = join_lines(lines, static_cast<std::size_t>(cut)) + five;
  const auto e = log_error_of([&] { import_nccl_tests_log_text(text, "two.log"); });
  EXPECT_EQ(e.line(), line_of(text, "# Collective test starting", cut + 1));
  EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
}

TEST(NcclTestsLog, ATableWithoutRankLinesNeedsTheRankCount) {
  const auto text = drop_lines_containing(read_text(kDir + "all_reduce_8gpu_srun.log"), "#  Rank");
  const auto e = log_error_of([&] { import_nccl_tests_log_text(text, "norank.log"); });
  EXPECT_EQ(e.line(), line_of(text, "size         count"));
  const auto r = import_nccl_tests_log_text(text, "norank.log", {.op = {}, .ranks = 8, .nodes = 1});
  EXPECT_EQ(r.tables.at(0).ranks, 8);
  EXPECT_EQ(r.tables.at(0).nodes, 1);
  EXPECT_EQ(r.measurements.collectives.at(0).ranks, 8);
}

TEST(NcclTestsLog, PaddedSrunLabelsAndOldErrorColumnsAreRead) {
  // Old nccl-tests layout: no root column, an "error" column instead of "#wrong"; srun pads
  // task labels to the widest id. (A format sample: values illustrative.)
  const std::string text =
      " 0: # nThread 1 nGpus 1 minBytes 1048576 maxBytes 4194304 step: 2(factor) warmup iters: 5 iters: 20 "
      "validation: 1\n"
      " 0: #\n"
      " 0: # Using devices\n"
      " 0: #   Rank  0 Pid  10001 on     node-a device  0 [0x07] Tesla V100-SXM2-32GB\n"
      " 0: #   Rank  1 Pid  10002 on     node-b device  0 [0x07] Tesla V100-SXM2-32GB\n"
      "11: node-b:10002:10002 [0] NCCL INFO Launch mode Parallel\n"
      " 0: #\n"
      " 0: #                                                     out-of-place                       in-place          \n"
      " 0: #       size         count    type   redop     time   algbw   busbw  error     time   algbw   busbw  error\n"
      " 0: #        (B)    (elements)                     (us)  (GB/s)  (GB/s)            (us)  (GB/s)  (GB/s)\n"
      " 0:      1048576        262144   float     sum    100.0   10.49   10.49  0e+00    101.0   10.38   10.38  0e+00\n"
      " 0:      2097152        524288   float     sum    190.0   11.04   11.04  0e+00    191.0   10.98   10.98  0e+00\n"
      " 0:      4194304       1048576   float     sum    370.0   11.34   11.34  0e+00    372.0   11.28   11.28  0e+00\n"
      " 0: # Out of bounds values : 0 OK\n"
      " 0: # Avg bus bandwidth    : 10.9217 \n";
  const auto r = import_nccl_tests_log_text(text, "old.log", {.op = CollectiveOp::AllReduce, .ranks = {}, .nodes = {}});
  ASSERT_EQ(r.tables.size(), 1u);
  EXPECT_EQ(r.tables[0].ranks, 2);
  EXPECT_EQ(r.tables[0].nodes, 2);
  EXPECT_EQ(r.tables[0].gpu_name, "Tesla V100-SXM2-32GB");
  ASSERT_EQ(r.measurements.collectives.size(), 6u);
  EXPECT_FALSE(r.measurements.collectives[0].root.has_value());
  EXPECT_FALSE(r.measurements.collectives[0].wrong.has_value());
  EXPECT_DOUBLE_EQ(r.measurements.collectives[5].time_us, 372.0);
}

TEST(NcclTestsLog, TestsMoesimDoesNotImportAreSkippedWithANote) {
  auto text = read_text(kDir + "five_tests_4gpu.log");
  // Rename the first test (all_gather) to gather_perf, which moesim does not import.
  for (std::size_t p; (p = text.find("all_gather_perf")) != std::string::npos;) text.replace(p, 15, "gather_perf");
  const auto r = import_nccl_tests_log_text(text, "g.log");
  EXPECT_EQ(r.tables.size(), 4u);
  ASSERT_EQ(r.measurements.notes.size(), 1u);
  EXPECT_NE(r.measurements.notes[0].find("gather_perf"), std::string::npos);
}

TEST(NcclTestsLog, AFileWithNoTableIsAnError) {
  const auto e = log_error_of([] { import_nccl_tests_log_text("hello\nNCCL INFO x\n", "empty.log"); });
  EXPECT_EQ(e.line(), 2);
  EXPECT_THROW(import_nccl_tests_log_file(kDir + "does-not-exist.log"), InputError);
}

TEST(NcclTestsLog, ATrailerWithoutATableIsAnError) {
  const auto e = log_error_of([] { import_nccl_tests_log_text("#\n# Avg bus bandwidth    : 1.0\n", "t.log"); });
  EXPECT_EQ(e.line(), 2);
}

TEST(NcclTestsLog, ImportedMeasurementsSatisfyTheSchema) {
  // What the importer produces must be writable and read back identically.
  const auto r = import_nccl_tests_log_file(kDir + "five_tests_4gpu.log");
  const auto text = write_measurements_text(r.measurements);
  EXPECT_EQ(read_measurements_text(text, "x"), r.measurements);
}

}  // namespace
}  // namespace moesim::validation
