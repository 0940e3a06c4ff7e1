#include "validation/calibrate.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <tuple>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "sim/cost_factors.h"
#include "sim/error.h"
#include "sim/json_reader.h"
#include "validation/calibration_points.h"

namespace moesim::validation {

namespace {

double round_sig(double v, int digits = 6) {
  if (v == 0 || !std::isfinite(v)) return v;
  return std::stod(fmt::format("{:.{}g}", v, digits));
}

std::string pct(double rel) {
  return fmt::format("{:.1f}%", 100 * rel);
}

nlohmann::ordered_json error_json(const FitError& e) {
  return {{"points", e.points},
          {"median_rel_error", round_sig(e.median_rel_error, 4)},
          {"worst_rel_error", round_sig(e.worst_rel_error, 4)},
          {"r_squared", round_sig(e.r_squared, 6)}};
}

std::string error_text(const FitError& e) {
  return fmt::format("{} points, median error {}, worst {}", e.points, pct(e.median_rel_error), pct(e.worst_rel_error));
}

void add_unique(std::vector<std::string>& v, const std::string& s) {
  if (std::find(v.begin(), v.end(), s) == v.end()) v.push_back(s);
}

std::string nodes_text(int n) {
  return fmt::format("{} node{}", n, n == 1 ? "" : "s");
}

// A model token of a GPU name ("H100", "A100", "V100", "A6000", "GH200"): letters then digits.
std::vector<std::string> gpu_model_tokens(const std::string& name) {
  static const std::regex token(R"((^|[^A-Za-z0-9])([A-Z]{1,2}[0-9]{2,4}[A-Z]?)(?=$|[^A-Za-z0-9]))");
  std::vector<std::string> out;
  for (auto it = std::sregex_iterator(name.begin(), name.end(), token); it != std::sregex_iterator(); ++it)
    out.push_back((*it)[2].str());
  return out;
}

nlohmann::ordered_json transports_json(const Calibration& c);

struct MeasuredRow {
  const Placement* placement = nullptr;  // owned by the shape table
  CollectiveOp op = CollectiveOp::SendRecv;
  double bytes = 0;
  double time_s = 0;
};

struct TransportAcc {
  std::vector<TransportPoint> points;
  std::vector<MeasuredRow> rows;  // the same rows, for the simulator's error
  std::vector<std::string> shapes;
  std::vector<std::string> files;
};

struct AllToAllAcc {
  std::vector<AllToAllPoint> points;
  std::vector<std::string> shapes;
};

struct ShapeInfo {
  std::optional<Placement> placement;
  std::optional<PatternPath> path;
  std::string why_not;
  std::string label;  // "sendrecv, 4 ranks on 1 node: nvlink, C 450 GB/s, latency 0.70 us"
};

void fit_transports(const MeasurementInputs& in, MeasuredCluster& cluster, Calibration& c) {
  const CostFactors base = CostFactors::defaults();
  std::map<std::tuple<int, int, int>, ShapeInfo> shapes;
  std::map<Transport, TransportAcc> sendrecv, alltoall;
  std::map<Transport, AllToAllAcc> rounds;
  std::map<std::string, int> in_place, zero, other;
  RowTally skipped;  // warnings: "FILE: 28 alltoall rows (16 ranks on 2 nodes) skipped: why"
  for (std::size_t i = 0; i < in.merged.collectives.size(); ++i) {
    const auto& row = in.merged.collectives[i];
    const std::string& file = in.files[static_cast<std::size_t>(in.collective_file[i])].path;
    const std::string op(to_string(row.op));
    if (row.op != CollectiveOp::SendRecv && row.op != CollectiveOp::AllToAll) {
      ++other[op];
      continue;
    }
    if (row.in_place) {
      ++in_place[op];
      continue;
    }
    if (row.bytes <= 0 || !(row.time_us > 0)) {
      ++zero[op];
      continue;
    }
    const std::string what = fmt::format("{} ({} rank{}{})", op, row.ranks, row.ranks == 1 ? "" : "s",
                                         row.nodes ? fmt::format(" on {}", nodes_text(*row.nodes)) : "");
    if (row.ranks < 2) {
      skipped.add(file, what, "one rank: no message crosses a link");
      continue;
    }
    const int nodes = cluster.nodes_for(row.ranks, row.nodes);
    auto& shape = shapes[{static_cast<int>(row.op), row.ranks, nodes}];
    if (!shape.path && shape.why_not.empty()) {
      auto placed = cluster.place(row.ranks, nodes);
      if (!placed.placement) {
        shape.why_not = placed.why_not;
      } else {
        shape.placement = std::move(placed.placement);
        shape.path = pattern_path(*shape.placement, base, row.op);
        shape.label = fmt::format("{}, {} ranks on {}: {}, C {:.4g} GB/s per message, latency {:.3g} us{}", op,
                                  row.ranks, nodes_text(nodes), to_string(shape.path->transport),
                                  shape.path->capacity_Bps / 1e9, shape.path->latency.us(),
                                  shape.path->waves > 1 ? fmt::format(", {} waves of sends", shape.path->waves) : "");
      }
    }
    if (!shape.path) {
      skipped.add(file, what, fmt::format("cannot be placed on the cluster: {}", shape.why_not));
      continue;
    }
    const PatternPath& p = *shape.path;
    // Each wave of sends pays the path latency and the overhead once (t = w (L + o) + s / (eta C)).
    const double waves = p.waves;
    const double t = row.time_us * 1e-6 - waves * p.latency.seconds();
    if (!(t > 0)) {
      skipped.add(file, what,
                  fmt::format("measured time not above the path latency {:.3g} us{}", p.latency.us(),
                              p.waves > 1 ? fmt::format(" x {} waves", p.waves) : ""));
      continue;
    }
    auto& acc = row.op == CollectiveOp::SendRecv ? sendrecv[p.transport] : alltoall[p.transport];
    acc.points.push_back({.bytes = static_cast<double>(row.bytes) * p.message_fraction,
                          .time_s = t / waves,
                          .bottleneck_capacity_Bps = p.capacity_Bps * waves});
    acc.rows.push_back({.placement = &*shape.placement,
                        .op = row.op,
                        .bytes = static_cast<double>(row.bytes),
                        .time_s = row.time_us * 1e-6});
    add_unique(acc.shapes, shape.label);
    add_unique(acc.files, file);
    if (row.op == CollectiveOp::AllToAll) {
      auto& r = rounds[p.transport];
      r.points.push_back({.bytes = static_cast<double>(row.bytes),
                          .rounds = static_cast<double>(row.ranks - 1),
                          .time_s = t,
                          .bottleneck_capacity_Bps = p.capacity_Bps / p.message_fraction});
      add_unique(r.shapes, shape.label);
    }
  }
  for (auto& line : skipped.lines(" skipped")) c.warnings.push_back(std::move(line));
  for (const auto& [op, n] : other)
    c.not_fitted.push_back(
        fmt::format("{} {} rows: not fitted (the transports are fitted from send/recv and all-to-all "
                    "rows); `moesim validate` compares them with the simulator",
                    n, op));
  for (const auto& [op, n] : in_place)
    c.not_fitted.push_back(fmt::format("{} in-place {} rows: not fitted (the out-of-place rows are)", n, op));
  for (const auto& [op, n] : zero)
    c.not_fitted.push_back(fmt::format("{} {} rows of 0 bytes or 0 time: not fitted", n, op));

  std::vector<const TransportAcc*> fitted_rows;  // parallel to c.transports
  for (Transport tr : kAllTransports) {
    std::vector<std::pair<std::string, const TransportAcc*>> tries;
    if (auto it = sendrecv.find(tr); it != sendrecv.end()) tries.emplace_back("sendrecv", &it->second);
    if (auto it = alltoall.find(tr); it != alltoall.end()) tries.emplace_back("alltoall", &it->second);
    for (const auto& [op, acc] : tries) {
      TransportCalibration tc;
      tc.transport = tr;
      tc.from_op = op;
      tc.shapes = acc->shapes;
      tc.files = acc->files;
      try {
        tc.fit = fit_transport(acc->points);
      } catch (const InputError& e) {
        c.warnings.push_back(
            fmt::format("transport {}: no fit from {} {} points: {}", to_string(tr), acc->points.size(), op, e.what()));
        continue;
      }
      bool clamped = false;
      for (auto& p : tc.fit.protocols)
        if (p.efficiency > 1) {
          tc.fit.warnings.push_back(
              fmt::format("protocol {}: fitted efficiency {:.3f} > 1 written as 1 (the simulator's "
                          "capacity for this path is below what was measured)",
                          p.name, p.efficiency));
          p.efficiency = 1;
          clamped = true;
        }
      if (clamped) {
        std::vector<double> model, meas;
        for (const auto& pt : acc->points) {
          model.push_back(envelope_time_s(tc.fit, pt.bytes, pt.bottleneck_capacity_Bps));
          meas.push_back(pt.time_s);
        }
        tc.fit.envelope_error = fit_error(model, meas);
      }
      for (const auto& w : tc.fit.warnings) c.warnings.push_back(fmt::format("transport {}: {}", to_string(tr), w));
      c.transports.push_back(std::move(tc));
      fitted_rows.push_back(acc);
      break;
    }
    if (auto it = rounds.find(tr); it != rounds.end()) {
      AllToAllCalibration ac;
      ac.transport = tr;
      ac.shapes = it->second.shapes;
      try {
        ac.fit = fit_alltoall(it->second.points);
        for (const auto& w : ac.fit.warnings)
          c.warnings.push_back(fmt::format("all-to-all on {}: {}", to_string(tr), w));
        c.alltoall.push_back(std::move(ac));
      } catch (const InputError& e) {
        c.warnings.push_back(fmt::format("all-to-all rounds on {}: no fit: {}", to_string(tr), e.what()));
      }
    }
  }
  for (Transport tr : kAllTransports)
    if (std::none_of(c.transports.begin(), c.transports.end(), [tr](const auto& t) { return t.transport == tr; }))
      c.transports_kept.emplace_back(to_string(tr));
  // The error the simulator itself has on the fitted rows with the values as written (its
  // waves of sends and link sharing are what the linear fit approximates).
  if (c.transports.empty()) return;
  nlohmann::ordered_json file;
  file["transports"] = transports_json(c);
  const CostFactors written = CostFactors::load_text(file.dump(), "calibration (in memory)");
  for (std::size_t i = 0; i < c.transports.size(); ++i) {
    std::vector<double> model, meas;
    for (const auto& r : fitted_rows[i]->rows) {
      model.push_back(simulate_measured_collective(*r.placement, written, r.op, r.bytes)->seconds());
      meas.push_back(r.time_s);
    }
    c.transports[i].simulated_error = fit_error(model, meas);
  }
}

void fit_kernels(const MeasurementInputs& in, const GpuKindSpec* gpu, Calibration& c) {
  std::vector<std::string> names = kernel_names();
  for (const auto& k : in.merged.kernels) add_unique(names, k.name);
  for (const auto& name : names) {
    const auto pts = kernel_points(in.merged, name);
    if (pts.empty()) continue;
    try {
      KernelCalibration kc{.name = name, .fit = fit_kernel_bandwidth(pts)};
      if (gpu && gpu->memory_bandwidth_Bps > 0) kc.hbm_fraction = kc.fit.bytes_per_s / gpu->memory_bandwidth_Bps;
      for (const auto& w : kc.fit.warnings) c.warnings.push_back(fmt::format("kernel {}: {}", name, w));
      c.kernels.push_back(std::move(kc));
    } catch (const InputError& e) {
      c.warnings.push_back(fmt::format("kernel {}: no fit from {} points: {}", name, pts.size(), e.what()));
    }
  }
  if (!gpu) {
    if (!in.merged.kernels.empty())
      c.warnings.push_back(
          fmt::format("memory_bound: not fitted: cluster {} mixes GPU kinds (the HBM bandwidth to divide "
                      "by is ambiguous)",
                      c.cluster));
    return;
  }
  // The simulator's memory_bound entry prices gating and (un)permutation: fit it on those.
  std::vector<KernelPoint> pts;
  MemoryBoundCalibration mb;
  for (const char* name : {"gate_softmax_topk", "permute", "unpermute"}) {
    const auto p = kernel_points(in.merged, name);
    if (p.empty()) continue;
    pts.insert(pts.end(), p.begin(), p.end());
    mb.kernels.emplace_back(name);
  }
  if (pts.size() < 3) {
    pts = kernel_points(in.merged, "hbm_copy");
    mb.kernels = {"hbm_copy"};
  }
  if (pts.empty()) return;
  try {
    const auto f = fit_kernel_bandwidth(pts);
    mb.hbm_bytes_per_s = gpu->memory_bandwidth_Bps;
    mb.hbm_efficiency = f.bytes_per_s / gpu->memory_bandwidth_Bps;
    mb.overhead_s = f.overhead_s;
    mb.error = f.error;
    mb.warnings = f.warnings;
    if (mb.hbm_efficiency > 1) {
      mb.warnings.push_back(
          fmt::format("fitted bandwidth {:.4g} GB/s is above the catalog HBM bandwidth {:.4g} GB/s of {}: "
                      "hbm_efficiency written as 1",
                      f.bytes_per_s / 1e9, gpu->memory_bandwidth_Bps / 1e9, gpu->name));
      mb.hbm_efficiency = 1;
      std::vector<double> model, meas;
      for (const auto& p : pts) {
        model.push_back(mb.overhead_s + p.bytes / gpu->memory_bandwidth_Bps);
        meas.push_back(p.time_s);
      }
      mb.error = fit_error(model, meas);
    }
    for (const auto& w : mb.warnings) c.warnings.push_back(fmt::format("memory_bound: {}", w));
    c.memory_bound = std::move(mb);
  } catch (const InputError& e) {
    c.warnings.push_back(fmt::format("memory_bound: no fit from {} points of {}: {}", pts.size(),
                                     fmt::join(mb.kernels, ", "), e.what()));
  }
}

void fit_gemms(const MeasurementInputs& in, const GpuKindSpec* gpu, Calibration& c) {
  if (in.merged.gemms.empty()) return;
  if (!gpu) {
    c.warnings.push_back(
        fmt::format("gemm: {} GEMM rows not fitted: cluster {} mixes GPU kinds (which peak FLOP/s they "
                    "ran at is ambiguous)",
                    in.merged.gemms.size(), c.cluster));
    return;
  }
  const ComputeEfficiency defaults = ComputeEfficiency::defaults();
  const double hbm_eff = c.memory_bound ? c.memory_bound->hbm_efficiency : defaults.hbm_efficiency();
  std::vector<std::string> dtypes = gemm_dtypes();
  for (const auto& g : in.merged.gemms) add_unique(dtypes, g.dtype);
  const bool have_e4m3 =
      std::any_of(in.merged.gemms.begin(), in.merged.gemms.end(), [](const auto& g) { return g.dtype == "fp8_e4m3"; });
  for (const auto& dtype : dtypes) {
    std::vector<GemmPoint> pts;
    for (const auto& p : gemm_points(in.merged))
      if (p.dtype == dtype) pts.push_back(p);
    if (pts.empty()) continue;
    GemmCalibration gc;
    gc.dtype = dtype;
    const auto md = model_dtype_of(dtype);
    if (md && !(dtype == "fp8_e5m2" && have_e4m3)) gc.model_dtype = std::string(to_string(*md));
    const auto peak = gpu->peak_flops(catalog_peak_key(dtype));
    if (!peak || !(*peak > 0)) {
      c.warnings.push_back(fmt::format("gemm {}: {} rows not fitted: GPU kind {} has no {} peak in the catalog", dtype,
                                       pts.size(), gpu->name, catalog_peak_key(dtype)));
      continue;
    }
    gc.peak_flops = *peak;
    gc.hbm_bytes_per_s = gpu->memory_bandwidth_Bps;
    gc.hbm_efficiency = hbm_eff;
    const double bpe = md ? bytes_per_element(*md) : 4.0;  // tf32 GEMMs read and write fp32
    std::vector<double> xc, xm, t;
    for (const auto& p : pts) {
      xc.push_back(2 * p.m * p.n * p.k / gc.peak_flops);
      xm.push_back((p.m * p.k + p.k * p.n + p.m * p.n) * bpe / (hbm_eff * gc.hbm_bytes_per_s));
      t.push_back(p.time_s);
    }
    double eff = md ? defaults.gemm(*md).efficiency_max : 0.8;
    double overhead = 0;
    std::vector<char> compute_bound, previous;
    bool fitted = false, converged = false;
    std::string failure;
    for (int iter = 0; iter < 50; ++iter) {
      compute_bound.assign(pts.size(), 0);
      for (std::size_t i = 0; i < pts.size(); ++i) compute_bound[i] = xc[i] / eff >= xm[i];
      if (fitted && compute_bound == previous) {
        converged = true;
        break;
      }
      previous = compute_bound;
      std::vector<KernelPoint> kp;
      for (std::size_t i = 0; i < pts.size(); ++i)
        if (compute_bound[i]) kp.push_back({.bytes = xc[i], .time_s = t[i]});
      try {
        const auto f = fit_kernel_bandwidth(kp);
        eff = f.bytes_per_s;
        overhead = f.overhead_s;
        fitted = true;
      } catch (const InputError& e) {
        failure = fmt::format("{} of {} points are compute-bound under efficiency {:.3g}: {}", kp.size(), pts.size(),
                              eff, e.what());
        fitted = false;
        break;
      }
    }
    if (!fitted) {
      c.warnings.push_back(fmt::format("gemm {}: no fit: {}", dtype, failure));
      continue;
    }
    if (!converged) gc.warnings.push_back("the compute-/memory-bound classification did not settle in 50 rounds");
    gc.compute_bound_points = static_cast<int>(std::count(compute_bound.begin(), compute_bound.end(), 1));
    if (eff > 1) {
      gc.warnings.push_back(
          fmt::format("fitted efficiency {:.3f} > 1 written as 1 (the catalog peak of {} is below what was "
                      "measured: wrong cluster?)",
                      eff, gpu->name));
      eff = 1;
    }
    gc.efficiency_max = eff;
    gc.overhead_s = overhead;
    std::vector<double> model;
    for (std::size_t i = 0; i < pts.size(); ++i) model.push_back(std::max(xc[i] / eff, xm[i]) + overhead);
    gc.error = fit_error(model, t);
    try {
      auto sat = fit_gemm_efficiency(pts, {{dtype, gc.peak_flops}});
      if (!sat.empty()) gc.saturation = std::move(sat.front());
    } catch (const InputError& e) {
      gc.warnings.push_back(fmt::format("saturation curve: {}", e.what()));
    }
    if (!md)
      gc.warnings.push_back(fmt::format("{} has no curve in the compute model: reported only", dtype));
    else if (gc.model_dtype.empty())
      gc.warnings.push_back("fp8 is set from the fp8_e4m3 GEMMs: reported only");
    for (const auto& w : gc.warnings) c.warnings.push_back(fmt::format("gemm {}: {}", dtype, w));
    c.gemms.push_back(std::move(gc));
  }
}

std::string files_text(const std::vector<std::string>& files) {
  return fmt::format("{}", fmt::join(files, ", "));
}

nlohmann::ordered_json transports_json(const Calibration& c) {
  nlohmann::ordered_json transports = nlohmann::ordered_json::object();
  for (const auto& t : c.transports) {
    nlohmann::ordered_json protocols = nlohmann::ordered_json::array();
    for (const auto& p : t.fit.protocols)
      protocols.push_back(
          {{"name", p.name},
           {"overhead_us", round_sig(p.overhead_s * 1e6)},
           {"efficiency", round_sig(p.efficiency)},
           {"source", fmt::format("sizes {} to {} B; {}", p.min_bytes, p.max_bytes, error_text(p.error))}});
    transports[std::string(to_string(t.transport))] = {
        {"source",
         fmt::format("moesim calibrate: fit_transport on {} rows ({}) of {}; fit (envelope) error: {}; simulated "
                     "error: {}",
                     t.from_op, fmt::join(t.shapes, "; "), files_text(t.files), error_text(t.fit.envelope_error),
                     error_text(t.simulated_error))},
        {"protocols", protocols}};
  }
  return transports;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

std::optional<std::string> single_gpu_kind(const Topology& topo) {
  std::optional<std::string> kind;
  for (const auto& g : topo.gpus()) {
    if (kind && *kind != g.kind) return std::nullopt;
    kind = g.kind;
  }
  return kind;
}

std::optional<DType> model_dtype_of(std::string_view d) {
  if (d == "fp32") return DType::Fp32;
  if (d == "bf16") return DType::Bf16;
  if (d == "fp16") return DType::Fp16;
  if (d == "fp8_e4m3" || d == "fp8_e5m2") return DType::Fp8;
  return std::nullopt;
}

std::string catalog_peak_key(std::string_view d) {
  if (d.starts_with("fp8")) return "fp8";
  return std::string(d);
}

bool Calibration::has_compute() const {
  return memory_bound.has_value() ||
         std::any_of(gemms.begin(), gemms.end(), [](const GemmCalibration& g) { return !g.model_dtype.empty(); });
}

ComputeEfficiency Calibration::compute_efficiency() const {
  return ComputeEfficiency::load_text(compute_json(*this).dump(), "calibration (in memory)");
}

Calibration calibrate(const MeasurementInputs& in, MeasuredCluster& cluster) {
  Calibration c;
  c.cluster = cluster.name();
  const auto kind = single_gpu_kind(cluster.base());
  c.gpu_kind = kind.value_or("");
  const GpuKindSpec* gpu = kind ? cluster.catalog().find_gpu(*kind) : nullptr;
  c.hardware = in.merged.hardware;
  for (const auto& f : in.files) {
    c.inputs.push_back({.file = f.path,
                        .kind = std::string(to_string(f.kind)),
                        .tool = f.set.source.tool,
                        .gpu_name = f.set.hardware.gpu_name,
                        .hostname = f.set.hardware.hostname,
                        .nccl_version = f.set.hardware.nccl_version,
                        .collectives = static_cast<int>(f.set.collectives.size()),
                        .gemms = static_cast<int>(f.set.gemms.size()),
                        .kernels = static_cast<int>(f.set.kernels.size())});
    // Measurements of another GPU than the cluster's: every compute fit would be off.
    if (gpu && !f.set.hardware.gpu_name.empty()) {
      const auto want = gpu_model_tokens(gpu->description);
      const auto got = gpu_model_tokens(f.set.hardware.gpu_name);
      const bool match = want.empty() || got.empty() || std::any_of(want.begin(), want.end(), [&](const auto& w) {
                           return std::find(got.begin(), got.end(), w) != got.end();
                         });
      if (!match)
        c.warnings.push_back(fmt::format("{}: measured on \"{}\" but cluster {} has {} ({}): check --cluster", f.path,
                                         f.set.hardware.gpu_name, c.cluster, gpu->name, gpu->description));
    }
  }
  fit_transports(in, cluster, c);
  fit_kernels(in, gpu, c);
  fit_gemms(in, gpu, c);
  if (c.transports.empty() && !c.has_compute()) {
    std::vector<std::string> why = c.warnings;
    why.insert(why.end(), c.not_fitted.begin(), c.not_fitted.end());
    throw InputError(fmt::format("nothing could be calibrated from {} on cluster {}{}{}", files_text(in.paths()),
                                 c.cluster, why.empty() ? "" : ": ", fmt::join(why, "; ")));
  }
  return c;
}

// ---------------------------------------------------------------------------------------------

nlohmann::ordered_json compute_json(const Calibration& c) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  nlohmann::ordered_json gemm = nlohmann::ordered_json::object();
  for (const auto& g : c.gemms) {
    if (g.model_dtype.empty()) continue;
    gemm[g.model_dtype] = {
        {"efficiency_max", round_sig(g.efficiency_max)},
        {"overhead_us", round_sig(g.overhead_s * 1e6)},
        {"source", fmt::format("moesim calibrate: {} {} GEMMs on {} (peak {:.4g} TFLOPS; {} compute-bound); simulator "
                               "error: {}",
                               g.error.points, g.dtype, c.gpu_kind, g.peak_flops / 1e12, g.compute_bound_points,
                               error_text(g.error))}};
  }
  if (!gemm.empty()) out["gemm"] = gemm;
  if (c.memory_bound) {
    const auto& m = *c.memory_bound;
    out["memory_bound"] = {
        {"hbm_efficiency", round_sig(m.hbm_efficiency)},
        {"overhead_us", round_sig(m.overhead_s * 1e6)},
        {"source", fmt::format("moesim calibrate: fit_kernel_bandwidth over {} on {} (HBM {:.4g} GB/s); {}",
                               fmt::join(m.kernels, ", "), c.gpu_kind, m.hbm_bytes_per_s / 1e9, error_text(m.error))}};
  }
  return out;
}

nlohmann::ordered_json fit_report_json(const Calibration& c) {
  nlohmann::ordered_json r;
  r["cluster"] = c.cluster;
  r["gpu_kind"] = c.gpu_kind;
  nlohmann::ordered_json inputs = nlohmann::ordered_json::array();
  for (const auto& i : c.inputs)
    inputs.push_back({{"file", i.file},
                      {"kind", i.kind},
                      {"tool", i.tool},
                      {"gpu_name", i.gpu_name},
                      {"hostname", i.hostname},
                      {"nccl_version", i.nccl_version},
                      {"collectives", i.collectives},
                      {"gemms", i.gemms},
                      {"kernels", i.kernels}});
  r["inputs"] = inputs;
  nlohmann::ordered_json tr = nlohmann::ordered_json::array();
  for (const auto& t : c.transports) {
    nlohmann::ordered_json protocols = nlohmann::ordered_json::array();
    for (const auto& p : t.fit.protocols)
      protocols.push_back({{"name", p.name},
                           {"min_bytes", std::llround(p.min_bytes)},
                           {"max_bytes", std::llround(p.max_bytes)},
                           {"overhead_us", round_sig(p.overhead_s * 1e6)},
                           {"efficiency", round_sig(p.efficiency)},
                           {"error", error_json(p.error)}});
    tr.push_back({{"transport", std::string(to_string(t.transport))},
                  {"from", t.from_op},
                  {"shapes", t.shapes},
                  {"files", t.files},
                  {"protocols", protocols},
                  {"band_error", error_json(t.fit.band_error)},
                  {"envelope_error", error_json(t.fit.envelope_error)},
                  {"simulated_error", error_json(t.simulated_error)},
                  {"warnings", t.fit.warnings}});
  }
  r["transports"] = tr;
  r["transports_kept_default"] = c.transports_kept;
  nlohmann::ordered_json a2a = nlohmann::ordered_json::array();
  for (const auto& a : c.alltoall)
    a2a.push_back({{"transport", std::string(to_string(a.transport))},
                   {"shapes", a.shapes},
                   {"base_overhead_us", round_sig(a.fit.base_overhead_s * 1e6)},
                   {"round_overhead_us", round_sig(a.fit.round_overhead_s * 1e6)},
                   {"efficiency", round_sig(a.fit.efficiency)},
                   {"error", error_json(a.fit.error)},
                   {"warnings", a.fit.warnings}});
  r["alltoall"] = a2a;
  nlohmann::ordered_json gemms = nlohmann::ordered_json::array();
  for (const auto& g : c.gemms) {
    nlohmann::ordered_json j = {
        {"dtype", g.dtype},
        {"sets", g.model_dtype.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(g.model_dtype)},
        {"peak_TFLOPS", round_sig(g.peak_flops / 1e12)},
        {"hbm_GBps", round_sig(g.hbm_bytes_per_s / 1e9)},
        {"hbm_efficiency", round_sig(g.hbm_efficiency)},
        {"efficiency_max", round_sig(g.efficiency_max)},
        {"overhead_us", round_sig(g.overhead_s * 1e6)},
        {"compute_bound_points", g.compute_bound_points},
        {"error", error_json(g.error)}};
    if (g.saturation)
      j["saturation_curve"] = {{"eff_max", round_sig(g.saturation->eff_max)},
                               {"m_half", round_sig(g.saturation->m_half)},
                               {"error", error_json(g.saturation->error)}};
    j["warnings"] = g.warnings;
    gemms.push_back(j);
  }
  r["gemm"] = gemms;
  nlohmann::ordered_json kernels = nlohmann::ordered_json::array();
  for (const auto& k : c.kernels)
    kernels.push_back({{"name", k.name},
                       {"bandwidth_GBps", round_sig(k.fit.bytes_per_s / 1e9)},
                       {"hbm_fraction", round_sig(k.hbm_fraction)},
                       {"overhead_us", round_sig(k.fit.overhead_s * 1e6)},
                       {"error", error_json(k.fit.error)}});
  r["kernels"] = kernels;
  if (c.memory_bound)
    r["memory_bound"] = {{"kernels", c.memory_bound->kernels},
                         {"hbm_efficiency", round_sig(c.memory_bound->hbm_efficiency)},
                         {"overhead_us", round_sig(c.memory_bound->overhead_s * 1e6)},
                         {"error", error_json(c.memory_bound->error)}};
  else
    r["memory_bound"] = nullptr;
  r["not_fitted"] = c.not_fitted;
  r["warnings"] = c.warnings;
  return r;
}

nlohmann::ordered_json calibration_json(const Calibration& c) {
  nlohmann::ordered_json out;
  out["$comment"] =
      "moesim calibration written by `moesim calibrate` (docs/CALIBRATION.md). `--calibration FILE` reads 'transports' "
      "(sim/cost_factors.h) and 'compute' (models/compute_cost.h); everything not here keeps the embedded defaults. "
      "'hardware' and 'fit' document where the values come from and how well they fit.";
  std::vector<std::string> sources;
  for (const auto& i : c.inputs) sources.push_back(i.file);
  out["sources"] = sources;
  std::vector<std::string> notes;
  if (!c.transports_kept.empty())
    notes.push_back(
        fmt::format("transports not measured keep the embedded defaults: {}", fmt::join(c.transports_kept, ", ")));
  std::vector<std::string> kept_dtypes;
  for (int t = 0; t < kDTypeCount; ++t) {
    const std::string name(to_string(static_cast<DType>(t)));
    if (std::none_of(c.gemms.begin(), c.gemms.end(), [&](const auto& g) { return g.model_dtype == name; }))
      kept_dtypes.push_back(name);
  }
  if (!kept_dtypes.empty())
    notes.push_back(
        fmt::format("GEMM dtypes not measured keep the embedded defaults: {}", fmt::join(kept_dtypes, ", ")));
  if (!c.memory_bound) notes.push_back("memory-bound kernels not measured: memory_bound keeps the embedded defaults");
  notes.push_back(
      "not measured, kept at the embedded defaults: network, collective (alltoall_max_peers_in_flight, pxn), "
      "backward_flops_factor");
  for (const auto& w : c.warnings) notes.push_back(fmt::format("warning: {}", w));
  out["notes"] = notes;
  out["transports"] = transports_json(c);
  if (c.has_compute()) out["compute"] = compute_json(c);
  {
    MeasurementSet hw;
    hw.hardware = c.hardware;
    out["hardware"] = to_json(hw)["hardware"];
  }
  out["fit"] = fit_report_json(c);
  return out;
}

ComputeEfficiency load_calibration_compute(const std::string& path) {
  const auto root = JsonReader::parse_file(path);  // names the file when missing or malformed
  if (!root.is_object()) throw ConfigError(path, "", fmt::format("expected a JSON object, got {}", root.type_name()));
  const auto it = root.find("compute");
  if (it == root.end()) return ComputeEfficiency::defaults();
  if (!it->is_object()) throw ConfigError(path, "/compute", fmt::format("expected an object, got {}", it->type_name()));
  return ComputeEfficiency::load_text(it->dump(), fmt::format("{} (section /compute)", path));
}

void write_calibration_file(const Calibration& c, const std::string& path) {
  const std::string text = calibration_json(c).dump(2) + "\n";
  // Both loaders must accept what is written (strict readers; a bug here is an invariant).
  try {
    (void)CostFactors::load_text(text, path);
    if (c.has_compute()) (void)c.compute_efficiency();
  } catch (const Error& e) {
    throw InvariantError(fmt::format("the calibration written to {} does not load back: {}", path, e.what()));
  }
  std::ofstream out(path, std::ios::binary);
  if (!out) throw ConfigError(path, "", "cannot open file for writing");
  out << text;
  out.flush();
  if (!out) throw ConfigError(path, "", "write failed");
}

}  // namespace moesim::validation
