// moesim replay: replay a captured GPU -> GPU traffic matrix on a cluster as one all-to-all-v
// (docs/REPLAY.md).
//   moesim replay --cluster NAME|FILE [--nodes N] --matrix FILE.json|FILE.csv
//                 [--algorithm direct|hierarchical] [--ideal | --calibration FILE] [--json]
//                 [--no-pxn] [--top K] [--all-gpus] [--links-csv FILE] [--flows-csv FILE]
#include <algorithm>
#include <cstdio>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "sim/collectives/replay.h"
#include "sim/error.h"
#include "tools/cli_util.h"
#include "tools/commands.h"
#include "tools/common_options.h"

namespace moesim::cli {

namespace {

struct ReplayArgs {
  ClusterArgs cluster;
  CostArgs costs;
  std::string matrix;
  std::string algorithm = "direct";
  bool json = false;
  int top = 10;
  bool all_gpus = false;
  bool no_pxn = false;
  std::string links_csv;
  std::string flows_csv;
};

// GPUs listed one per line up to this many; above it, a summary and the slowest few.
constexpr int kFullTableGpus = 64;

std::string gpu_name(const Topology& topo, int g) {
  return topo.vertex(topo.gpu(GpuId::from(g)).vertex).name;
}

std::string link_name(const Topology& topo, LinkId l) {
  return fmt::format("{} -> {}", topo.vertex(topo.link_from(l)).name, topo.vertex(topo.link_to(l)).name);
}

std::string capacity_text(const LinkKindUsage& k) {
  if (k.min_link_capacity_Bps == k.max_link_capacity_Bps) return fmt::format("{:g}", k.min_link_capacity_Bps / 1e9);
  return fmt::format("{:g}-{:g}", k.min_link_capacity_Bps / 1e9, k.max_link_capacity_Bps / 1e9);
}

// The longest time any link needs to carry its wire bytes at full capacity: a lower bound on
// the completion time (without latencies) that every max-min simulator must respect.
double link_bound_s(const Topology& topo, const ReplayResult& r) {
  double bound = 0;
  for (std::size_t i = 0; i < r.links.size(); ++i)
    bound = std::max(bound, r.links[i].wire_bytes / topo.link(LinkId::from(i)).capacity_Bps);
  return bound;
}

struct Summary {
  double min_us, median_us, max_us;
  int min_gpu, max_gpu;
};

Summary summarize(const std::vector<Time>& t) {
  std::vector<int> order(t.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return t[a] < t[b]; });
  const std::size_t n = order.size();
  const double median = n % 2 ? t[order[n / 2]].us() : (t[order[n / 2 - 1]].us() + t[order[n / 2]].us()) / 2;
  return {t[order.front()].us(), median, t[order.back()].us(), order.front(), order.back()};
}

void print_gpu_row(const Topology& topo, const ReplayResult& r, int g) {
  const auto i = static_cast<std::size_t>(g);
  fmt::print("  {:>5} {:<14} {:>12} {:>12} {:>16.3f} {:>16.3f}\n", g, gpu_name(topo, g), format_size(r.bytes_sent[i]),
             format_size(r.bytes_received[i]), r.send_finish[i].us(), r.recv_finish[i].us());
}

void print_text(const ReplayArgs& a, const Topology& topo, const CostFactors& costs, const TrafficMatrix& m,
                const ReplayResult& r, AllToAllAlgorithm algorithm) {
  const int P = m.gpus;
  fmt::print("# moesim replay: {} on {} ({} GPUs, {} nodes), algorithm {}, PXN {}, cost factors: {}\n", m.source,
             topo.name(), P, topo.node_count(), to_string(algorithm), costs.collective().pxn ? "on" : "off",
             costs.origin());
  std::size_t pairs = 0;
  for (int s = 0; s < P; ++s)
    for (int d = 0; d < P; ++d)
      if (s != d && m.at(s, d) > 0) ++pairs;
  fmt::print("traffic: {} bytes ({}) over {} GPU pairs; self copies {} bytes (take no time); {} transfers simulated\n",
             r.total_bytes, format_size(r.total_bytes), pairs, r.self_bytes, r.transfers);
  fmt::print("completion time: {:.3f} us\n", r.completion.us());
  fmt::print(
      "busiest-link bound: {:.3f} us (the most loaded link's wire bytes at its full capacity; latencies excluded)\n",
      link_bound_s(topo, r) * 1e6);

  fmt::print("\nper GPU (send finish: its last outgoing transfer delivered; receive finish: its last incoming one):\n");
  const auto header = [] {
    fmt::print("  {:>5} {:<14} {:>12} {:>12} {:>16} {:>16}\n", "gpu", "name", "sent", "received", "send finish (us)",
               "recv finish (us)");
  };
  if (P <= kFullTableGpus || a.all_gpus) {
    header();
    for (int g = 0; g < P; ++g) print_gpu_row(topo, r, g);
  } else {
    const Summary s = summarize(r.send_finish), v = summarize(r.recv_finish);
    fmt::print("  send finish (us):    min {:.3f} ({}), median {:.3f}, max {:.3f} ({})\n", s.min_us,
               gpu_name(topo, s.min_gpu), s.median_us, s.max_us, gpu_name(topo, s.max_gpu));
    fmt::print("  receive finish (us): min {:.3f} ({}), median {:.3f}, max {:.3f} ({})\n", v.min_us,
               gpu_name(topo, v.min_gpu), v.median_us, v.max_us, gpu_name(topo, v.max_gpu));
    std::vector<int> order(static_cast<std::size_t>(P));
    std::iota(order.begin(), order.end(), 0);
    const auto last = [&](int g) {
      return std::max(r.send_finish[static_cast<std::size_t>(g)], r.recv_finish[static_cast<std::size_t>(g)]);
    };
    const std::size_t few = std::min<std::size_t>(8, order.size());
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(few), order.end(),
                      [&](int x, int y) { return last(x) != last(y) ? last(x) > last(y) : x < y; });
    fmt::print("  the {} slowest GPUs (by their later finish; --all-gpus lists every GPU):\n", few);
    header();
    for (std::size_t k = 0; k < few; ++k) print_gpu_row(topo, r, order[k]);
  }

  fmt::print("\nlinks by class and kind (utilization = wire bytes / (capacity x completion time)):\n");
  fmt::print("  {:<15} {:<14} {:>6} {:>6} {:>14} {:>16} {:>16} {:>8} {:>8}\n", "class", "kind", "links", "used",
             "GB/s per link", "bytes", "wire bytes", "util", "max util");
  for (const auto& k : usage_by_link_kind(topo, r))
    fmt::print("  {:<15} {:<14} {:>6} {:>6} {:>14} {:>16.0f} {:>16.0f} {:>7.1f}% {:>7.1f}%\n", to_string(k.link_class),
               k.kind, k.links, k.links_used, capacity_text(k), k.bytes, k.wire_bytes, 100 * k.utilization,
               100 * k.max_utilization);

  const auto busiest = busiest_links(topo, r, static_cast<std::size_t>(a.top));
  fmt::print("\nbusiest links (by utilization; --top sets how many):\n");
  fmt::print("  {:<34} {:<15} {:<12} {:>8} {:>16} {:>8} {:>12} {:>6}\n", "link", "class", "kind", "GB/s", "wire bytes",
             "util", "busy (us)", "flows");
  for (const auto& u : busiest)
    fmt::print("  {:<34} {:<15} {:<12} {:>8g} {:>16.0f} {:>7.1f}% {:>12.3f} {:>6}\n", link_name(topo, u.link),
               to_string(topo.link(u.link).link_class), topo.link(u.link).kind, u.capacity_Bps / 1e9, u.wire_bytes,
               100 * u.utilization, u.busy.us(), u.peak_flows);
  if (busiest.empty()) fmt::print("  (no link carried bytes)\n");
}

nlohmann::json link_json(const Topology& topo, const LinkUsage& u) {
  const LinkSpec& spec = topo.link(u.link);
  return {{"link", u.link.value()},
          {"from", topo.vertex(topo.link_from(u.link)).name},
          {"to", topo.vertex(topo.link_to(u.link)).name},
          {"class", std::string(to_string(spec.link_class))},
          {"kind", spec.kind},
          {"capacity_GBps", u.capacity_Bps / 1e9},
          {"latency_us", u.latency.us()},
          {"bytes", u.bytes},
          {"wire_bytes", u.wire_bytes},
          {"utilization", u.utilization},
          {"busy_us", u.busy.us()},
          {"peak_flows", u.peak_flows}};
}

void print_json(const ReplayArgs& a, const Topology& topo, const CostFactors& costs, const TrafficMatrix& m,
                const ReplayResult& r, AllToAllAlgorithm algorithm) {
  nlohmann::json out;
  out["matrix"] = m.source;
  out["cluster"] = std::string(topo.name());
  out["gpus"] = m.gpus;
  out["nodes"] = topo.node_count();
  out["algorithm"] = std::string(to_string(algorithm));
  out["cost_factors"] = costs.origin();
  out["pxn"] = costs.collective().pxn;
  out["completion_time_us"] = r.completion.us();
  out["link_bound_us"] = link_bound_s(topo, r) * 1e6;
  out["total_bytes"] = r.total_bytes;
  out["self_bytes"] = r.self_bytes;
  out["transfers"] = r.transfers;
  auto us = [](const std::vector<Time>& v) {
    nlohmann::json arr = nlohmann::json::array();
    for (Time t : v) arr.push_back(t.us());
    return arr;
  };
  out["send_finish_us"] = us(r.send_finish);
  out["recv_finish_us"] = us(r.recv_finish);
  out["bytes_sent"] = r.bytes_sent;
  out["bytes_received"] = r.bytes_received;
  nlohmann::json kinds = nlohmann::json::array();
  for (const auto& k : usage_by_link_kind(topo, r))
    kinds.push_back({{"class", std::string(to_string(k.link_class))},
                     {"kind", k.kind},
                     {"links", k.links},
                     {"links_used", k.links_used},
                     {"capacity_GBps", k.capacity_Bps / 1e9},
                     {"min_link_capacity_GBps", k.min_link_capacity_Bps / 1e9},
                     {"max_link_capacity_GBps", k.max_link_capacity_Bps / 1e9},
                     {"bytes", k.bytes},
                     {"wire_bytes", k.wire_bytes},
                     {"utilization", k.utilization},
                     {"max_utilization", k.max_utilization}});
  out["links_by_kind"] = std::move(kinds);
  nlohmann::json busiest = nlohmann::json::array();
  for (const auto& u : busiest_links(topo, r, static_cast<std::size_t>(a.top))) busiest.push_back(link_json(topo, u));
  out["busiest_links"] = std::move(busiest);
  fmt::print("{}\n", out.dump(2));
}

// Writes `text` to `path` (InputError if it cannot).
void write_file(const std::string& path, const std::string& text) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) throw InputError(fmt::format("{}: cannot open for writing", path));
  const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  if (std::fclose(f) != 0 || !ok) throw InputError(fmt::format("{}: write failed", path));
}

// Every directed link with its figures and what the replay put on it (for rebuilding the
// cluster in another simulator and comparing per-link results).
void write_links_csv(const std::string& path, const Topology& topo, const ReplayResult& r) {
  fmt::memory_buffer out;
  fmt::format_to(std::back_inserter(out),
                 "link,from,to,class,kind,capacity_GBps,latency_us,bytes,wire_bytes,utilization,busy_us,peak_flows\n");
  for (std::size_t i = 0; i < r.links.size(); ++i) {
    const LinkId l = LinkId::from(i);
    const LinkUsage u = link_usage(topo, r, l);
    const LinkSpec& spec = topo.link(l);
    fmt::format_to(std::back_inserter(out), "{},{},{},{},{},{},{},{},{},{},{},{}\n", i,
                   topo.vertex(topo.link_from(l)).name, topo.vertex(topo.link_to(l)).name, to_string(spec.link_class),
                   spec.kind, spec.capacity_Bps / 1e9, spec.latency.us(), u.bytes, u.wire_bytes, u.utilization,
                   u.busy.us(), u.peak_flows);
  }
  write_file(path, fmt::to_string(out));
}

// Every network transfer with its issue and delivery time.
void write_flows_csv(const std::string& path, const Topology& topo, const ReplayResult& r) {
  fmt::memory_buffer out;
  fmt::format_to(std::back_inserter(out), "src,dst,src_name,dst_name,bytes,start_us,finish_us\n");
  for (const ReplayTransfer& t : r.transfer_log)
    fmt::format_to(std::back_inserter(out), "{},{},{},{},{},{},{}\n", t.src.value(), t.dst.value(),
                   gpu_name(topo, static_cast<int>(t.src.value())), gpu_name(topo, static_cast<int>(t.dst.value())),
                   t.bytes, t.start.us(), t.finish.us());
  write_file(path, fmt::to_string(out));
}

void run_replay(const ReplayArgs& a) {
  const Topology topo = a.cluster.load();
  CostFactors costs = a.costs.load();
  if (a.no_pxn) costs.collective().pxn = false;
  const TrafficMatrix m = load_traffic_matrix(a.matrix, topo.gpu_count());
  const AllToAllAlgorithm algorithm =
      a.algorithm == "hierarchical" ? AllToAllAlgorithm::Hierarchical : AllToAllAlgorithm::Direct;
  const ReplayResult r = replay_traffic(topo, costs, m, algorithm, {.record_transfers = !a.flows_csv.empty()});
  if (!a.links_csv.empty()) write_links_csv(a.links_csv, topo, r);
  if (!a.flows_csv.empty()) write_flows_csv(a.flows_csv, topo, r);
  if (a.json)
    print_json(a, topo, costs, m, r, algorithm);
  else
    print_text(a, topo, costs, m, r, algorithm);
}

}  // namespace

void add_replay_command(CLI::App& app) {
  auto args = std::make_shared<ReplayArgs>();
  auto* cmd = app.add_subcommand(
      "replay",
      "Replay a captured GPU->GPU traffic matrix on a cluster as one all-to-all-v (all flows start at "
      "time 0); see docs/REPLAY.md");
  args->cluster.add_to(*cmd);
  cmd->get_option("--cluster")->required()->default_str("");
  args->costs.add_to(*cmd);
  cmd->add_option(
         "--matrix", args->matrix,
         "Traffic matrix: FILE.json (dense {\"gpus\": P, \"bytes\": [[...], ...]}) or FILE.csv (src,dst,bytes rows); "
         "GPU index = node x GPUs per node + local index")
      ->required();
  cmd->add_option("--algorithm", args->algorithm,
                  "All-to-all algorithm: direct (NCCL) or hierarchical (2-level, Tutel 2DH)")
      ->check(CLI::IsMember({"direct", "hierarchical"}))
      ->capture_default_str();
  cmd->add_flag(
      "--json", args->json,
      "Print one JSON object: completion_time_us, send_finish_us, recv_finish_us, links_by_kind, busiest_links, ...");
  cmd->add_option("--top", args->top, "How many busiest links to list")
      ->check(CLI::Range(0, 1000000))
      ->capture_default_str();
  cmd->add_flag(
      "--no-pxn", args->no_pxn,
      "Route every message on the topology's own path (as NCCL_PXN_DISABLE=1); default: the cost factors' PXN "
      "setting (on, --ideal included)");
  cmd->add_option(
      "--links-csv", args->links_csv,
      "Also write every directed link (from, to, class, kind, capacity, latency, bytes, utilization, ...) to this CSV");
  cmd->add_option("--flows-csv", args->flows_csv,
                  "Also write every network transfer (src, dst, bytes, start_us, finish_us) to this CSV");
  cmd->add_flag("--all-gpus", args->all_gpus,
                "List every GPU (default: every GPU up to 64, else a summary and the slowest)");
  cmd->callback([args] { run_replay(*args); });
}

}  // namespace moesim::cli
