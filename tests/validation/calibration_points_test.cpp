#include "validation/calibration_points.h"

#include <gtest/gtest.h>

#include "validation/nccl_tests_log.h"

// End to end on the FORMAT SAMPLES in tests/data/nccl-tests: they were written by
// make_samples.py from t = latency + size / peak_algbw (+-1% ripple, times rounded as nccl-tests
// prints them), so importing and fitting them must give that formula back. This checks the
// plumbing, not any machine.

namespace moesim::validation {
namespace {

const std::string kDir = MOESIM_TEST_DATA_DIR "/nccl-tests/";

TEST(CalibrationPoints, AnImportedSendRecvTableFitsTheFormulaThatWroteIt) {
  const auto log = import_nccl_tests_log_file(kDir + "five_tests_4gpu.log");
  // make_samples.py: sendrecv latency 9 us, peak algbw 140 GB/s. With C = 140 GB/s the fit
  // should find o = 9 us, eta = 1.
  const auto pts = transport_points(log.measurements, {.op = CollectiveOp::SendRecv, .ranks = 4, .nodes = 1,
                                                       .include_in_place = false}, 140e9);
  ASSERT_EQ(pts.size(), 9u);  // 8 B .. 128 MiB, factor 8, out-of-place only
  const auto fit = fit_transport(pts);
  ASSERT_EQ(fit.protocols.size(), 1u);
  EXPECT_NEAR(fit.protocols[0].overhead_s, 9e-6, 0.03 * 9e-6);
  EXPECT_NEAR(fit.protocols[0].efficiency, 1.0, 0.02);
  EXPECT_LT(fit.envelope_error.worst_rel_error, 0.02);  // the ripple is 1%
}

TEST(CalibrationPoints, AnImportedAlltoallTableGivesOneRoundCount) {
  const auto log = import_nccl_tests_log_file(kDir + "alltoall_16gpu_2node_mpirun.log");
  const auto pts = alltoall_points(log.measurements, 2, 76e9);
  ASSERT_EQ(pts.size(), 19u);
  EXPECT_EQ(pts[0].rounds, 15);
  // make_samples.py: latency 45 us over 15 rounds = 3 us per round, peak algbw 76 GB/s.
  const auto fit = fit_alltoall(pts);
  EXPECT_EQ(fit.base_overhead_s, 0.0);
  EXPECT_NEAR(fit.round_overhead_s, 3e-6, 0.03 * 3e-6);
  EXPECT_NEAR(fit.efficiency, 1.0, 0.02);
  EXPECT_TRUE(alltoall_points(log.measurements, 1, 76e9).empty());  // no 1-node rows
}

TEST(CalibrationPoints, FiltersDropOtherOpsRanksInPlaceAndEmptyRows) {
  MeasurementSet s;
  auto row = [](CollectiveOp op, int ranks, std::int64_t bytes, bool in_place) {
    CollectiveMeasurement m;
    m.op = op;
    m.ranks = ranks;
    m.nodes = 1;
    m.bytes = bytes;
    m.in_place = in_place;
    m.time_us = 10;
    return m;
  };
  s.collectives = {row(CollectiveOp::SendRecv, 2, 1024, false), row(CollectiveOp::SendRecv, 2, 1024, true),
                   row(CollectiveOp::SendRecv, 2, 0, false), row(CollectiveOp::SendRecv, 4, 1024, false),
                   row(CollectiveOp::AllReduce, 2, 1024, false)};
  EXPECT_EQ(transport_points(s, {.op = CollectiveOp::SendRecv, .ranks = 2, .nodes = {}, .include_in_place = false}, 1e9)
                .size(),
            1u);
  EXPECT_EQ(transport_points(s, {.op = CollectiveOp::SendRecv, .ranks = {}, .nodes = 1, .include_in_place = true}, 1e9)
                .size(),
            3u);
  const auto p = transport_points(s, {.op = CollectiveOp::AllReduce, .ranks = {}, .nodes = {}, .include_in_place = false}, 5e9);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_DOUBLE_EQ(p[0].time_s, 10e-6);
  EXPECT_DOUBLE_EQ(p[0].bottleneck_capacity_Bps, 5e9);
}

TEST(CalibrationPoints, GemmAndKernelPointsComeFromTheirMeasurements) {
  const auto s = read_measurements_file(MOESIM_TEST_DATA_DIR "/measurements/schema_sample.json");
  const auto g = gemm_points(s);
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].dtype, "bf16");
  EXPECT_DOUBLE_EQ(g[0].time_s, 40e-6);
  const auto k = kernel_points(s, "hbm_copy");
  ASSERT_EQ(k.size(), 1u);
  EXPECT_DOUBLE_EQ(k[0].bytes, 2147483648.0);
  EXPECT_TRUE(kernel_points(s, "permute").empty());
}

}  // namespace
}  // namespace moesim::validation
