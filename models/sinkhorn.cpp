#include "models/sinkhorn.h"

#include <algorithm>
#include <cmath>

#include "sim/error.h"

namespace moesim {

TransportResult balanced_transport(std::span<const double> cost, int n, std::span<const double> row_sums,
                                   std::span<const double> col_sums, double epsilon, double tolerance, int max_iterations) {
  const auto N = static_cast<std::size_t>(n);
  if (n < 1 || cost.size() != N * N || row_sums.size() != N || col_sums.size() != N)
    throw InputError(fmt::format("balanced transport: {} costs, {} row sums and {} column sums for {} ranks", cost.size(),
                                 row_sums.size(), col_sums.size(), n));
  if (!(epsilon > 0)) throw InputError(fmt::format("balanced transport: epsilon {} must be > 0", epsilon));
  double lo = cost[0], hi = cost[0], rows = 0, cols = 0;
  for (double c : cost) {
    if (!std::isfinite(c) || c < 0) throw InputError(fmt::format("balanced transport: cost {} must be finite and >= 0", c));
    lo = std::min(lo, c);
    hi = std::max(hi, c);
  }
  for (double r : row_sums) {
    if (!(r > 0)) throw InputError(fmt::format("balanced transport: row sum {} must be > 0", r));
    rows += r;
  }
  for (double c : col_sums) {
    if (!(c > 0)) throw InputError(fmt::format("balanced transport: column sum {} must be > 0", c));
    cols += c;
  }
  if (std::abs(rows - cols) > 1e-9 * rows)
    throw InputError(fmt::format("balanced transport: row sums total {} but column sums total {}", rows, cols));

  std::vector<double> K(N * N);
  const double range = hi - lo;
  for (std::size_t i = 0; i < N * N; ++i) K[i] = range > 0 ? std::exp(-((cost[i] - lo) / range) / epsilon) : 1.0;
  std::vector<double> u(N, 1.0), v(N, 1.0), kt_u(N, 0.0);
  auto update_kt_u = [&] {  // kt_u = K^T u
    std::fill(kt_u.begin(), kt_u.end(), 0.0);
    for (std::size_t i = 0; i < N; ++i)
      for (std::size_t j = 0; j < N; ++j) kt_u[j] += K[i * N + j] * u[i];
  };
  update_kt_u();
  TransportResult res;
  for (res.iterations = 1; res.iterations <= max_iterations; ++res.iterations) {
    for (std::size_t j = 0; j < N; ++j) v[j] = col_sums[j] / kt_u[j];
    for (std::size_t i = 0; i < N; ++i) {
      double s = 0;
      for (std::size_t j = 0; j < N; ++j) s += K[i * N + j] * v[j];
      u[i] = row_sums[i] / s;
    }
    update_kt_u();
    res.max_column_error = 0;
    for (std::size_t j = 0; j < N; ++j)
      res.max_column_error = std::max(res.max_column_error, std::abs(v[j] * kt_u[j] - col_sums[j]) / col_sums[j]);
    if (res.max_column_error <= tolerance) {
      res.converged = true;
      break;
    }
  }
  res.iterations = std::min(res.iterations, max_iterations);
  res.plan.resize(N * N);
  for (std::size_t i = 0; i < N; ++i)
    for (std::size_t j = 0; j < N; ++j) res.plan[i * N + j] = u[i] * K[i * N + j] * v[j];
  return res;
}

}  // namespace moesim
