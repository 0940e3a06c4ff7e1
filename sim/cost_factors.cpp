#include "sim/cost_factors.h"

#include <cmath>
#include <limits>

#include "sim/embedded.h"
#include "sim/error.h"
#include "sim/json_reader.h"

namespace moesim::embedded {
std::span<const EmbeddedFile> sim_data();  // generated from sim/data/*.json
}

namespace moesim {

const ProtocolCost* TransportCost::find(std::string_view name) const {
  for (const auto& p : protocols)
    if (p.name == name) return &p;
  return nullptr;
}

const ProtocolCost& TransportCost::choose(double bytes, double capacity_Bps) const {
  MOESIM_CHECK(!protocols.empty(), "transport has no protocol");
  const ProtocolCost* best = &protocols.front();
  double best_t = std::numeric_limits<double>::infinity();
  for (const auto& p : protocols) {
    const double t = p.overhead.seconds() + bytes / (p.efficiency * capacity_Bps);
    if (t < best_t) {
      best_t = t;
      best = &p;
    }
  }
  return *best;
}

namespace {

// No overheads, full efficiency, unbounded concurrency, and nothing read from the defaults.
CostFactors bare_ideal() {
  CostFactors cf;
  for (auto t : kAllTransports)
    cf.transport(t).protocols = {ProtocolCost{.name = "ideal", .overhead = Time::zero(), .efficiency = 1.0}};
  cf.collective().alltoall_max_peers_in_flight = 0;
  return cf;
}

std::vector<std::string> transport_names() {
  std::vector<std::string> names;
  for (auto t : kAllTransports) names.emplace_back(to_string(t));
  return names;
}

// Reads `text` over `cf`: transports named in the file replace cf's; others are kept.
void overlay(CostFactors& cf, std::string_view text, const std::string& label) {
  const auto doc = JsonReader::parse_text(text, label);
  JsonReader root(doc, label);
  if (auto tr = root.object_if("transports")) {
    for (auto& [name, tj] : root.members("transports")) {
      const auto t = transport_from_string(name);
      if (!t)
        throw tj.error_here(fmt::format("unknown transport \"{}\": expected one of {}", name, fmt::join(transport_names(), ", ")));
      TransportCost cost;
      for (JsonReader pj : tj.objects("protocols")) {
        ProtocolCost p;
        p.name = pj.string("name");
        p.overhead = Time::from_seconds_ceil(pj.number("overhead_us", {.min = 0, .max = 1e6}) * 1e-6);
        p.efficiency = pj.number("efficiency", {.min = 0, .max = 1, .min_exclusive = true});
        pj.finish();
        cost.protocols.push_back(std::move(p));
      }
      if (cost.protocols.empty()) throw tj.error("protocols", "needs at least one protocol");
      tj.finish();
      cf.transport(*t) = std::move(cost);
    }
  }
  if (auto nj = root.object_if("network")) {
    cf.network().completion_window =
        Time::from_seconds_ceil(nj->number_or("completion_window_ns",
                                              static_cast<double>(cf.network().completion_window.ps()) * 1e-3,
                                              {.min = 0, .max = 1e9}) *
                                1e-9);
    nj->finish();
  }
  if (auto cj = root.object_if("collective")) {
    cf.collective().alltoall_max_peers_in_flight = static_cast<int>(
        cj->integer_or("alltoall_max_peers_in_flight", cf.collective().alltoall_max_peers_in_flight, {.min = 0, .max = 1 << 20}));
    cf.collective().pxn = cj->boolean_or("pxn", cf.collective().pxn);
    cf.collective().allreduce_tree_chunk_bytes = cj->number_or(
        "allreduce_tree_chunk_bytes", cf.collective().allreduce_tree_chunk_bytes, {.min = 0, .max = 1e12});
    cf.collective().allreduce_tree_max_chunks = static_cast<int>(cj->integer_or(
        "allreduce_tree_max_chunks", cf.collective().allreduce_tree_max_chunks, {.min = 0, .max = 1 << 16}));
    cf.collective().nvls_protocol = cj->string_or("nvls_protocol", cf.collective().nvls_protocol);
    if (!cf.collective().nvls_protocol.empty() && !cf.transport(Transport::NVLink).find(cf.collective().nvls_protocol)) {
      std::vector<std::string> names;
      for (const auto& pr : cf.transport(Transport::NVLink).protocols) names.push_back(pr.name);
      throw cj->error("nvls_protocol", fmt::format("\"{}\" is not a protocol of the nvlink transport (known: {})",
                                                   cf.collective().nvls_protocol, fmt::join(names, ", ")));
    }
    cj->finish();
  }
  // Sections owned by other layers (compute, calibration provenance) may live in the same
  // calibration file; they are read by their own loaders.
  root.accept("compute");
  root.accept("fit");
  root.accept("hardware");
  root.finish();
}

std::string_view default_text() {
  for (const auto& f : embedded::sim_data())
    if (f.name == "cost_factors") return f.contents;
  throw InvariantError("embedded cost_factors.json is missing from the build");
}

}  // namespace

CostFactors CostFactors::ideal() {
  CostFactors cf = bare_ideal();
  const CostFactors d = defaults();
  cf.collective().allreduce_tree_chunk_bytes = d.collective().allreduce_tree_chunk_bytes;
  cf.collective().allreduce_tree_max_chunks = d.collective().allreduce_tree_max_chunks;
  cf.origin_ = "ideal (no overheads, full efficiency)";
  return cf;
}

CostFactors CostFactors::defaults() {
  CostFactors cf = bare_ideal();
  overlay(cf, default_text(), "embedded cost_factors.json");
  for (auto t : kAllTransports)
    MOESIM_CHECK(!cf.transport(t).protocols.empty(), "embedded defaults lack transport {}", to_string(t));
  cf.origin_ = "embedded defaults (sim/data/cost_factors.json)";
  return cf;
}

CostFactors CostFactors::load_text(std::string_view text, const std::string& label) {
  CostFactors cf = defaults();
  overlay(cf, text, label);
  cf.origin_ = label;
  return cf;
}

CostFactors CostFactors::load_file(const std::string& path) {
  std::string text;
  {
    const auto doc = JsonReader::parse_file(path);  // clear error for a missing/bad file
    text = doc.dump();
  }
  return load_text(text, path);
}

}  // namespace moesim
