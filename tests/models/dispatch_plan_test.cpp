#include "models/dispatch_plan.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace moesim
