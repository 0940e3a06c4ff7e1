#include "validation/published_cases.h"

#include <filesystem>

#include "sim/collectives/collectives.h"
#include "sim/error.h"
#include "sim/json_reader.h"
#include "topologies/cluster_loader.h"

namespace moesim::validation {

std::vector<PublishedCase> load_published_cases(const std::string& path) {
  const auto doc = JsonReader::parse_file(path);
  JsonReader root(doc, path);
  std::vector<PublishedCase> out;
  for (JsonReader c : root.objects("cases")) {
    PublishedCase p;
    p.name = c.string("name");
    p.cluster = c.string("cluster");
    if (c.has("nodes")) p.nodes = static_cast<int>(c.integer("nodes", {.min = 1, .max = 100000}));
    else c.accept("nodes");
    p.op = c.string_one_of("op", {"alltoall", "allreduce", "allgather"});
    p.allreduce_algorithm = c.string_one_of_or("allreduce_algorithm", {"ring", "tree", "nvls", "auto"}, "auto");
    if (p.op != "allreduce" && c.has("allreduce_algorithm"))
      throw c.error("allreduce_algorithm", fmt::format("given for op \"{}\" (only for allreduce)", p.op));
    p.bytes = c.number("bytes", {.min = 0, .min_exclusive = true});
    p.metric = c.string_one_of("metric", {"busbw_GBps", "time_us"});
    p.published = c.number("published", {.min = 0, .min_exclusive = true});
    p.role = c.string_one_of("role", {"fit", "check"});
    p.tolerance = c.number("tolerance", {.min = 0, .max = 10});
    p.known_gap = c.string_or("known_gap", "");
    if (c.has("source")) p.source = c.raw().at("source").get<std::string>();
    c.finish();
    out.push_back(std::move(p));
  }
  root.finish();
  return out;
}

std::vector<CaseResult> run_published_cases(const std::vector<PublishedCase>& cases, const CostFactors& costs,
                                            const std::string& root_dir) {
  std::vector<CaseResult> out;
  for (const auto& c : cases) {
    std::string cluster = c.cluster;
    if (cluster.find('/') != std::string::npos && !std::filesystem::path(cluster).is_absolute())
      cluster = (std::filesystem::path(root_dir) / cluster).string();
    const Topology topo = load_cluster(cluster, c.nodes);
    const CollectiveOp op = c.op == "alltoall" ? CollectiveOp::AllToAll : c.op == "allreduce" ? CollectiveOp::AllReduce
                                                                                               : CollectiveOp::AllGather;
    const auto r = simulate_collective(
        topo, costs, op, c.bytes, {.allreduce_algorithm = *allreduce_algorithm_from_string(c.allreduce_algorithm)});
    const double predicted = c.metric == "time_us" ? r.time.us() : r.busbw_GBps;
    out.push_back({c, predicted, (predicted - c.published) / c.published});
  }
  return out;
}

}  // namespace moesim::validation
