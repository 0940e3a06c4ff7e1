#pragma once
// `moesim validate --measurements`: every measured point run through the model, predicted vs
// measured.
//
//  - collectives: placed on the cluster (validation/measured_cluster.h: the row's node count,
//    else the caller's default, else ceil(ranks / GPUs per node)) and simulated with the given
//    cost factors; out-of-place rows with bytes > 0 only (in-place rows repeat them);
//  - GEMMs: ComputeCostModel::gemm_seconds on the cluster's GPU kind (fp32, bf16, fp16, fp8);
//  - kernels: ComputeCostModel::memory_seconds(bytes) for gate_softmax_topk, permute,
//    unpermute and hbm_copy (the simulator's memory-bound model).
// What has no model (broadcast/reduce, tf32 GEMMs, h2d/d2h copies, shapes that do not fit the
// cluster, a cluster that mixes GPU kinds for GEMMs) is listed in `skipped`, never dropped
// silently.
//
// error = (predicted - measured) / measured (signed); median and worst are of |error|.
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/compute_cost.h"
#include "sim/cost_factors.h"
#include "validation/measured_cluster.h"
#include "validation/measurement_inputs.h"

namespace moesim::validation {

struct ValidationPoint {
  std::string kind;  // "collective", "gemm", "kernel"
  std::string what;  // collective op, "M x N x K dtype" for a GEMM, kernel name
  std::string file;
  std::optional<double> bytes;  // collectives (nccl-tests size) and kernels
  int ranks = 0;                // collectives
  int nodes = 0;                // collectives
  double measured_us = 0;
  double predicted_us = 0;
  double error = 0;
};

struct MeasurementValidation {
  std::vector<ValidationPoint> points;  // in input order: collectives, GEMMs, kernels
  double median_abs_error = 0;
  double worst_abs_error = 0;
  std::size_t worst_index = 0;       // into points (when not empty)
  std::vector<std::string> skipped;  // one line per (file, kind of row, reason)
};

/// InputError when no point at all could be compared (naming the files and the reasons).
MeasurementValidation validate_measurements(const MeasurementInputs& inputs, MeasuredCluster& cluster,
                                            const CostFactors& costs, const ComputeEfficiency& compute);

/// {"points": [{"kind", "op" | "shape" (+ "dtype"), "bytes", "ranks", "nodes", "file",
/// "measured_us", "predicted_us", "error"}], "median_error", "worst_error", "skipped"}.
nlohmann::ordered_json to_json(const MeasurementValidation& v);

}  // namespace moesim::validation
