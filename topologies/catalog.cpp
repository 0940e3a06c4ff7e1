#include "topologies/catalog.h"

#include <fmt/format.h>

#include "sim/error.h"
#include "sim/json_reader.h"

namespace moesim {

std::optional<double> GpuKindSpec::peak_flops(std::string_view dtype) const {
  auto it = peak_dense_flops.find(dtype);
  if (it == peak_dense_flops.end()) return std::nullopt;
  return it->second;
}

std::optional<double> read_bandwidth(JsonReader& r, std::string_view prefix) {
  const std::string GB = fmt::format("{}_GBps", prefix), Gb = fmt::format("{}_Gbps", prefix);
  const bool has_GB = r.has(GB), has_Gb = r.has(Gb);
  r.accept(GB);  // both are known keys here, even when absent
  r.accept(Gb);
  if (has_GB && has_Gb) throw r.error(Gb, fmt::format("give either {} or {}, not both", GB, Gb));
  const NumberRange positive{.min = 0, .min_exclusive = true};
  if (has_GB) return r.number(GB, positive) * 1e9;
  if (has_Gb) return r.number(Gb, positive) * 1e9 / 8;
  return std::nullopt;
}

namespace {

Time read_latency(JsonReader& r, std::string_view key) {
  return Time::from_seconds_ceil(r.number(key, {.min = 0}) * 1e-6);
}

std::string require_source(JsonReader& r) {
  if (!r.has("source")) throw r.error("source", "every catalog entry must cite its source (\"source\": \"...\")");
  return r.string("source");
}

void load_gpu(JsonReader& g, GpuKindSpec& out) {
  out.description = g.string("name");
  out.source = require_source(g);
  {
    auto peaks = g.object("peak_dense_TFLOPS");
    for (const auto* dtype : {"fp64", "fp32", "tf32", "bf16", "fp16", "fp8"})
      if (peaks.has(dtype)) out.peak_dense_flops[dtype] = peaks.number(dtype, {.min = 0, .min_exclusive = true}) * 1e12;
    peaks.finish();
  }
  out.memory_bytes = g.number("memory_GB", {.min = 0, .min_exclusive = true}) * 1e9;
  out.memory_bandwidth_Bps = g.number("memory_bandwidth_GBps", {.min = 0, .min_exclusive = true}) * 1e9;
  out.nvlink = g.string_or("nvlink", "");
  out.pcie = g.string("pcie");
  if (auto m = g.object_if("measured")) {
    out.measured_source = require_source(*m);
    for (auto it = m->raw().begin(); it != m->raw().end(); ++it) {
      if (it.key() == "source" || it.key() == "notes" || it.key() == "$comment") continue;
      out.measured[it.key()] = m->number(it.key(), {.min = 0, .min_exclusive = true});
    }
    m->finish();
  }
  g.finish();
}

void load_link(JsonReader& l, LinkKindSpec& out) {
  const auto cls = l.string_one_of("class", {"nvlink", "pcie", "host", "network"});
  out.link_class = cls == "nvlink" ? LinkClass::NVLink
                   : cls == "pcie" ? LinkClass::PCIe
                   : cls == "host" ? LinkClass::HostInterconnect
                                   : LinkClass::NetworkAccess;
  out.source = require_source(l);
  const auto bw = read_bandwidth(l, "bandwidth");
  if (!bw) throw l.error("bandwidth_GBps", "required key is missing (or give bandwidth_Gbps)");
  out.bandwidth_Bps = *bw;
  if (out.link_class == LinkClass::NVLink) {
    out.per_link_Bps = l.number("per_link_GBps", {.min = 0, .min_exclusive = true}) * 1e9;
    out.links_per_gpu = static_cast<int>(l.integer("links_per_gpu", {.min = 1, .max = 64}));
  }
  if (auto a = l.object_if("achievable")) {
    out.achievable_source = require_source(*a);
    out.achievable_Bps = read_bandwidth(*a, "bandwidth");
    if (!out.achievable_Bps) throw a->error("bandwidth_GBps", "required key is missing (or give bandwidth_Gbps)");
    if (*out.achievable_Bps > out.bandwidth_Bps) throw a->error_here("achievable bandwidth exceeds the spec bandwidth");
    a->finish();
  }
  if (l.has("nvls") && out.link_class != LinkClass::NVLink)
    throw l.error("nvls", "only NVLink link kinds (\"class\": \"nvlink\") can support NVLink SHARP");
  if (auto n = l.object_if("nvls")) {
    out.nvls = n->boolean("supported");
    out.nvls_source = require_source(*n);
    n->finish();
  }
  auto lat = l.object("latency");
  out.latency_source = require_source(lat);
  out.latency = read_latency(lat, "latency_us");
  lat.finish();
  l.finish();
}

void load_nic(JsonReader& n, NicKindSpec& out) {
  out.link = n.string("link");
  out.ports = static_cast<int>(n.integer_or("ports", 1, {.min = 1, .max = 64}));
  const auto t = n.string_one_of("transport", {"efa", "infiniband", "roce"});
  out.transport = *transport_from_string(t);
  out.source = require_source(n);
  n.finish();
}

template <typename Map>
std::vector<std::string> keys(const Map& m) {
  std::vector<std::string> out;
  for (const auto& [k, v] : m) out.push_back(k);
  return out;
}

}  // namespace

Catalog Catalog::from_files(std::span<const EmbeddedFile> files) {
  Catalog c;
  std::vector<std::pair<std::string, std::string>> nic_links;  // validated after all files
  for (const auto& f : files) {
    const std::string label = fmt::format("catalog {}", f.name);
    const auto json = JsonReader::parse_text(f.contents, label);
    JsonReader root(json, label);
    if (root.has("gpus"))
      for (auto& [name, r] : root.members("gpus")) {
        auto& g = c.gpus_[name];
        g.name = name;
        load_gpu(r, g);
      }
    if (root.has("links"))
      for (auto& [name, r] : root.members("links")) {
        auto& l = c.links_[name];
        l.name = name;
        load_link(r, l);
      }
    if (root.has("nics"))
      for (auto& [name, r] : root.members("nics")) {
        auto& n = c.nics_[name];
        n.name = name;
        load_nic(r, n);
      }
    root.finish();
  }
  // Cross references.
  for (const auto& [name, g] : c.gpus_) {
    if (!g.nvlink.empty() && (!c.find_link(g.nvlink) || c.links_.at(g.nvlink).link_class != LinkClass::NVLink))
      throw InputError(fmt::format("catalog: GPU kind {} names unknown NVLink kind \"{}\"", name, g.nvlink));
    if (!c.find_link(g.pcie) || c.links_.at(g.pcie).link_class != LinkClass::PCIe)
      throw InputError(fmt::format("catalog: GPU kind {} names unknown PCIe kind \"{}\"", name, g.pcie));
  }
  for (const auto& [name, n] : c.nics_)
    if (!c.find_link(n.link) || c.links_.at(n.link).link_class != LinkClass::NetworkAccess)
      throw InputError(fmt::format("catalog: NIC kind {} names unknown network link kind \"{}\"", name, n.link));
  return c;
}

Catalog Catalog::embedded() { return from_files(topologies::embedded_catalog()); }

const GpuKindSpec* Catalog::find_gpu(std::string_view name) const {
  auto it = gpus_.find(name);
  return it == gpus_.end() ? nullptr : &it->second;
}
const LinkKindSpec* Catalog::find_link(std::string_view name) const {
  auto it = links_.find(name);
  return it == links_.end() ? nullptr : &it->second;
}
const NicKindSpec* Catalog::find_nic(std::string_view name) const {
  auto it = nics_.find(name);
  return it == nics_.end() ? nullptr : &it->second;
}

const GpuKindSpec& Catalog::gpu(std::string_view name) const {
  if (auto* g = find_gpu(name)) return *g;
  throw InputError(fmt::format("unknown GPU kind \"{}\" (known: {})", name, fmt::join(gpu_names(), ", ")));
}
const LinkKindSpec& Catalog::link(std::string_view name) const {
  if (auto* l = find_link(name)) return *l;
  throw InputError(fmt::format("unknown link kind \"{}\" (known: {})", name, fmt::join(link_names(), ", ")));
}
const NicKindSpec& Catalog::nic(std::string_view name) const {
  if (auto* n = find_nic(name)) return *n;
  throw InputError(fmt::format("unknown NIC kind \"{}\" (known: {})", name, fmt::join(nic_names(), ", ")));
}

std::vector<std::string> Catalog::gpu_names() const { return keys(gpus_); }
std::vector<std::string> Catalog::nic_names() const { return keys(nics_); }
std::vector<std::string> Catalog::link_names(std::optional<LinkClass> only) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : links_)
    if (!only || v.link_class == *only) out.push_back(k);
  return out;
}

}  // namespace moesim
