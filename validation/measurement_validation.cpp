#include "validation/measurement_validation.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "sim/error.h"
#include "validation/calibrate.h"

namespace moesim::validation {


MeasurementValidation validate_measurements(const MeasurementInputs& in, MeasuredCluster& cluster,
                                            const CostFactors& costs, const ComputeEfficiency& compute) {
  MeasurementValidation v;
  RowTally skips;
  auto add_point = [&](ValidationPoint p) {
    p.error = (p.predicted_us - p.measured_us) / p.measured_us;
    v.points.push_back(std::move(p));
  };

  // Collectives.
  std::map<std::pair<int, int>, PlacementResult> placements;  // (ranks, nodes)
  for (std::size_t i = 0; i < in.merged.collectives.size(); ++i) {
    const auto& row = in.merged.collectives[i];
    const std::string& file = in.files[static_cast<std::size_t>(in.collective_file[i])].path;
    const std::string op(to_string(row.op));
    if (row.in_place) {
      skips.add(file, fmt::format("in-place {}", op), "not compared (the out-of-place rows are)");
      continue;
    }
    if (row.bytes <= 0 || !(row.time_us > 0)) {
      skips.add(file, op, "0 bytes or 0 time: nothing to compare");
      continue;
    }
    if (row.op == CollectiveOp::Broadcast || row.op == CollectiveOp::Reduce) {
      skips.add(file, op, "moesim has no model of this collective");
      continue;
    }
    const int nodes = cluster.nodes_for(row.ranks, row.nodes);
    auto it = placements.find({row.ranks, nodes});
    if (it == placements.end())
      it = placements.emplace(std::make_pair(row.ranks, nodes), cluster.place(row.ranks, nodes)).first;
    if (!it->second.placement) {
      skips.add(file, fmt::format("{} ({} ranks on {} nodes)", op, row.ranks, nodes),
                fmt::format("cannot be placed on the cluster: {}", it->second.why_not));
      continue;
    }
    const auto t = simulate_measured_collective(*it->second.placement, costs, row.op, static_cast<double>(row.bytes));
    MOESIM_CHECK(t.has_value(), "no model for {}", op);
    add_point({.kind = "collective",
               .what = op,
               .file = file,
               .bytes = static_cast<double>(row.bytes),
               .ranks = row.ranks,
               .nodes = nodes,
               .measured_us = row.time_us,
               .predicted_us = t->us()});
  }

  // GEMMs and kernels: the compute model of the cluster's GPU kind.
  std::optional<ComputeCostModel> model;
  std::string no_model;
  if (const auto kind = single_gpu_kind(cluster.base())) {
    const GpuKindSpec* gpu = cluster.catalog().find_gpu(*kind);
    MOESIM_CHECK(gpu != nullptr, "GPU kind {} of cluster {} is not in the catalog", *kind, cluster.name());
    model.emplace(compute_spec_of(*gpu), compute);
  } else {
    no_model = fmt::format("cluster {} mixes GPU kinds: which one ran them is ambiguous", cluster.name());
  }
  for (std::size_t i = 0; i < in.merged.gemms.size(); ++i) {
    const auto& g = in.merged.gemms[i];
    const std::string& file = in.files[static_cast<std::size_t>(in.gemm_file[i])].path;
    const std::string what = fmt::format("{} GEMM", g.dtype);
    if (!model) {
      skips.add(file, what, no_model);
      continue;
    }
    const auto dt = model_dtype_of(g.dtype);
    if (!dt) {
      skips.add(file, what, "the compute model has no curve for this dtype");
      continue;
    }
    if (!(model->gpu().peak_flops_per_s[static_cast<std::size_t>(*dt)] > 0)) {
      skips.add(file, what,
                fmt::format("GPU kind {} has no {} peak in the catalog", model->gpu().kind, to_string(*dt)));
      continue;
    }
    const double s =
        model->gemm_seconds(static_cast<double>(g.m), static_cast<double>(g.n), static_cast<double>(g.k), *dt);
    add_point({.kind = "gemm",
               .what = fmt::format("{} x {} x {} {}", g.m, g.n, g.k, g.dtype),
               .file = file,
               .measured_us = g.time_us,
               .predicted_us = s * 1e6});
  }
  for (std::size_t i = 0; i < in.merged.kernels.size(); ++i) {
    const auto& k = in.merged.kernels[i];
    const std::string& file = in.files[static_cast<std::size_t>(in.kernel_file[i])].path;
    const bool modelled =
        k.name == "gate_softmax_topk" || k.name == "permute" || k.name == "unpermute" || k.name == "hbm_copy";
    if (!modelled) {
      skips.add(file, fmt::format("{} kernel", k.name), "moesim has no model of host-device copies");
      continue;
    }
    if (!model) {
      skips.add(file, fmt::format("{} kernel", k.name), no_model);
      continue;
    }
    if (k.bytes <= 0) {
      skips.add(file, fmt::format("{} kernel", k.name), "0 bytes");
      continue;
    }
    add_point({.kind = "kernel",
               .what = k.name,
               .file = file,
               .bytes = static_cast<double>(k.bytes),
               .measured_us = k.time_us,
               .predicted_us = model->memory_seconds(static_cast<double>(k.bytes)) * 1e6});
  }

  v.skipped = skips.lines();
  if (v.points.empty())
    throw InputError(fmt::format("no measured point of {} could be compared on cluster {}{}{}",
                                 fmt::join(in.paths(), ", "), cluster.name(), v.skipped.empty() ? "" : ": ",
                                 fmt::join(v.skipped, "; ")));
  std::vector<double> abs_err;
  for (std::size_t i = 0; i < v.points.size(); ++i) {
    abs_err.push_back(std::abs(v.points[i].error));
    if (abs_err.back() > v.worst_abs_error || i == 0) {
      v.worst_abs_error = abs_err.back();
      v.worst_index = i;
    }
  }
  std::sort(abs_err.begin(), abs_err.end());
  const std::size_t h = abs_err.size() / 2;
  v.median_abs_error = abs_err.size() % 2 ? abs_err[h] : 0.5 * (abs_err[h - 1] + abs_err[h]);
  return v;
}

nlohmann::ordered_json to_json(const MeasurementValidation& v) {
  nlohmann::ordered_json pts = nlohmann::ordered_json::array();
  for (const auto& p : v.points) {
    nlohmann::ordered_json j;
    j["kind"] = p.kind;
    if (p.kind == "gemm") {
      j["shape"] = p.what;
    } else {
      j["op"] = p.what;
    }
    if (p.bytes) j["bytes"] = static_cast<std::int64_t>(std::llround(*p.bytes));  // measured sizes are whole bytes
    if (p.kind == "collective") {
      j["ranks"] = p.ranks;
      j["nodes"] = p.nodes;
    }
    j["file"] = p.file;
    j["measured_us"] = p.measured_us;
    j["predicted_us"] = p.predicted_us;
    j["error"] = p.error;
    pts.push_back(j);
  }
  return {{"points", pts},
          {"median_error", v.median_abs_error},
          {"worst_error", v.worst_abs_error},
          {"skipped", v.skipped}};
}

}  // namespace moesim::validation
