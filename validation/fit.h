#pragma once
// Calibration fits: pure maths (weighted linear least squares with Eigen), no simulator types.
// `moesim calibrate` turns measurements (validation/measurements.h) into these points, fits,
// and writes the results as cost factors (sim/cost_factors.h) with the fit errors.
//
// All fits minimise *relative* squared error, sum_i ((model_i - t_i) / t_i)^2, because
// measured times span six orders of magnitude (8 B to 1 GiB messages): each row of the
// linear system is divided by its measured value. Error reports use relative errors
// |model - measured| / measured; R^2 is computed on the raw (unweighted) values.
//
// Transport model (sim/cost_factors.h), per protocol p:
//     t = o_p + s / (eta_p * C)
// with s the message bytes and C the bottleneck capacity of the path (bytes/s). It is linear
// in (1, s/C): intercept o_p, slope 1/eta_p. Worked example: o = 5 us, eta = 0.8, C = 100 GB/s,
// s = 8 MB -> t = 5e-6 + 8e6 / 8e10 = 105 us.
//
// Protocol bands: NCCL switches protocol (LL, LL128, Simple) with message size, so the
// measured curve is an envelope of up to three such lines. Bands are either given (size
// ranges) or chosen: points sorted by size are split into 1..max_protocols contiguous groups
// at the breakpoints that minimise the total weighted squared error, subject to the lines
// forming an envelope (each band's line has a larger overhead and a higher efficiency than the
// band before it, as LL < LL128 < Simple do; otherwise no protocol switch would happen there),
// and a band is added only if it removes at least `min_sse_reduction` of the remaining
// weighted squared error (default 60%). A real protocol switch leaves a systematic error that
// one line cannot follow (on an LL/LL128/Simple-like envelope a second and third band each
// removed > 70%), while a free breakpoint fitted to one-line data removed at most 51% in 200
// synthetic trials (28 sizes, 2% noise); BIC's penalty, tried first, let noise through in 4 of
// 50; this rule added no band in 200 one-line trials and found all three in 200 three-line. Cost:
// O(k n^3) for k bands and n points, O(n^2) memory (n up to a few hundred points in practice).
//
// All-to-all model, given each rank's number of peers-rounds r (NCCL's p2p schedule runs one
// round per peer):
//     t = o_0 + o_round * r + s_total / (eta * C)
// o_0 is fitted only when the points cover at least two distinct r (otherwise it is not
// identifiable apart from o_round, and is 0).
//
// GEMM efficiency, per dtype (optionally per (n, k) shape):
//     eff(M) = flops / (t * peak) = eff_max * M / (M + m_half),   flops = 2 M N K
// fitted in its linear form 1/eff = 1/eff_max + (m_half / eff_max) * (1/M).
//
// Kernel (memory-bound) bandwidth: t = o + bytes / B.
//
// Errors: InputError for too few points, non-positive or non-finite values, points that cannot
// determine the parameters (e.g. all of one size), or a fit with non-physical results
// (a slope <= 0: time that does not grow with size).
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace moesim::validation {

/// How well a fit matches its points.
struct FitError {
  int points = 0;
  double median_rel_error = 0;  // median of |model - measured| / measured
  double worst_rel_error = 0;   // max of the same
  double r_squared = 0;         // 1 - SS_res / SS_tot on raw values (1 if SS_tot == 0 and exact)
};

/// The error of `model` against `measured` (same length, measured > 0).
FitError fit_error(std::span<const double> model, std::span<const double> measured);

// ---------------------------------------------------------------------------------------------
// Transports.

struct TransportPoint {
  double bytes = 0;                    // message size s, > 0
  double time_s = 0;                   // measured time, > 0
  double bottleneck_capacity_Bps = 0;  // C of the path it crossed, > 0
};

/// A protocol's size range [min_bytes, max_bytes) (max_bytes = +inf for the last).
struct ProtocolBand {
  std::string name;
  double min_bytes = 0;
  double max_bytes = 0;
};

struct TransportFitOptions {
  /// Given bands (each must contain >= min_points_per_band points); empty = choose them.
  std::vector<ProtocolBand> bands;
  int max_protocols = 3;          // when choosing: 1..max_protocols bands (at most 4)
  int min_points_per_band = 3;    // >= 2
  double min_sse_reduction = 0.6;  // in (0, 1): what an extra chosen band must remove
  /// Names of chosen bands, smallest sizes first (if fewer bands are chosen, the last names
  /// are used: 1 band -> "Simple"; 2 -> "LL128", "Simple"; 3 -> all).
  std::vector<std::string> names = {"LL", "LL128", "Simple"};
};

struct ProtocolFit {
  std::string name;
  double min_bytes = 0;   // smallest and largest measured size in its band
  double max_bytes = 0;
  double overhead_s = 0;  // o_p >= 0 (a negative least-squares intercept is refitted as 0)
  double efficiency = 0;  // eta_p > 0; > 1 means C was given lower than what was achieved
  FitError error;
};

struct TransportFit {
  std::vector<ProtocolFit> protocols;  // by increasing size band
  /// Error when each point is predicted by its own band's line.
  FitError band_error;
  /// Error when each point takes the fastest protocol (min over lines), as the simulator's
  /// TransportCost::choose does: this is what the simulator will predict.
  FitError envelope_error;
  std::vector<std::string> warnings;   // e.g. efficiency > 1, intercept clamped to 0
};

TransportFit fit_transport(std::span<const TransportPoint> points, const TransportFitOptions& options = {});

/// Time of `bytes` on capacity C under the fitted envelope (min over protocols).
double envelope_time_s(const TransportFit& fit, double bytes, double capacity_Bps);

// ---------------------------------------------------------------------------------------------
// All-to-all.

struct AllToAllPoint {
  double bytes = 0;                    // total bytes one rank sends, > 0
  double rounds = 0;                   // peer rounds (peers), >= 1
  double time_s = 0;                   // > 0
  double bottleneck_capacity_Bps = 0;  // > 0
};

struct AllToAllFit {
  double base_overhead_s = 0;   // o_0 (0 unless >= 2 distinct round counts)
  double round_overhead_s = 0;  // o_round >= 0
  double efficiency = 0;        // eta
  FitError error;
  std::vector<std::string> warnings;
};

AllToAllFit fit_alltoall(std::span<const AllToAllPoint> points);

// ---------------------------------------------------------------------------------------------
// GEMMs.

struct GemmPoint {
  double m = 0;  // tokens (rows of the activations), >= 1
  double n = 0;
  double k = 0;
  std::string dtype;
  double time_s = 0;  // > 0
};

struct GemmFitOptions {
  bool per_shape = false;  // one curve per (dtype, n, k) instead of per dtype
  int min_points = 3;      // >= 2 distinct m per curve
};

struct GemmEfficiencyFit {
  std::string dtype;
  double n = 0;  // 0 when fitted over all shapes of the dtype
  double k = 0;
  double eff_max = 0;  // asymptotic fraction of peak, > 0
  double m_half = 0;   // M at which eff = eff_max / 2, >= 0
  double peak_flops = 0;
  FitError error;      // on times
  std::vector<std::string> warnings;
};

/// `peak_flops` per dtype (FLOP/s, dense); every dtype of the points must be present.
/// Result sorted by (dtype, n, k).
std::vector<GemmEfficiencyFit> fit_gemm_efficiency(std::span<const GemmPoint> points,
                                                   const std::map<std::string, double>& peak_flops,
                                                   const GemmFitOptions& options = {});

/// Time the fitted curve predicts: 2 m n k / (eff(m) * peak).
double gemm_time_s(const GemmEfficiencyFit& fit, double m, double n, double k);

// ---------------------------------------------------------------------------------------------
// Memory-bound kernels.

struct KernelPoint {
  double bytes = 0;   // > 0
  double time_s = 0;  // > 0
};

struct KernelBandwidthFit {
  double overhead_s = 0;   // >= 0
  double bytes_per_s = 0;  // > 0
  FitError error;
  std::vector<std::string> warnings;
};

KernelBandwidthFit fit_kernel_bandwidth(std::span<const KernelPoint> points);

}  // namespace moesim::validation
