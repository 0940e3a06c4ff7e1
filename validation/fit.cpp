#include "validation/fit.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <tuple>

#include <Eigen/Dense>

#include "sim/error.h"

namespace moesim::validation {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

void require_positive(double v, const char* what, std::size_t index, const char* fit) {
  if (!std::isfinite(v) || !(v > 0))
    throw InputError(fmt::format("{}: point {} has {} = {}: must be a finite number > 0", fit, index, what, v));
}

/// Minimises sum_i ((X_i . beta - y_i) / y_i)^2 subject to beta_j >= 0 for the columns in
/// `nonneg` (overheads): a column whose unconstrained coefficient is negative is fixed at 0 and
/// the rest refitted (one at a time, most negative first). Columns are scaled to unit norm before
/// a rank-revealing QR, since they differ by many orders of magnitude.
struct WeightedFit {
  Eigen::VectorXd beta;
  std::vector<int> clamped;  // columns fixed at 0
};

WeightedFit fit_relative(const Eigen::MatrixXd& x, const Eigen::VectorXd& y, const std::vector<int>& nonneg,
                         const char* fit) {
  const auto p = static_cast<int>(x.cols());
  std::vector<int> active(static_cast<std::size_t>(p));
  std::iota(active.begin(), active.end(), 0);
  WeightedFit out;
  for (;;) {
    const auto q = static_cast<Eigen::Index>(active.size());
    Eigen::MatrixXd a(x.rows(), q);
    for (Eigen::Index c = 0; c < q; ++c) a.col(c) = x.col(active[static_cast<std::size_t>(c)]).array() / y.array();
    Eigen::VectorXd scale(q);
    for (Eigen::Index c = 0; c < q; ++c) {
      scale(c) = a.col(c).norm();
      if (!(scale(c) > 0)) throw InputError(fmt::format("{}: the points do not determine the fit (a column is all zero)", fit));
      a.col(c) /= scale(c);
    }
    Eigen::ColPivHouseholderQR<Eigen::MatrixXd> qr(a);
    qr.setThreshold(1e-10);
    if (qr.rank() < q)
      throw InputError(fmt::format("{}: the points do not determine the fit (they need to span more than one size)", fit));
    const Eigen::VectorXd b = Eigen::VectorXd::Ones(x.rows());
    Eigen::VectorXd sol = qr.solve(b);
    out.beta = Eigen::VectorXd::Zero(p);
    for (Eigen::Index c = 0; c < q; ++c) out.beta(active[static_cast<std::size_t>(c)]) = sol(c) / scale(c);
    int worst = -1;
    for (int c : nonneg)
      if (out.beta(c) < 0 && (worst < 0 || out.beta(c) < out.beta(worst))) worst = c;
    if (worst < 0) return out;
    out.clamped.push_back(worst);
    active.erase(std::find(active.begin(), active.end(), worst));
    if (active.empty()) throw InputError(fmt::format("{}: no non-negative fit exists", fit));
  }
}

// ---------------------------------------------------------------------------------------------
// One transport line t = o + (1/eta) * x with x = s / C, weighted by 1/t. Prefix sums make any
// contiguous segment's optimal (o >= 0) squared relative error O(1) for the band search.

struct LineSums {
  // Row i is (a_i, b_i) . (o, slope) ~ 1 with a = 1/t, b = x/t.
  std::vector<double> saa, sab, sbb, sa, sb;
  explicit LineSums(std::span<const double> x, std::span<const double> t) {
    const std::size_t n = x.size();
    saa.assign(n + 1, 0); sab.assign(n + 1, 0); sbb.assign(n + 1, 0); sa.assign(n + 1, 0); sb.assign(n + 1, 0);
    for (std::size_t i = 0; i < n; ++i) {
      const double a = 1 / t[i], b = x[i] / t[i];
      saa[i + 1] = saa[i] + a * a;
      sab[i + 1] = sab[i] + a * b;
      sbb[i + 1] = sbb[i] + b * b;
      sa[i + 1] = sa[i] + a;
      sb[i + 1] = sb[i] + b;
    }
  }
  struct Segment {
    double sse = kInf;  // weighted SSE of the best line (o >= 0, slope > 0); +inf if none
    double overhead = 0;
    double slope = 0;
  };
  /// The best line over points [i, j).
  Segment fit(std::size_t i, std::size_t j) const {
    const double n = static_cast<double>(j - i);
    const double gaa = saa[j] - saa[i], gab = sab[j] - sab[i], gbb = sbb[j] - sbb[i];
    const double ha = sa[j] - sa[i], hb = sb[j] - sb[i];
    const double det = gaa * gbb - gab * gab;
    if (gbb <= 0) return {};
    if (det > 1e-9 * gaa * gbb) {
      const double o = (gbb * ha - gab * hb) / det;
      const double k = (gaa * hb - gab * ha) / det;
      if (o >= 0 && k > 0) return {std::max(0.0, n - (o * ha + k * hb)), o, k};
    }
    // Intercept clamped at 0: slope only.
    const double k = hb / gbb;
    if (!(k > 0)) return {};
    return {std::max(0.0, n - hb * hb / gbb), 0.0, k};
  }
};

struct Band {
  std::size_t begin = 0, end = 0;  // indices into the size-sorted points
  std::string name;
};

ProtocolFit fit_band(std::span<const double> x, std::span<const double> t, std::span<const double> bytes, const Band& b,
                     std::vector<std::string>& warnings) {
  const auto n = static_cast<Eigen::Index>(b.end - b.begin);
  Eigen::MatrixXd xm(n, 2);
  Eigen::VectorXd y(n);
  for (Eigen::Index r = 0; r < n; ++r) {
    const auto i = b.begin + static_cast<std::size_t>(r);
    xm(r, 0) = 1;
    xm(r, 1) = x[i];
    y(r) = t[i];
  }
  const auto label = fmt::format("fit_transport (band {})", b.name);
  auto f = fit_relative(xm, y, {0}, label.c_str());
  const double slope = f.beta(1);
  if (!(slope > 0))
    throw InputError(fmt::format("{}: time does not grow with message size (slope {:.3g}): cannot fit an "
                                 "efficiency", label, slope));
  ProtocolFit p;
  p.name = b.name;
  p.min_bytes = bytes[b.begin];
  p.max_bytes = bytes[b.end - 1];
  p.overhead_s = f.beta(0);
  p.efficiency = 1 / slope;
  if (!f.clamped.empty())
    warnings.push_back(fmt::format("band {}: the least-squares overhead was negative; fixed at 0", b.name));
  if (p.efficiency > 1)
    warnings.push_back(fmt::format("band {}: efficiency {:.3f} > 1: the bottleneck capacity given is lower than "
                                   "the bandwidth achieved", b.name, p.efficiency));
  std::vector<double> model, meas;
  for (auto i = b.begin; i < b.end; ++i) {
    model.push_back(p.overhead_s + x[i] / p.efficiency);
    meas.push_back(t[i]);
  }
  p.error = fit_error(model, meas);
  return p;
}

/// Best split of [0, n) into `k` contiguous bands (boundaries only between distinct sizes),
/// each >= min_pts points, such that the bands form an envelope as NCCL's protocols do: each band's
/// line has a larger overhead and a higher efficiency than the band before it (otherwise the
/// smaller-size line would win at large sizes too, and no protocol switch happens). Returns
/// (SSE, band ends). Dynamic programme over (bands, last band [s, e)): O(k n^3) with O(1)
/// segment fits from prefix sums.
std::pair<double, std::vector<std::size_t>> best_split(const LineSums& sums, std::span<const double> bytes,
                                                       std::size_t k, std::size_t min_pts) {
  const std::size_t n = bytes.size();
  auto boundary_ok = [&](std::size_t e) { return e == 0 || e == n || bytes[e - 1] < bytes[e]; };
  // seg[s][e]: the line over [s, e) (only for valid segments).
  std::vector<std::vector<LineSums::Segment>> seg(n + 1, std::vector<LineSums::Segment>(n + 1));
  for (std::size_t s = 0; s <= n; ++s)
    for (std::size_t e = s + min_pts; e <= n; ++e)
      if (boundary_ok(s) && boundary_ok(e)) seg[s][e] = sums.fit(s, e);
  // best[s][e]: minimal SSE covering [0, e) with the current number of bands, the last one [s, e).
  std::vector<std::vector<double>> best(n + 1, std::vector<double>(n + 1, kInf));
  std::vector<std::vector<std::vector<std::size_t>>> prev(k + 1, std::vector<std::vector<std::size_t>>(
                                                                       n + 1, std::vector<std::size_t>(n + 1, 0)));
  for (std::size_t e = 0; e <= n; ++e) best[0][e] = seg[0][e].sse;
  for (std::size_t j = 2; j <= k; ++j) {
    std::vector<std::vector<double>> next(n + 1, std::vector<double>(n + 1, kInf));
    for (std::size_t s = 1; s < n; ++s)
      for (std::size_t e = s + min_pts; e <= n; ++e) {
        const auto& cur = seg[s][e];
        if (!std::isfinite(cur.sse)) continue;
        for (std::size_t p = 0; p + min_pts <= s; ++p) {
          if (!std::isfinite(best[p][s])) continue;
          const auto& before = seg[p][s];
          if (!(before.overhead < cur.overhead && before.slope > cur.slope)) continue;
          const double v = best[p][s] + cur.sse;
          if (v < next[s][e]) {
            next[s][e] = v;
            prev[j][s][e] = p;
          }
        }
      }
    best = std::move(next);
  }
  double total = kInf;
  std::size_t last_start = 0;
  for (std::size_t s = 0; s < n; ++s)
    if (best[s][n] < total) {
      total = best[s][n];
      last_start = s;
    }
  std::vector<std::size_t> ends;
  if (!std::isfinite(total)) return {kInf, ends};
  std::size_t e = n, s = last_start;
  for (std::size_t j = k; j >= 1; --j) {
    ends.push_back(e);
    const std::size_t p = j >= 2 ? prev[j][s][e] : 0;
    e = s;
    s = p;
  }
  std::reverse(ends.begin(), ends.end());
  return {total, ends};
}

}  // namespace

FitError fit_error(std::span<const double> model, std::span<const double> measured) {
  FitError e;
  e.points = static_cast<int>(measured.size());
  if (measured.empty()) return e;
  std::vector<double> rel(measured.size());
  double mean = 0;
  for (std::size_t i = 0; i < measured.size(); ++i) {
    rel[i] = std::abs(model[i] - measured[i]) / measured[i];
    mean += measured[i];
  }
  mean /= static_cast<double>(measured.size());
  double ss_res = 0, ss_tot = 0;
  for (std::size_t i = 0; i < measured.size(); ++i) {
    ss_res += (model[i] - measured[i]) * (model[i] - measured[i]);
    ss_tot += (measured[i] - mean) * (measured[i] - mean);
  }
  e.worst_rel_error = *std::max_element(rel.begin(), rel.end());
  std::sort(rel.begin(), rel.end());
  const std::size_t h = rel.size() / 2;
  e.median_rel_error = rel.size() % 2 ? rel[h] : 0.5 * (rel[h - 1] + rel[h]);
  e.r_squared = ss_tot > 0 ? 1 - ss_res / ss_tot : (ss_res == 0 ? 1.0 : 0.0);
  return e;
}

// ---------------------------------------------------------------------------------------------

TransportFit fit_transport(std::span<const TransportPoint> points, const TransportFitOptions& options) {
  constexpr const char* kFit = "fit_transport";
  if (options.min_points_per_band < 2)
    throw InputError(fmt::format("{}: min_points_per_band must be >= 2, got {}", kFit, options.min_points_per_band));
  if (!(options.min_sse_reduction > 0 && options.min_sse_reduction < 1))
    throw InputError(fmt::format("{}: min_sse_reduction must be in (0, 1), got {}", kFit, options.min_sse_reduction));
  if (options.bands.empty() && (options.max_protocols < 1 || options.max_protocols > 4))
    throw InputError(fmt::format("{}: max_protocols must be in [1, 4], got {}", kFit, options.max_protocols));
  const auto min_pts = static_cast<std::size_t>(options.min_points_per_band);
  if (points.size() < min_pts)
    throw InputError(fmt::format("{}: {} points are too few: need at least {}", kFit, points.size(), min_pts));
  for (std::size_t i = 0; i < points.size(); ++i) {
    require_positive(points[i].bytes, "bytes", i, kFit);
    require_positive(points[i].time_s, "time_s", i, kFit);
    require_positive(points[i].bottleneck_capacity_Bps, "bottleneck_capacity_Bps", i, kFit);
  }
  std::vector<TransportPoint> sorted(points.begin(), points.end());
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.bytes < b.bytes; });
  std::vector<double> x, t, bytes;
  for (const auto& p : sorted) {
    x.push_back(p.bytes / p.bottleneck_capacity_Bps);
    t.push_back(p.time_s);
    bytes.push_back(p.bytes);
  }
  const std::size_t n = sorted.size();

  std::vector<Band> bands;
  if (!options.bands.empty()) {
    std::vector<ProtocolBand> given = options.bands;
    std::sort(given.begin(), given.end(), [](const auto& a, const auto& b) { return a.min_bytes < b.min_bytes; });
    for (std::size_t b = 0; b < given.size(); ++b) {
      if (!(given[b].max_bytes > given[b].min_bytes))
        throw InputError(fmt::format("{}: band {} has an empty size range [{}, {})", kFit, given[b].name,
                                     given[b].min_bytes, given[b].max_bytes));
      if (b > 0 && given[b].min_bytes < given[b - 1].max_bytes)
        throw InputError(fmt::format("{}: bands {} and {} overlap", kFit, given[b - 1].name, given[b].name));
    }
    std::size_t i = 0;
    for (const auto& g : given) {
      if (i < n && bytes[i] < g.min_bytes)
        throw InputError(fmt::format("{}: a point of {} bytes lies in no band", kFit, bytes[i]));
      Band band{i, i, g.name};
      while (i < n && bytes[i] < g.max_bytes) ++i;
      band.end = i;
      if (band.end - band.begin < min_pts)
        throw InputError(fmt::format("{}: band {} [{}, {}) has {} points: need at least {}", kFit, g.name, g.min_bytes,
                                     g.max_bytes, band.end - band.begin, min_pts));
      bands.push_back(band);
    }
    if (i < n) throw InputError(fmt::format("{}: a point of {} bytes lies in no band", kFit, bytes[i]));
  } else {
    const LineSums sums(x, t);
    const double sse_floor = 1e-8 * static_cast<double>(n);  // relative RMS 1e-4: below measurement resolution
    // Each band beyond the accepted count must remove min_sse_reduction of what is left: k bands
    // replace j < k bands if SSE_k <= (1 - r)^(k - j) SSE_j.
    double accepted_sse = kInf;
    std::vector<std::size_t> best_cuts;
    for (std::size_t k = 1; k <= static_cast<std::size_t>(options.max_protocols) && k * min_pts <= n; ++k) {
      auto [sse, cuts] = best_split(sums, bytes, k, min_pts);
      if (!std::isfinite(sse)) continue;
      const double extra = static_cast<double>(k - best_cuts.size());
      if (best_cuts.empty() ||
          std::max(sse, sse_floor) <= std::pow(1 - options.min_sse_reduction, extra) * accepted_sse) {
        accepted_sse = std::max(sse, sse_floor);
        best_cuts = cuts;
      }
    }
    if (best_cuts.empty())
      throw InputError(fmt::format("{}: no band split fits the points (do they span more than one size, and does "
                                   "time grow with size?)", kFit));
    const auto k = best_cuts.size();
    std::size_t begin = 0;
    for (std::size_t b = 0; b < k; ++b) {
      const auto name_index = options.names.size() >= k ? options.names.size() - k + b : b;
      const auto name = name_index < options.names.size() ? options.names[name_index] : fmt::format("band{}", b);
      bands.push_back(Band{begin, best_cuts[b], name});
      begin = best_cuts[b];
    }
  }

  TransportFit fit;
  for (const auto& b : bands) fit.protocols.push_back(fit_band(x, t, bytes, b, fit.warnings));
  std::vector<double> band_model, env_model;
  for (std::size_t bi = 0; bi < bands.size(); ++bi)
    for (auto i = bands[bi].begin; i < bands[bi].end; ++i)
      band_model.push_back(fit.protocols[bi].overhead_s + x[i] / fit.protocols[bi].efficiency);
  for (const auto& p : sorted) env_model.push_back(envelope_time_s(fit, p.bytes, p.bottleneck_capacity_Bps));
  fit.band_error = fit_error(band_model, t);
  fit.envelope_error = fit_error(env_model, t);
  return fit;
}

double envelope_time_s(const TransportFit& fit, double bytes, double capacity_Bps) {
  MOESIM_CHECK(!fit.protocols.empty(), "a transport fit has no protocols");
  double best = kInf;
  for (const auto& p : fit.protocols) best = std::min(best, p.overhead_s + bytes / (p.efficiency * capacity_Bps));
  return best;
}

// ---------------------------------------------------------------------------------------------

AllToAllFit fit_alltoall(std::span<const AllToAllPoint> points) {
  constexpr const char* kFit = "fit_alltoall";
  if (points.size() < 3)
    throw InputError(fmt::format("{}: {} points are too few: need at least 3", kFit, points.size()));
  for (std::size_t i = 0; i < points.size(); ++i) {
    require_positive(points[i].bytes, "bytes", i, kFit);
    require_positive(points[i].time_s, "time_s", i, kFit);
    require_positive(points[i].bottleneck_capacity_Bps, "bottleneck_capacity_Bps", i, kFit);
    if (!std::isfinite(points[i].rounds) || points[i].rounds < 1)
      throw InputError(fmt::format("{}: point {} has rounds = {}: must be >= 1", kFit, i, points[i].rounds));
  }
  bool several_rounds = false;
  for (const auto& p : points) several_rounds |= p.rounds != points.front().rounds;
  const auto n = static_cast<Eigen::Index>(points.size());
  const int cols = several_rounds ? 3 : 2;
  Eigen::MatrixXd xm(n, cols);
  Eigen::VectorXd y(n);
  for (Eigen::Index r = 0; r < n; ++r) {
    const auto& p = points[static_cast<std::size_t>(r)];
    int c = 0;
    if (several_rounds) xm(r, c++) = 1;
    xm(r, c++) = p.rounds;
    xm(r, c) = p.bytes / p.bottleneck_capacity_Bps;
    y(r) = p.time_s;
  }
  std::vector<int> nonneg = several_rounds ? std::vector<int>{0, 1} : std::vector<int>{0};
  auto f = fit_relative(xm, y, nonneg, kFit);
  AllToAllFit out;
  const double slope = f.beta(cols - 1);
  if (!(slope > 0))
    throw InputError(fmt::format("{}: time does not grow with bytes (slope {:.3g}): cannot fit an efficiency", kFit, slope));
  out.base_overhead_s = several_rounds ? f.beta(0) : 0.0;
  out.round_overhead_s = f.beta(several_rounds ? 1 : 0);
  out.efficiency = 1 / slope;
  if (!f.clamped.empty()) out.warnings.push_back("a least-squares overhead was negative; fixed at 0");
  if (!several_rounds)
    out.warnings.push_back("all points have the same round count: base overhead not identifiable, fixed at 0");
  if (out.efficiency > 1) out.warnings.push_back(fmt::format("efficiency {:.3f} > 1", out.efficiency));
  std::vector<double> model, meas;
  for (const auto& p : points) {
    model.push_back(out.base_overhead_s + out.round_overhead_s * p.rounds +
                    p.bytes / (out.efficiency * p.bottleneck_capacity_Bps));
    meas.push_back(p.time_s);
  }
  out.error = fit_error(model, meas);
  return out;
}

// ---------------------------------------------------------------------------------------------

std::vector<GemmEfficiencyFit> fit_gemm_efficiency(std::span<const GemmPoint> points,
                                                   const std::map<std::string, double>& peak_flops,
                                                   const GemmFitOptions& options) {
  constexpr const char* kFit = "fit_gemm_efficiency";
  if (options.min_points < 2)
    throw InputError(fmt::format("{}: min_points must be >= 2, got {}", kFit, options.min_points));
  if (points.empty()) throw InputError(fmt::format("{}: no points", kFit));
  using Key = std::tuple<std::string, double, double>;
  std::map<Key, std::vector<GemmPoint>> groups;
  for (std::size_t i = 0; i < points.size(); ++i) {
    const auto& p = points[i];
    if (!std::isfinite(p.m) || p.m < 1 || !std::isfinite(p.n) || p.n < 1 || !std::isfinite(p.k) || p.k < 1)
      throw InputError(fmt::format("{}: point {} has m, n, k = {}, {}, {}: each must be >= 1", kFit, i, p.m, p.n, p.k));
    require_positive(p.time_s, "time_s", i, kFit);
    auto peak = peak_flops.find(p.dtype);
    if (peak == peak_flops.end())
      throw InputError(fmt::format("{}: no peak FLOP/s given for dtype \"{}\" (point {})", kFit, p.dtype, i));
    if (!std::isfinite(peak->second) || !(peak->second > 0))
      throw InputError(fmt::format("{}: peak FLOP/s for \"{}\" must be > 0", kFit, p.dtype));
    const Key key = options.per_shape ? Key{p.dtype, p.n, p.k} : Key{p.dtype, 0.0, 0.0};
    groups[key].push_back(p);
  }
  std::vector<GemmEfficiencyFit> out;
  for (const auto& [key, pts] : groups) {
    const auto& [dtype, gn, gk] = key;
    const auto label = options.per_shape ? fmt::format("{} (dtype {}, n {}, k {})", kFit, dtype, gn, gk)
                                         : fmt::format("{} (dtype {})", kFit, dtype);
    if (pts.size() < static_cast<std::size_t>(options.min_points))
      throw InputError(fmt::format("{}: {} points are too few: need at least {}", label, pts.size(), options.min_points));
    GemmEfficiencyFit f;
    f.dtype = dtype;
    f.n = gn;
    f.k = gk;
    f.peak_flops = peak_flops.at(dtype);
    const auto n = static_cast<Eigen::Index>(pts.size());
    Eigen::MatrixXd xm(n, 2);
    Eigen::VectorXd y(n);
    for (Eigen::Index r = 0; r < n; ++r) {
      const auto& p = pts[static_cast<std::size_t>(r)];
      const double eff = 2 * p.m * p.n * p.k / (p.time_s * f.peak_flops);
      xm(r, 0) = 1;
      xm(r, 1) = 1 / p.m;
      y(r) = 1 / eff;
    }
    auto w = fit_relative(xm, y, {1}, label.c_str());
    const double a = w.beta(0), b = w.beta(1);
    if (!(a > 0))
      throw InputError(fmt::format("{}: efficiency does not saturate (1/eff_max = {:.3g}): check peak FLOP/s and "
                                   "times", label, a));
    f.eff_max = 1 / a;
    f.m_half = b / a;
    if (!w.clamped.empty())
      f.warnings.push_back("efficiency falls with M in these points: m_half fixed at 0 (flat efficiency)");
    if (f.eff_max > 1)
      f.warnings.push_back(fmt::format("eff_max {:.3f} > 1: the peak FLOP/s given is lower than achieved", f.eff_max));
    std::vector<double> model, meas;
    for (const auto& p : pts) {
      model.push_back(gemm_time_s(f, p.m, p.n, p.k));
      meas.push_back(p.time_s);
    }
    f.error = fit_error(model, meas);
    out.push_back(std::move(f));
  }
  return out;
}

double gemm_time_s(const GemmEfficiencyFit& fit, double m, double n, double k) {
  const double eff = fit.eff_max * m / (m + fit.m_half);
  return 2 * m * n * k / (eff * fit.peak_flops);
}

// ---------------------------------------------------------------------------------------------

KernelBandwidthFit fit_kernel_bandwidth(std::span<const KernelPoint> points) {
  constexpr const char* kFit = "fit_kernel_bandwidth";
  if (points.size() < 3)
    throw InputError(fmt::format("{}: {} points are too few: need at least 3", kFit, points.size()));
  const auto n = static_cast<Eigen::Index>(points.size());
  Eigen::MatrixXd xm(n, 2);
  Eigen::VectorXd y(n);
  for (Eigen::Index r = 0; r < n; ++r) {
    const auto& p = points[static_cast<std::size_t>(r)];
    require_positive(p.bytes, "bytes", static_cast<std::size_t>(r), kFit);
    require_positive(p.time_s, "time_s", static_cast<std::size_t>(r), kFit);
    xm(r, 0) = 1;
    xm(r, 1) = p.bytes;
    y(r) = p.time_s;
  }
  auto w = fit_relative(xm, y, {0}, kFit);
  const double slope = w.beta(1);
  if (!(slope > 0))
    throw InputError(fmt::format("{}: time does not grow with bytes (slope {:.3g}): cannot fit a bandwidth", kFit, slope));
  KernelBandwidthFit f;
  f.overhead_s = w.beta(0);
  f.bytes_per_s = 1 / slope;
  if (!w.clamped.empty()) f.warnings.push_back("the least-squares overhead was negative; fixed at 0");
  std::vector<double> model, meas;
  for (const auto& p : points) {
    model.push_back(f.overhead_s + p.bytes / f.bytes_per_s);
    meas.push_back(p.time_s);
  }
  f.error = fit_error(model, meas);
  return f;
}

}  // namespace moesim::validation
