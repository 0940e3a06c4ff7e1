#include "validation/measurements.h"

#include <fstream>

#include "sim/error.h"
#include "sim/json_reader.h"

namespace moesim::validation {
namespace {

// Ranges spelled out in full (designated initializers that skip members warn under -Wextra).
NumberRange at_least(double min) { return NumberRange{.min = min, .max = std::nullopt, .min_exclusive = false}; }
NumberRange in_range(double min, double max) { return NumberRange{.min = min, .max = max, .min_exclusive = false}; }
const NumberRange kNonNegative = at_least(0);
const NumberRange kPositive{.min = 0, .max = std::nullopt, .min_exclusive = true};
const NumberRange kAtLeastOne = at_least(1);
constexpr double kMaxCount = 1 << 24;  // ranks, nodes, GPUs: far above any cluster
constexpr double kMaxReps = 1e9;

std::vector<std::string> op_names() {
  std::vector<std::string> out;
  for (auto op : kAllCollectiveOps) out.emplace_back(to_string(op));
  return out;
}

std::optional<std::int64_t> optional_integer(JsonReader& r, std::string_view key, NumberRange range) {
  if (!r.has(key)) {
    r.accept(key);
    return std::nullopt;
  }
  return r.integer(key, range);
}

std::optional<double> optional_number(JsonReader& r, std::string_view key, NumberRange range) {
  if (!r.has(key)) {
    r.accept(key);
    return std::nullopt;
  }
  return r.number(key, range);
}

std::string non_empty_string(JsonReader& r, std::string_view key) {
  auto s = r.string(key);
  if (s.empty()) throw r.error(key, "must be a non-empty string");
  return s;
}

int to_int(std::int64_t v) { return static_cast<int>(v); }

std::optional<TimeSpread> read_spread(JsonReader& r, const double median_us) {
  auto s = r.object_if("time_spread_us");
  if (!s) return std::nullopt;
  TimeSpread t{.min_us = s->number("min", kNonNegative),
               .p10_us = s->number("p10", kNonNegative),
               .p90_us = s->number("p90", kNonNegative),
               .max_us = s->number("max", kNonNegative)};
  s->finish();
  if (!(t.min_us <= t.p10_us && t.p10_us <= t.p90_us && t.p90_us <= t.max_us))
    throw s->error_here("must satisfy min <= p10 <= p90 <= max");
  if (median_us < t.min_us || median_us > t.max_us)
    throw r.error("time_us", "the median must lie within time_spread_us [min, max]");
  return t;
}

std::vector<std::string> read_string_array(JsonReader& r, std::string_view key) {
  r.accept(key);
  std::vector<std::string> out;
  if (!r.has(key)) return out;
  const auto& j = r.raw()[std::string(key)];
  if (!j.is_array()) throw r.error(key, "expected an array of strings");
  for (std::size_t i = 0; i < j.size(); ++i) {
    if (!j[i].is_string())
      throw ConfigError(r.file(), fmt::format("{}/{}", r.path_of(key), i), "expected a string");
    out.push_back(j[i].get<std::string>());
  }
  return out;
}

HardwareInfo read_hardware(JsonReader h) {
  HardwareInfo hw;
  hw.gpu_name = h.string_or("gpu_name", "");
  hw.gpu_count = to_int(h.integer_or("gpu_count", 0, in_range(0, kMaxCount)));
  hw.driver = h.string_or("driver", "");
  hw.cuda_version = h.string_or("cuda_version", "");
  hw.nccl_version = h.string_or("nccl_version", "");
  if (auto c = h.object_if("clocks")) {
    hw.clocks.sm_MHz = optional_number(*c, "sm_MHz", kPositive);
    hw.clocks.memory_MHz = optional_number(*c, "memory_MHz", kPositive);
    c->finish();
  }
  hw.topology_text = h.string_or("topology_text", "");
  hw.hostname = h.string_or("hostname", "");
  hw.date = h.string_or("date", "");
  hw.compute_capability = h.string_or("compute_capability", "");
  if (auto v = optional_integer(h, "sm_count", kAtLeastOne)) hw.sm_count = to_int(*v);
  hw.memory_bytes = optional_integer(h, "memory_bytes", kPositive);
  h.finish();
  return hw;
}

CollectiveMeasurement read_collective(JsonReader c) {
  CollectiveMeasurement m;
  m.op = *collective_op_from_string(c.string_one_of("op", op_names()));
  m.ranks = to_int(c.integer("ranks", in_range(1, kMaxCount)));
  if (auto v = optional_integer(c, "nodes", in_range(1, kMaxCount))) {
    if (*v > m.ranks) throw c.error("nodes", fmt::format("{} nodes cannot hold only {} ranks", *v, m.ranks));
    m.nodes = to_int(*v);
  }
  m.bytes = c.integer("bytes", kNonNegative);
  m.count = optional_integer(c, "count", kNonNegative);
  m.dtype = non_empty_string(c, "dtype");
  m.redop = c.string_or("redop", "none");
  if (m.redop.empty()) throw c.error("redop", "must be a non-empty string (\"none\" when there is no reduction)");
  if (auto v = optional_integer(c, "root", in_range(-1, kMaxCount))) m.root = to_int(*v);
  m.in_place = c.boolean_or("in_place", false);
  m.time_us = c.number("time_us", kNonNegative);
  m.algbw_GBps = c.number("algbw_GBps", kNonNegative);
  m.busbw_GBps = c.number("busbw_GBps", kNonNegative);
  m.wrong = optional_integer(c, "wrong", kNonNegative);
  c.finish();
  return m;
}

GemmMeasurement read_gemm(JsonReader g) {
  GemmMeasurement m;
  m.m = g.integer("m", kAtLeastOne);
  m.n = g.integer("n", kAtLeastOne);
  m.k = g.integer("k", kAtLeastOne);
  m.dtype = g.string_one_of("dtype", gemm_dtypes());
  m.time_us = g.number("time_us", kPositive);
  m.spread = read_spread(g, m.time_us);
  m.reps = to_int(g.integer("reps", in_range(1, kMaxReps)));
  if (auto v = optional_integer(g, "iterations_per_rep", in_range(1, kMaxReps))) m.iterations_per_rep = to_int(*v);
  m.tflops = g.number("tflops", kNonNegative);
  g.finish();
  return m;
}

KernelMeasurement read_kernel(JsonReader k) {
  KernelMeasurement m;
  m.name = k.string_one_of("name", kernel_names());
  k.accept("params");
  if (k.has("params")) {
    const auto& p = k.raw()["params"];
    if (!p.is_object()) throw k.error("params", "expected an object of integer size parameters");
    for (auto it = p.begin(); it != p.end(); ++it) {
      if (!it.value().is_number_integer())
        throw ConfigError(k.file(), k.path_of("params") + "/" + json_pointer_escape(it.key()),
                          fmt::format("expected an integer, found {}", it.value().dump()));
      m.params.emplace(it.key(), it.value().get<std::int64_t>());
    }
  }
  m.bytes = k.integer("bytes", kNonNegative);
  m.time_us = k.number("time_us", kPositive);
  m.spread = read_spread(k, m.time_us);
  m.reps = to_int(k.integer_or("reps", 1, in_range(1, kMaxReps)));
  k.finish();
  return m;
}

void put_spread(nlohmann::ordered_json& j, const std::optional<TimeSpread>& s) {
  if (!s) return;
  j["time_spread_us"] = {{"min", s->min_us}, {"p10", s->p10_us}, {"p90", s->p90_us}, {"max", s->max_us}};
}

template <typename T>
void put_optional(nlohmann::ordered_json& j, const char* key, const std::optional<T>& v) {
  if (v) j[key] = *v;
}

void put_non_empty(nlohmann::ordered_json& j, const char* key, const std::string& v) {
  if (!v.empty()) j[key] = v;
}

}  // namespace

std::string_view to_string(CollectiveOp op) {
  switch (op) {
    case CollectiveOp::AllToAll: return "alltoall";
    case CollectiveOp::AllReduce: return "allreduce";
    case CollectiveOp::AllGather: return "allgather";
    case CollectiveOp::ReduceScatter: return "reducescatter";
    case CollectiveOp::SendRecv: return "sendrecv";
    case CollectiveOp::Broadcast: return "broadcast";
    case CollectiveOp::Reduce: return "reduce";
  }
  return "?";
}

std::optional<CollectiveOp> collective_op_from_string(std::string_view s) {
  for (auto op : kAllCollectiveOps)
    if (to_string(op) == s) return op;
  return std::nullopt;
}

double busbw_factor(CollectiveOp op, int ranks) {
  MOESIM_CHECK(ranks >= 1, "ranks = {}", ranks);
  const double n = ranks;
  switch (op) {
    case CollectiveOp::AllReduce: return 2.0 * (n - 1) / n;
    case CollectiveOp::AllGather:
    case CollectiveOp::ReduceScatter:
    case CollectiveOp::AllToAll: return (n - 1) / n;
    case CollectiveOp::SendRecv:
    case CollectiveOp::Broadcast:
    case CollectiveOp::Reduce: return 1.0;
  }
  return 1.0;
}

const std::vector<std::string>& gemm_dtypes() {
  static const std::vector<std::string> names = {"fp32", "tf32", "fp16", "bf16", "fp8_e4m3", "fp8_e5m2"};
  return names;
}

const std::vector<std::string>& kernel_names() {
  static const std::vector<std::string> names = {"gate_softmax_topk", "permute", "unpermute",
                                                 "hbm_copy",          "h2d",     "d2h"};
  return names;
}

MeasurementSet measurements_from_json(const nlohmann::json& root, const std::string& label) {
  JsonReader r(root, label);
  const auto format = r.string("format");
  if (format != kMeasurementFormat)
    throw r.error("format", fmt::format("expected \"{}\", found \"{}\"", kMeasurementFormat, format));
  const auto version = r.integer("version");
  if (version != kMeasurementFormatVersion)
    throw r.error("version", fmt::format("unsupported version {}: this moesim reads version {}", version,
                                         kMeasurementFormatVersion));
  MeasurementSet set;
  if (auto h = r.object_if("hardware")) set.hardware = read_hardware(std::move(*h));
  if (auto s = r.object_if("source")) {
    set.source.tool = s->string_or("tool", "");
    set.source.file = s->string_or("file", "");
    s->finish();
  }
  if (r.has("collectives"))
    for (auto& c : r.objects("collectives")) set.collectives.push_back(read_collective(std::move(c)));
  else
    r.accept("collectives");
  if (r.has("gemms"))
    for (auto& g : r.objects("gemms")) set.gemms.push_back(read_gemm(std::move(g)));
  else
    r.accept("gemms");
  if (r.has("kernels"))
    for (auto& k : r.objects("kernels")) set.kernels.push_back(read_kernel(std::move(k)));
  else
    r.accept("kernels");
  set.notes = read_string_array(r, "notes");
  r.finish();
  return set;
}

MeasurementSet read_measurements_text(std::string_view text, const std::string& label) {
  const auto root = JsonReader::parse_text(text, label);
  return measurements_from_json(root, label);
}

MeasurementSet read_measurements_file(const std::string& path) {
  const auto root = JsonReader::parse_file(path);
  return measurements_from_json(root, path);
}

nlohmann::ordered_json to_json(const MeasurementSet& set) {
  using J = nlohmann::ordered_json;
  J root;
  root["format"] = kMeasurementFormat;
  root["version"] = kMeasurementFormatVersion;

  const auto& h = set.hardware;
  J hw = J::object();
  put_non_empty(hw, "gpu_name", h.gpu_name);
  if (h.gpu_count != 0) hw["gpu_count"] = h.gpu_count;
  put_non_empty(hw, "driver", h.driver);
  put_non_empty(hw, "cuda_version", h.cuda_version);
  put_non_empty(hw, "nccl_version", h.nccl_version);
  if (h.clocks.sm_MHz || h.clocks.memory_MHz) {
    J c = J::object();
    put_optional(c, "sm_MHz", h.clocks.sm_MHz);
    put_optional(c, "memory_MHz", h.clocks.memory_MHz);
    hw["clocks"] = c;
  }
  put_non_empty(hw, "compute_capability", h.compute_capability);
  put_optional(hw, "sm_count", h.sm_count);
  put_optional(hw, "memory_bytes", h.memory_bytes);
  put_non_empty(hw, "hostname", h.hostname);
  put_non_empty(hw, "date", h.date);
  put_non_empty(hw, "topology_text", h.topology_text);
  root["hardware"] = hw;

  J src = J::object();
  put_non_empty(src, "tool", set.source.tool);
  put_non_empty(src, "file", set.source.file);
  root["source"] = src;

  J cs = J::array();
  for (const auto& c : set.collectives) {
    J j;
    j["op"] = to_string(c.op);
    j["ranks"] = c.ranks;
    put_optional(j, "nodes", c.nodes);
    j["bytes"] = c.bytes;
    put_optional(j, "count", c.count);
    j["dtype"] = c.dtype;
    j["redop"] = c.redop;
    put_optional(j, "root", c.root);
    j["in_place"] = c.in_place;
    j["time_us"] = c.time_us;
    j["algbw_GBps"] = c.algbw_GBps;
    j["busbw_GBps"] = c.busbw_GBps;
    put_optional(j, "wrong", c.wrong);
    cs.push_back(std::move(j));
  }
  root["collectives"] = std::move(cs);

  J gs = J::array();
  for (const auto& g : set.gemms) {
    J j;
    j["m"] = g.m;
    j["n"] = g.n;
    j["k"] = g.k;
    j["dtype"] = g.dtype;
    j["time_us"] = g.time_us;
    put_spread(j, g.spread);
    j["reps"] = g.reps;
    put_optional(j, "iterations_per_rep", g.iterations_per_rep);
    j["tflops"] = g.tflops;
    gs.push_back(std::move(j));
  }
  root["gemms"] = std::move(gs);

  J ks = J::array();
  for (const auto& k : set.kernels) {
    J j;
    j["name"] = k.name;
    J p = J::object();
    for (const auto& [name, v] : k.params) p[name] = v;
    j["params"] = std::move(p);
    j["bytes"] = k.bytes;
    j["time_us"] = k.time_us;
    put_spread(j, k.spread);
    j["reps"] = k.reps;
    ks.push_back(std::move(j));
  }
  root["kernels"] = std::move(ks);
  if (!set.notes.empty()) root["notes"] = set.notes;
  return root;
}

std::string write_measurements_text(const MeasurementSet& set) {
  auto text = to_json(set).dump(2) + "\n";
  // Check the schema by reading back what we wrote: a writer can never produce a file its
  // reader rejects.
  (void)read_measurements_text(text, "<measurements being written>");
  return text;
}

void write_measurements_file(const MeasurementSet& set, const std::string& path) {
  const auto text = write_measurements_text(set);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw ConfigError(path, "", "cannot open file for writing");
  out << text;
  out.close();
  if (!out) throw ConfigError(path, "", "write failed");
}

}  // namespace moesim::validation
