// moesim collective: simulate one collective on every GPU of a cluster, as nccl-tests runs it.
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "sim/collectives/collectives.h"
#include "sim/error.h"
#include "tools/cli_util.h"
#include "tools/commands.h"
#include "tools/common_options.h"
#include "tools/run_setup.h"

namespace moesim::cli {

namespace {

struct CollectiveArgs {
  ClusterArgs cluster;
  CostArgs costs;
  std::string op = "alltoall";
  std::string bytes = "1M:1G";
  std::string algorithm = "direct";
  std::string allreduce_algorithm = "auto";
  int channels = 0;
  std::string fidelity = "flow";
  bool json = false;
};

void run_collective(const CollectiveArgs& a) {
  const Topology topo = a.cluster.load();
  const CostFactors costs = a.costs.load();
  CollectiveOp op = CollectiveOp::AllToAll;
  if (a.op == "allreduce") op = CollectiveOp::AllReduce;
  else if (a.op == "allgather") op = CollectiveOp::AllGather;
  CollectiveOptions opt;
  opt.algorithm = a.algorithm == "hierarchical" ? AllToAllAlgorithm::Hierarchical : AllToAllAlgorithm::Direct;
  opt.ring_channels = a.channels;
  opt.allreduce_algorithm = *allreduce_algorithm_from_string(a.allreduce_algorithm);  // CLI::IsMember checked it
  opt.fluid = a.fidelity == "fluid";
  bool noted = false;  // one note for the whole size list
  opt.on_replay_size = [&noted](std::size_t messages) {
    if (noted) return;
    if (const auto note = long_replay_note(messages, ReplayKind::Collective)) {
      fmt::print(stderr, "{}\n", *note);
      std::fflush(stderr);
      noted = true;
    }
  };
  const auto sizes = parse_size_list(a.bytes);
  const bool allreduce = op == CollectiveOp::AllReduce;
  // The algorithm that ran: all-reduce's may differ by size (auto).
  auto algorithm = [&](const CollectiveResult& r) -> std::string_view {
    if (allreduce) return to_string(r.allreduce_algorithm);
    return op == CollectiveOp::AllToAll ? to_string(opt.algorithm) : "ring";
  };

  if (allreduce && opt.allreduce_algorithm == AllReduceAlgorithm::Nvls) {  // fail before printing anything
    std::vector<GpuId> all(static_cast<std::size_t>(topo.gpu_count()));
    for (int g = 0; g < topo.gpu_count(); ++g) all[static_cast<std::size_t>(g)] = GpuId::from(g);
    require_nvls(topo, all);
  }
  nlohmann::json out = nlohmann::json::array();
  if (!a.json) {
    fmt::print("# moesim collective: {} on {} ({} GPUs, {} nodes), algorithm {}, fidelity {}, cost factors: {}\n",
               to_string(op), topo.name(), topo.gpu_count(), topo.node_count(),
               allreduce                      ? to_string(opt.allreduce_algorithm)
               : op == CollectiveOp::AllToAll ? to_string(opt.algorithm)
                                              : "ring",
               a.fidelity, costs.origin());
    fmt::print("#{:>14} {:>14} {:>10} {:>10} {:>10}{}\n", "size", "count", "time", "algbw", "busbw",
               allreduce ? "  algorithm" : "");
    fmt::print("#{:>14} {:>14} {:>10} {:>10} {:>10}\n", "(B)", "(elements)", "(us)", "(GB/s)", "(GB/s)");
  }
  int window_ignored = 0;  // sizes whose fluid all-to-all was too large to replay
  for (double b : sizes) {
    const auto r = simulate_collective(topo, costs, op, b, opt);
    window_ignored += r.fluid_window_ignored;
    if (a.json) {
      out.push_back({{"op", std::string(to_string(op))},
                     {"algorithm", std::string(algorithm(r))},
                     {"bytes", r.bytes},
                     {"time_us", r.time.us()},
                     {"algbw_GBps", r.algbw_GBps},
                     {"busbw_GBps", r.busbw_GBps},
                     {"ranks", topo.gpu_count()},
                     {"fidelity", a.fidelity},
                     {"flows", r.flows}});
    } else {
      fmt::print(" {:>14.0f} {:>14.0f} {:>10.2f} {:>10.2f} {:>10.2f}{}\n", r.bytes, r.bytes / 4, r.time.us(),
                 r.algbw_GBps, r.busbw_GBps, allreduce ? fmt::format("  {}", algorithm(r)) : "");
    }
  }
  if (a.json) fmt::print("{}\n", out.dump(2));
  if (const auto note = fluid_window_note(window_ignored)) fmt::print(stderr, "{}\n", *note);
}

}  // namespace

void add_collective_command(CLI::App& app) {
  auto args = std::make_shared<CollectiveArgs>();
  auto* cmd = app.add_subcommand("collective", "Simulate a collective on every GPU of a cluster, reported as nccl-tests does");
  args->cluster.add_to(*cmd);
  args->costs.add_to(*cmd);
  cmd->add_option("--op", args->op, "Collective: alltoall, allreduce or allgather")
      ->check(CLI::IsMember({"alltoall", "allreduce", "allgather"}))
      ->capture_default_str();
  cmd->add_option("--bytes", args->bytes,
                  "Sizes as nccl-tests takes them (per-rank buffer; all-gather: output): 32M, 1G, lists 1M,8M, ranges 8:8G "
                  "(doubling) or 1K:1G:4")
      ->capture_default_str();
  cmd->add_option("--algorithm", args->algorithm, "All-to-all algorithm: direct (NCCL) or hierarchical (2-level, Tutel 2DH)")
      ->check(CLI::IsMember({"direct", "hierarchical"}))
      ->capture_default_str();
  cmd->add_option(
         "--allreduce-algorithm", args->allreduce_algorithm,
         "All-reduce algorithm: ring, tree (NCCL's double binary tree), nvls (NVLink SHARP: the NVSwitch reduces "
         "and multicasts; one node whose NVSwitch supports it, e.g. H100/H200) or auto (the fastest the cluster can run "
         "by the fluid model, as NCCL's tuner picks by its cost model)")
      ->check(CLI::IsMember({"ring", "tree", "nvls", "auto"}))
      ->capture_default_str();
  cmd->add_option(
         "--channels", args->channels,
         "Rings for all-reduce/all-gather, or channels of two trees each for the tree all-reduce (0 = NICs per "
         "node across nodes, 1 inside one)")
      ->check(CLI::Range(0, 64));
  cmd->add_option("--fidelity", args->fidelity,
                  "flow: replay every message on the max-min network (the reference); fluid: price the collective "
                  "with the bottleneck model (no flows; seconds where flow takes minutes, docs/PERFORMANCE.md; an "
                  "all-to-all across node kinds is replayed, as NCCL's window of peers matters there)")
      ->check(CLI::IsMember({"flow", "fluid"}))
      ->capture_default_str();
  cmd->add_flag(
      "--json", args->json,
      "Print a JSON array of {op, algorithm, bytes, time_us, algbw_GBps, busbw_GBps, ranks, fidelity, flows} "
      "(algorithm: the one that ran; flows: transfers simulated, 0 with --fidelity fluid unless it replayed an "
      "all-to-all across node kinds)");
  cmd->callback([args] { run_collective(*args); });
}

}  // namespace moesim::cli
