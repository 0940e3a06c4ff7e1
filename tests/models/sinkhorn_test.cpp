#include "models/sinkhorn.h"

#include <gtest/gtest.h>

#include <cmath>

#include "sim/error.h"

namespace moesim {
namespace {

// The header's worked example: a = e / (1 + e) = 0.731059, b = 1 / (1 + e) = 0.268941.
TEST(BalancedTransport, SolvesTheWorkedTwoByTwoExample) {
  const std::vector<double> cost = {0, 1, 1, 0}, ones = {1, 1};
  const auto t = balanced_transport(cost, 2, ones, ones, 1.0);
  ASSERT_TRUE(t.converged);
  const double e = std::exp(1.0);
  EXPECT_NEAR(t.plan[0], e / (1 + e), 1e-12);
  EXPECT_NEAR(t.plan[1], 1 / (1 + e), 1e-12);
  EXPECT_NEAR(t.plan[2], 1 / (1 + e), 1e-12);
  EXPECT_NEAR(t.plan[3], e / (1 + e), 1e-12);
}

TEST(BalancedTransport, EqualCostsGiveTheProductOfTheMarginals) {
  const std::vector<double> cost(9, 3.0), rows = {1, 2, 3}, cols = {2, 2, 2};
  const auto t = balanced_transport(cost, 3, rows, cols, 0.1);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) EXPECT_NEAR(t.plan[i * 3 + j], rows[i] * cols[j] / 6.0, 1e-12);
}

// An asymmetric 4-rank cost with unequal row sums: rows and columns must match their targets
// (columns within the 1e-10 tolerance, rows exactly after the last row scaling), and mass
// prefers cheap pairs.
TEST(BalancedTransport, MeetsBothMarginalsOnAnAsymmetricProblem) {
  const std::vector<double> cost = {0, 1, 4, 9, 1, 0, 1, 4, 4, 1, 0, 1, 9, 4, 1, 3};
  const std::vector<double> rows = {4, 1, 2, 3}, cols = {2.5, 2.5, 2.5, 2.5};
  const auto t = balanced_transport(cost, 4, rows, cols, 0.05, 1e-10);
  ASSERT_TRUE(t.converged);
  for (int j = 0; j < 4; ++j) {
    double c = 0;
    for (int i = 0; i < 4; ++i) c += t.plan[i * 4 + j];
    EXPECT_NEAR(c, 2.5, 2.5e-9);
  }
  for (int i = 0; i < 4; ++i) {
    double r = 0;
    for (int j = 0; j < 4; ++j) r += t.plan[i * 4 + j];
    EXPECT_NEAR(r, rows[i], 1e-9);
  }
  EXPECT_GT(t.plan[0], t.plan[3]);  // rank 0 prefers itself (cost 0) to rank 3 (cost 9)
}

TEST(BalancedTransport, RejectsInconsistentArguments) {
  const std::vector<double> cost = {0, 1, 1, 0}, ones = {1, 1}, twos = {2, 2};
  EXPECT_THROW(balanced_transport(cost, 2, ones, twos, 1.0), InputError);
  EXPECT_THROW(balanced_transport(cost, 2, ones, ones, 0.0), InputError);
  EXPECT_THROW(balanced_transport(cost, 3, ones, ones, 1.0), InputError);
}

}  // namespace
}  // namespace moesim
