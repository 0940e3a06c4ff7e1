#include "models/dispatch_plan.h"

#include <random>

#include <gtest/gtest.h>

#include "models/strategies/routing_util.h"
#include "sim/error.h"

namespace moesim {
namespace {

ByteMatrix sample_matrix() {
  // 3 ranks: [[1, 0, 2], [0, 0, 3], [4, 5, 0]]
  const std::vector<double> d = {1, 0, 2, 0, 0, 3, 4, 5, 0};
  return ByteMatrix::from_dense(3, d);
}

TEST(ByteMatrix, StoresOnlyNonZerosAndAnswersLookups) {
  const auto m = sample_matrix();
  EXPECT_EQ(m.nonzeros(), 5u);
  EXPECT_EQ(m.at(0, 2), 2);
  EXPECT_EQ(m.at(1, 0), 0);
  EXPECT_EQ(m.row_sum(2), 9);
  EXPECT_EQ(m.column_sums(), (std::vector<double>{5, 5, 5}));
  EXPECT_EQ(m.total(), 15);
  EXPECT_EQ(m.total_off_diagonal(), 14);  // minus the diagonal 1
  EXPECT_EQ(m.to_dense(), (std::vector<double>{1, 0, 2, 0, 0, 3, 4, 5, 0}));
}

TEST(ByteMatrix, TransposeSwapsSourcesAndDestinations) {
  const auto t = sample_matrix().transposed();
  EXPECT_EQ(t.to_dense(), (std::vector<double>{1, 0, 4, 0, 0, 5, 2, 3, 0}));
  EXPECT_EQ(t.transposed(), sample_matrix());
  EXPECT_EQ(sample_matrix().scaled(0.5).at(2, 1), 2.5);
}

// 2 nodes x 2 GPUs: rank 0 (node 0) -> rank 2 (node 1) crosses; 0 -> 1 does not.
TEST(ByteMatrix, InterNodeBytesCountOnlyPairsOnDifferentNodes) {
  const std::vector<double> d = {0, 7, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0};
  EXPECT_EQ(inter_node_bytes(ByteMatrix::from_dense(4, d), {.nodes = 2, .gpus_per_node = 2}), 5);
}

std::vector<CommPhase> forward_phases() {
  CommPhase a{.name = "dispatch-inter", .role = PhaseRole::Dispatch, .group = ProcessGroup::InterNodeSameLocal,
              .pattern = CommPattern::AllToAllV, .step = 0, .bytes_per_element = 1, .bytes = sample_matrix()};
  CommPhase b{.name = "dispatch-intra", .role = PhaseRole::Dispatch, .group = ProcessGroup::IntraNode,
              .pattern = CommPattern::AllToAllV, .step = 1, .bytes_per_element = 1, .bytes = sample_matrix().scaled(2)};
  return {a, b};
}

// Combine from fp8 dispatch in bf16: reverse order, transposed, x2 bytes, steps reversed.
TEST(CommPhases, CombineMirrorsDispatchInReverseOrderAndCombineDtype) {
  const auto d = forward_phases();
  const auto c = mirror_dispatch(d, 2);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].name, "combine-intra");
  EXPECT_EQ(c[0].role, PhaseRole::Combine);
  EXPECT_EQ(c[0].step, 0);
  EXPECT_EQ(c[0].group, ProcessGroup::IntraNode);
  EXPECT_EQ(c[0].bytes, d[1].bytes.transposed().scaled(2));
  EXPECT_EQ(c[1].name, "combine-inter");
  EXPECT_EQ(c[1].step, 1);
  EXPECT_EQ(c[1].bytes.at(2, 0), 2 * d[0].bytes.at(0, 2));
}

TEST(CommPhases, BackwardRunsCombineGradientsFirstThenDispatchGradients) {
  auto fwd = forward_phases();
  const auto comb = mirror_dispatch(fwd, 2);
  fwd.insert(fwd.end(), comb.begin(), comb.end());
  const auto bwd = backward_phases(fwd, 2);
  ASSERT_EQ(bwd.size(), 4u);
  EXPECT_EQ(bwd[0].name, "combine-inter-grad");
  EXPECT_EQ(bwd[0].role, PhaseRole::CombineGrad);
  EXPECT_EQ(bwd[0].step, 0);
  // The gradient of a combine phase flows like the dispatch phase it mirrors (bf16 here).
  EXPECT_EQ(bwd[0].bytes, fwd[0].bytes.scaled(2));
  EXPECT_EQ(bwd[1].name, "combine-intra-grad");
  EXPECT_EQ(bwd[2].name, "dispatch-intra-grad");
  EXPECT_EQ(bwd[2].role, PhaseRole::DispatchGrad);
  EXPECT_EQ(bwd[2].bytes, fwd[1].bytes.transposed().scaled(2));
  EXPECT_EQ(bwd[3].name, "dispatch-inter-grad");
  EXPECT_EQ(bwd[3].step, 1);
}

TEST(ByteMatrix, FromRowsTakesRowsInTheirFormAndRejectsMalformedOnes) {
  using E = ByteMatrix::Entry;
  const auto m = ByteMatrix::from_rows(3, {0, 2, 3, 5}, {E{0, 1}, E{2, 2}, E{2, 3}, E{0, 4}, E{1, 5}});
  EXPECT_EQ(m, sample_matrix());
  EXPECT_THROW(ByteMatrix::from_rows(2, {0, 2, 2}, {E{1, 1}, E{0, 2}}), InvariantError);  // out of order
  EXPECT_THROW(ByteMatrix::from_rows(2, {0, 1, 1}, {E{2, 1}}), InvariantError);           // dst out of range
  EXPECT_THROW(ByteMatrix::from_rows(2, {0, 1, 1}, {E{1, 0}}), InvariantError);           // a zero entry
  EXPECT_THROW(ByteMatrix::from_rows(2, {0, 1, 1}, {E{1, -1}}), InvariantError);          // negative bytes
  EXPECT_THROW(ByteMatrix::from_rows(2, {0, 1}, {E{1, 1}}), InvariantError);              // offsets for 1 rank
  EXPECT_THROW(ByteMatrix::from_rows(2, {0, 2, 1}, {E{0, 1}}), InvariantError);           // offsets past the entries
}

TEST(RowCounts, AgreesWithADenseMatrixAndStoresOnlyTheBlocksTouched) {
  // 200 GPUs (not a multiple of the 64-wide blocks): random additions against a dense copy.
  const int P = 200;
  routing::RowCounts rows(P);
  std::vector<double> dense(static_cast<std::size_t>(P) * P, 0.0);
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> gpu(0, P - 1), count(1, 5);
  for (int i = 0; i < 5000; ++i) {
    const int s = gpu(rng), d = gpu(rng), c = count(rng);
    rows.add(s, d, c);
    dense[static_cast<std::size_t>(s) * P + d] += c;
  }
  rows.add(3, 199, 0);  // an addition of 0 leaves no entry
  for (int s = 0; s < P; ++s) {
    int last = -1;
    rows.for_each_in_row(s, [&](int d, double v) {
      EXPECT_GT(d, last);
      last = d;
      EXPECT_EQ(v, dense[static_cast<std::size_t>(s) * P + d]) << s << " -> " << d;
    });
    for (int d = 0; d < P; ++d) EXPECT_EQ(rows.at(s, d), dense[static_cast<std::size_t>(s) * P + d]);
  }
  std::vector<double> bytes = dense;
  for (double& b : bytes) b *= 1536.0;
  EXPECT_EQ(rows.to_bytes(1536.0), ByteMatrix::from_dense(P, bytes));

  // A dispatch inside expert-parallel groups of 128 GPUs on 8,192 GPUs: each source's row
  // touches the two blocks of its group, 128 values, against 8,192 in a dense matrix.
  const int big = 8192, group = 128;
  routing::RowCounts grouped(big);
  for (int s = 0; s < big; ++s) {
    const int base = s / group * group;
    for (int d = base; d < base + group; ++d) grouped.add(s, d, 1);
  }
  EXPECT_EQ(grouped.stored_values(), static_cast<std::size_t>(big) * group);
  EXPECT_EQ(grouped.to_bytes(2.0).nonzeros(), static_cast<std::size_t>(big) * group);
  EXPECT_EQ(grouped.at(0, 127), 1.0);
  EXPECT_EQ(grouped.at(0, 128), 0.0);
}

}  // namespace
}  // namespace moesim
