#pragma once
// `moesim calibrate`: measurements (moesim-bench JSON, nccl-tests logs) + the cluster they were
// taken on -> one calibration JSON that `--calibration FILE` loads (transports for
// sim/cost_factors.h, a "compute" section for models/compute_cost.h), with every fit's error.
// Format, field by field: docs/CALIBRATION.md, "The calibration file".
//
// What is fitted, and onto which model (every fit minimises relative squared error,
// validation/fit.h):
//  - Transports. Each send/recv or all-to-all row is placed on the cluster
//    (validation/measured_cluster.h); an ideal run of its pattern gives the transport its
//    slowest message crossed, the rate C max-min gives that message and the path latency L.
//    The point (message bytes, measured time - L, C) goes to fit_transport, so the fitted
//    protocols (overhead, efficiency per size band) are what the simulator's per-message
//    model t = L + o + s / (eta C) needs. Send/recv rows are used for a transport when there
//    are any (one message per rank); else all-to-all rows (message = size / ranks; when a rank
//    has more peers than the cost factors' alltoall_max_peers_in_flight, its w waves of sends
//    pay w latencies and overheads: t = w (L + o) + s / (eta C), fitted as (t - w L) / w =
//    o + s / (eta w C); an approximation, since the simulator's waves overlap: each transport's
//    rows are also run through the simulator with the written values, and that error is
//    reported next to the fit's). Transports without
//    points keep the defaults. An efficiency above 1 (C lower than achieved) is written as 1,
//    with a warning.
//  - All-to-all rounds (report only: the simulator has no separate per-round term; its
//    per-round cost comes from per-message overheads and the peers in flight):
//    fit_alltoall over the all-to-all rows of each transport, t - w L = o_0 + o_round r +
//    s / (eta C_rank), r = ranks - 1, C_rank = the ideal per-rank rate.
//  - GEMMs, per dtype, onto the simulator's own form (models/compute_cost.h):
//    t = max(F / (eff_max peak), B / (hbm_efficiency HBM)) + overhead, F = 2mnk,
//    B = (mk + kn + mn) bytes(dtype), peak and HBM from the cluster's GPU kind in the catalog.
//    Points are classified compute- or memory-bound under the current eff_max, and
//    (overhead, 1/eff_max) fitted on the compute-bound ones (fit_kernel_bandwidth with x = F /
//    peak), until the classification is stable. The reported error is the simulator's over
//    all points. fit_gemm_efficiency's saturation curve eff_max M / (M + m_half) is reported
//    alongside (it is not what the simulator uses). Measurement dtypes map to the model's:
//    fp32, bf16, fp16 to themselves, fp8_e4m3 (else fp8_e5m2) to fp8; tf32 is reported only.
//  - Memory-bound kernels: fit_kernel_bandwidth per kernel (report), and the model's
//    memory_bound section (hbm_efficiency = bandwidth / catalog HBM, overhead) from the MoE
//    kernels gate_softmax_topk, permute, unpermute together, else from hbm_copy.
//
// Rows that cannot be used are skipped with a warning (never silently): shapes that do not fit
// the cluster, 1-rank rows, times not above the path latency. Other collectives (all-reduce,
// all-gather, ...) are not fitted; `moesim validate` compares them. A fit that fails (too few
// points) is a warning and leaves that part at its default. InputError when nothing at all
// could be fitted, naming the files.
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/compute_cost.h"
#include "models/training_step.h"
#include "sim/link.h"
#include "validation/fit.h"
#include "validation/measured_cluster.h"
#include "validation/measurement_inputs.h"

namespace moesim::validation {

struct InputSummary {
  std::string file;
  std::string kind;  // to_string(MeasurementFileKind)
  std::string tool;
  std::string gpu_name;
  std::string hostname;
  std::string nccl_version;
  int collectives = 0;
  int gemms = 0;
  int kernels = 0;
};

struct TransportCalibration {
  Transport transport = Transport::NVLink;
  std::string from_op;              // "sendrecv" or "alltoall"
  std::vector<std::string> shapes;  // e.g. "sendrecv, 4 ranks on 1 node: C 450 GB/s, latency 0.70 us"
  std::vector<std::string> files;
  TransportFit fit;  // as written (efficiencies <= 1)
  /// The same rows run through the simulator with the values as written (the envelope error
  /// of `fit` is the linear model's; this is what `moesim validate` will report for them).
  FitError simulated_error;
};

struct AllToAllCalibration {
  Transport transport = Transport::NVLink;
  std::vector<std::string> shapes;
  AllToAllFit fit;
};

struct GemmCalibration {
  std::string dtype;        // measurement dtype, e.g. "bf16", "fp8_e4m3"
  std::string model_dtype;  // the compute.gemm entry it sets ("bf16", "fp8"); "" = report only
  double peak_flops = 0;
  double hbm_bytes_per_s = 0;
  double hbm_efficiency = 0;  // used for the memory-bound term
  double efficiency_max = 0;
  double overhead_s = 0;
  int compute_bound_points = 0;
  FitError error;  // the simulator's formula with these values, over every point of the dtype
  std::optional<GemmEfficiencyFit> saturation;  // fit_gemm_efficiency, for reference
  std::vector<std::string> warnings;
};

struct KernelCalibration {
  std::string name;
  KernelBandwidthFit fit;
  double hbm_fraction = 0;  // bandwidth / catalog HBM bandwidth (0 if unknown)
};

struct MemoryBoundCalibration {
  std::vector<std::string> kernels;  // the kernels fitted together
  double hbm_bytes_per_s = 0;
  double hbm_efficiency = 0;
  double overhead_s = 0;
  FitError error;
  std::vector<std::string> warnings;
};

struct Calibration {
  std::string cluster;
  std::string gpu_kind;  // "" when the cluster mixes GPU kinds
  std::vector<InputSummary> inputs;
  HardwareInfo hardware;  // of the first input
  std::vector<TransportCalibration> transports;
  std::vector<std::string> transports_kept;  // transport names left at the defaults
  std::vector<AllToAllCalibration> alltoall;
  std::vector<GemmCalibration> gemms;
  std::vector<KernelCalibration> kernels;
  std::optional<MemoryBoundCalibration> memory_bound;
  std::vector<std::string> not_fitted;  // rows read but used by no fit (e.g. all-reduce), one line per kind
  std::vector<std::string> warnings;    // rows skipped, fits that failed, values clamped

  /// The compute efficiency this calibration describes: the defaults with the fitted entries.
  ComputeEfficiency compute_efficiency() const;
  bool has_compute() const;
};

/// Fits everything the inputs allow (see above). InputError when nothing could be fitted.
Calibration calibrate(const MeasurementInputs& inputs, MeasuredCluster& cluster);

/// The calibration file: "$comment", "sources", "notes", "transports", "compute" (when fitted),
/// "hardware", "fit". Numbers are rounded to 6 significant digits; keys in a fixed order.
nlohmann::ordered_json calibration_json(const Calibration& c);
/// Its "fit" section: every fit with its error (what `moesim calibrate --json` prints).
nlohmann::ordered_json fit_report_json(const Calibration& c);
/// The compute section alone (empty object when nothing was fitted).
nlohmann::ordered_json compute_json(const Calibration& c);
/// Writes calibration_json(c) (2-space indent, trailing newline) and checks that
/// CostFactors::load_file and the compute section read it back; ConfigError if not writable.
void write_calibration_file(const Calibration& c, const std::string& path);

/// The compute efficiency a calibration (or cost-factors) file sets: its "compute" section
/// read over the embedded defaults, or the defaults when it has none. ConfigError naming the
/// file (and "(section /compute)" with the JSON pointer inside it) on a bad file or section.
ComputeEfficiency load_calibration_compute(const std::string& path);

/// The single GPU kind of a topology; nullopt when it mixes kinds.
std::optional<std::string> single_gpu_kind(const Topology& topo);
/// The model dtype a measurement dtype is priced as ("bf16" -> Bf16, "fp8_e4m3" -> Fp8, "tf32"
/// -> nullopt), and the catalog peak key for it ("tf32" -> "tf32").
std::optional<DType> model_dtype_of(std::string_view measurement_dtype);
std::string catalog_peak_key(std::string_view measurement_dtype);

}  // namespace moesim::validation
