// moesim calibrate --from FILE... --cluster NAME|FILE [--nodes N] --out calib.json [--json]:
// measurements (moesim-bench JSON, nccl-tests logs) -> one calibration JSON for --calibration.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "tools/cli_util.h"
#include "tools/commands.h"
#include "tools/log_import_options.h"
#include "validation/calibrate.h"

namespace moesim::cli {

namespace {

struct CalibrateArgs {
  std::vector<std::string> from;
  std::string cluster;
  std::optional<int> nodes;
  std::string out;
  LogImportArgs log;
  bool json = false;
};

std::string pct(double rel) {
  return fmt::format("{:.1f}%", 100 * rel);
}

std::string error_text(const validation::FitError& e) {
  return fmt::format("{} points, median error {}, worst {}, R^2 {:.4f}", e.points, pct(e.median_rel_error),
                     pct(e.worst_rel_error), e.r_squared);
}

void print_text(const validation::Calibration& c, const std::string& out) {
  fmt::print("# moesim calibrate: {} input file{} on cluster {}{}\n", c.inputs.size(), c.inputs.size() == 1 ? "" : "s",
             c.cluster, c.gpu_kind.empty() ? " (mixed GPU kinds)" : fmt::format(" ({})", c.gpu_kind));
  for (const auto& i : c.inputs)
    fmt::print("#   {} ({}{}): {} collective rows, {} GEMMs, {} kernels{}\n", i.file, i.kind,
               i.tool.empty() ? "" : fmt::format(", {}", i.tool), i.collectives, i.gemms, i.kernels,
               i.gpu_name.empty() ? "" : fmt::format("; GPU {}", i.gpu_name));
  for (const auto& t : c.transports) {
    fmt::print("\ntransport {} (from {} rows)\n", to_string(t.transport), t.from_op);
    for (const auto& s : t.shapes) fmt::print("  {}\n", s);
    fmt::print("  {:<8} {:>22} {:>14} {:>10} {:>7} {:>9} {:>9}\n", "protocol", "sizes (B)", "overhead (us)",
               "efficiency", "points", "median", "worst");
    for (const auto& p : t.fit.protocols)
      fmt::print("  {:<8} {:>22} {:>14.3f} {:>10.4f} {:>7} {:>9} {:>9}\n", p.name,
                 fmt::format("{:.0f}-{:.0f}", p.min_bytes, p.max_bytes), p.overhead_s * 1e6, p.efficiency,
                 p.error.points, pct(p.error.median_rel_error), pct(p.error.worst_rel_error));
    fmt::print("  fit, fastest protocol per size (as the simulator picks): {}\n", error_text(t.fit.envelope_error));
    fmt::print("  simulated (these rows through the simulator with the written values): {}\n",
               error_text(t.simulated_error));
  }
  if (!c.transports_kept.empty())
    fmt::print("\ntransports not measured (embedded defaults kept): {}\n", fmt::join(c.transports_kept, ", "));
  for (const auto& a : c.alltoall) {
    fmt::print(
        "\nall-to-all rounds on {} (report only; the simulator's per-round cost comes from per-message overheads and "
        "peers in flight)\n",
        to_string(a.transport));
    for (const auto& s : a.shapes) fmt::print("  {}\n", s);
    fmt::print("  per-round overhead {:.3f} us, base overhead {:.3f} us, efficiency {:.4f}; {}\n",
               a.fit.round_overhead_s * 1e6, a.fit.base_overhead_s * 1e6, a.fit.efficiency, error_text(a.fit.error));
  }
  for (const auto& g : c.gemms) {
    fmt::print(
        "\ngemm {}{}: peak {:.4g} TFLOPS, efficiency_max {:.4f}, overhead {:.3f} us ({} of {} points compute-bound)\n",
        g.dtype, g.model_dtype.empty() ? " (report only)" : fmt::format(" -> compute.gemm.{}", g.model_dtype),
        g.peak_flops / 1e12, g.efficiency_max, g.overhead_s * 1e6, g.compute_bound_points, g.error.points);
    fmt::print("  simulator's formula: {}\n", error_text(g.error));
    if (g.saturation)
      fmt::print("  saturation curve eff_max * M / (M + m_half): eff_max {:.4f}, m_half {:.1f}; {}\n",
                 g.saturation->eff_max, g.saturation->m_half, error_text(g.saturation->error));
  }
  for (const auto& k : c.kernels)
    fmt::print("\nkernel {}: {:.1f} GB/s{}, overhead {:.3f} us; {}\n", k.name, k.fit.bytes_per_s / 1e9,
               k.hbm_fraction > 0 ? fmt::format(" ({} of HBM)", pct(k.hbm_fraction)) : "", k.fit.overhead_s * 1e6,
               error_text(k.fit.error));
  if (c.memory_bound)
    fmt::print("\nmemory_bound (from {}): hbm_efficiency {:.4f}, overhead {:.3f} us; {}\n",
               fmt::join(c.memory_bound->kernels, ", "), c.memory_bound->hbm_efficiency,
               c.memory_bound->overhead_s * 1e6, error_text(c.memory_bound->error));
  if (!c.has_compute()) fmt::print("\ncompute: nothing measured, the embedded defaults are kept\n");
  if (!c.not_fitted.empty()) {
    fmt::print("\nnot fitted:\n");
    for (const auto& n : c.not_fitted) fmt::print("  {}\n", n);
  }
  if (!c.warnings.empty())
    fmt::print("\n{} warning{} (also on stderr and in the file's notes)\n", c.warnings.size(),
               c.warnings.size() == 1 ? "" : "s");
  fmt::print("\nwrote {}\n", out);
}

void run_calibrate(const CalibrateArgs& a) {
  const auto inputs = validation::read_measurement_files(a.from, a.log.options());
  validation::MeasuredCluster cluster(a.cluster, a.nodes);
  const auto c = validation::calibrate(inputs, cluster);
  validation::write_calibration_file(c, a.out);
  for (const auto& w : c.warnings) fmt::print(stderr, "moesim: warning: {}\n", w);
  if (a.json) {
    nlohmann::ordered_json j;
    j["out"] = a.out;
    j["fit"] = validation::fit_report_json(c);
    fmt::print("{}\n", j.dump(2));
    return;
  }
  print_text(c, a.out);
}

}  // namespace

void add_calibrate_command(CLI::App& app) {
  auto a = std::make_shared<CalibrateArgs>();
  auto* cmd = app.add_subcommand(
      "calibrate",
      "Fit the cost model to measurements (moesim-bench JSON, nccl-tests logs) and write a calibration "
      "JSON for --calibration");
  cmd->add_option("--from", a->from,
                  "Measurement files: moesim-measurements JSON or nccl-tests logs (told apart by content)")
      ->required()
      ->expected(1, -1);
  cmd->add_option("--cluster", a->cluster, "Cluster the measurements were taken on: preset name or cluster JSON file")
      ->required();
  cmd->add_option("--nodes", a->nodes,
                  "Node count of rows that do not know theirs (default: ranks / GPUs per node, rounded up)")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--out", a->out, "Calibration JSON to write")->required();
  a->log.add_to(*cmd);
  cmd->add_flag("--json", a->json, "Print the fit report as JSON ({out, fit}) instead of text");
  cmd->callback([a] { run_calibrate(*a); });
}

}  // namespace moesim::cli
