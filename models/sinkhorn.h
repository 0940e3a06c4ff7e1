#pragma once
// Entropy-regularised balanced transport by Sinkhorn-Knopp scaling (pure maths; used by
// ta-moe to derive its target dispatch pattern, tested alone in tests/models).
//
// Solves  min_T  sum_ij T_ij c'_ij - epsilon * H(T)
//         s.t.   sum_j T_ij = row_sums[i],  sum_i T_ij = col_sums[j]
// with c' = (c - min c) / (max c - min c) (costs normalised to [0, 1], so epsilon is relative
// to the cost range; all-equal costs give the product solution). The answer is
// T_ij = u_i * K_ij * v_j with K = exp(-c' / epsilon); u, v are found by alternately
// rescaling rows and columns until every column sum is within `tolerance` (relative) of its
// target.
//
// Worked example: 2 ranks, cost [[0, 1], [1, 0]], rows = cols = [1, 1], epsilon = 1:
// K = [[1, e^-1], [e^-1, 1]]; by symmetry u = v, and T = [[a, b], [b, a]] with a + b = 1 and
// a / b = e, so a = e / (1 + e) = 0.7311, b = 0.2689.
//
// Cost: O(n^2) per iteration, O(n^2) memory; converges in a few iterations for the
// block-structured costs of uniform clusters.
#include <span>
#include <vector>

namespace moesim {

struct TransportResult {
  std::vector<double> plan;  // n x n, row-major
  int iterations = 0;
  double max_column_error = 0;  // relative, after the last row scaling
  bool converged = false;
};

/// Requires n >= 1, costs of size n*n (finite, >= 0), positive sums with equal totals,
/// epsilon > 0. Throws InputError on bad arguments.
TransportResult balanced_transport(std::span<const double> cost, int n, std::span<const double> row_sums,
                                   std::span<const double> col_sums, double epsilon, double tolerance = 1e-12,
                                   int max_iterations = 100000);

}  // namespace moesim
