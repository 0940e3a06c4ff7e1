// moesim sweep: grid description, validation, point keys and the simulation of one point
// (tools/sweep.h).
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <new>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "models/strategy.h"
#include "sim/error.h"
#include "sim/json_reader.h"
#include "tools/memory_limit.h"
#include "tools/run_setup.h"
#include "tools/sweep.h"
#include "validation/calibrate.h"
#include "topologies/cluster_loader.h"

namespace moesim::sweep {

namespace {

// Largest grid accepted (a typo such as --nodes 1:1000000000 should not allocate forever).
constexpr std::size_t kMaxPoints = 100'000'000;

AxisKind kind_of(const std::string& name) {
  if (name == "cluster") return AxisKind::Cluster;
  if (name == "nodes") return AxisKind::Nodes;
  if (name == "gpus_per_node") return AxisKind::GpusPerNode;
  if (name == "nics_per_node") return AxisKind::NicsPerNode;
  if (name.rfind("cluster/", 0) == 0) return AxisKind::ClusterPointer;
  if (name == "model") return AxisKind::Model;
  if (name == "seed") return AxisKind::Seed;
  if (name == "strategy") return AxisKind::Strategy;
  if (name.rfind("strategy.", 0) == 0) return AxisKind::StrategyParam;
  return AxisKind::ModelKey;
}

bool has_control_chars(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

// Canonical text and JSON of one axis value.
AxisValue canonical_value(const nlohmann::json& v, const std::string& axis) {
  if (v.is_number_integer()) {
    const std::string t = v.dump();
    return {t, t};
  }
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (!std::isfinite(d)) throw InputError(fmt::format("axis {}: {} is not a finite number", axis, v.dump()));
    std::string t = (d == std::floor(d) && std::fabs(d) < 9007199254740992.0)
                        ? fmt::format("{}", static_cast<std::int64_t>(d))
                        : format_double(d);
    return {t, t};
  }
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    if (s.empty()) throw InputError(fmt::format("axis {}: empty value", axis));
    if (has_control_chars(s))
      throw InputError(fmt::format("axis {}: value {} has a control character", axis, v.dump()));
    return {s, v.dump()};
  }
  if (v.is_null()) throw InputError(fmt::format("axis {}: null is not a value", axis));
  const std::string t = v.dump();
  return {t, t};
}

std::int64_t integer_value(const AxisValue& v, const std::string& axis, std::int64_t min, std::int64_t max) {
  char* end = nullptr;
  const long long x = std::strtoll(v.text.c_str(), &end, 10);
  if (v.text.empty() || end != v.text.c_str() + v.text.size() || x < min || x > max)
    throw InputError(fmt::format("axis {}: \"{}\" is not an integer in [{}, {}]", axis, v.text, min, max));
  return x;
}

std::uint64_t seed_value(const AxisValue& v) {
  char* end = nullptr;
  if (v.text.empty() || v.text.front() == '-')
    throw InputError(fmt::format("axis seed: \"{}\" is not an integer >= 0", v.text));
  const unsigned long long x = std::strtoull(v.text.c_str(), &end, 10);
  if (end != v.text.c_str() + v.text.size())
    throw InputError(fmt::format("axis seed: \"{}\" is not an integer >= 0", v.text));
  return x;
}

std::string escape_key_part(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '%' || c == ';' || c == '=')
      out += fmt::format("%{:02X}", static_cast<unsigned>(static_cast<unsigned char>(c)));
    else
      out += c;
  }
  return out;
}

std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  return s;
}

std::uint64_t fnv1a64(std::string_view s) {
  std::uint64_t h = 14695981039346656037ull;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

std::string read_text_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw InputError(fmt::format("{}: cannot open", path));
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// A cluster or model value that names a file relative to the grid file resolves against the
// grid file's directory.
std::string resolve(const std::string& value, const std::string& base_dir, bool is_preset) {
  if (is_preset || base_dir.empty() || base_dir == "." || std::filesystem::path(value).is_absolute()) return value;
  return (std::filesystem::path(base_dir) / value).string();
}

bool is_model_preset(const std::string& name) {
  const auto names = model_preset_names();
  return std::find(names.begin(), names.end(), name) != names.end();
}

// "/a/b" for the model key "a.b" (where apply_overrides reports an unknown key).
std::string model_key_pointer(const std::string& key) {
  std::string p = "/";
  for (char c : key) p += c == '.' ? '/' : c;
  return p;
}

struct Shape {
  int gpus = 0;
  int switches = 0;
  int nics = 0;
};

// --- gpus_per_node / nics_per_node: reshape the one node kind of a cluster description ------
// The kind keeps its GPU kind, NVSwitch, sockets and NIC kind; its PCIe tree becomes C equal
// switches (C = the largest number not above its switches holding GPUs that divides both the
// GPUs and the NICs) with the NICs spread evenly; an explicit gpu_nic is dropped.
void reshape_node_kind(nlohmann::json& d, std::optional<int> gpus, std::optional<int> nics, const std::string& label) {
  auto& kinds = d.at("node_kinds");
  if (!kinds.is_object() || kinds.size() != 1) {
    std::vector<std::string> names;
    for (auto it = kinds.begin(); it != kinds.end(); ++it) names.push_back(it.key());
    throw InputError(
        fmt::format("{}: gpus_per_node and nics_per_node need a cluster with one node kind; it has {} ({}): "
                    "edit the file or sweep cluster files instead",
                    label, names.size(), fmt::join(names, ", ")));
  }
  const std::string kind_name = kinds.begin().key();
  auto& k = kinds.begin().value();
  if (k.value("type", "") == "nvlink_mesh")
    throw InputError(
        fmt::format("{}: node kind {} is an nvlink_mesh (its NVLink pairs name GPUs): gpus_per_node and "
                    "nics_per_node cannot reshape it",
                    label, kind_name));
  Shape now;
  now.gpus = k.at("gpus").get<int>();
  const auto& ps = k.at("pcie_switches");
  if (ps.is_object()) {
    now.switches = ps.at("count").get<int>();
    now.nics = now.switches * ps.value("nics_per_switch", 0);
  } else {
    for (const auto& s : ps) {
      if (s.contains("gpus") && !s.at("gpus").empty()) ++now.switches;
      now.nics += s.value("nics", 0);
    }
  }
  const int g = gpus.value_or(now.gpus);
  const int n = nics.value_or(now.nics);
  if (g == now.gpus && n == now.nics) return;
  int c = 1;
  for (int x = std::max(now.switches, 1); x >= 1; --x)
    if (g % x == 0 && (n == 0 || n % x == 0)) {
      c = x;
      break;
    }
  k["gpus"] = g;
  k["pcie_switches"] = {{"count", c}, {"nics_per_switch", n / c}};
  k.erase("gpu_nic");
  if (n == 0) {
    k.erase("nic");
    k.erase("nic_bandwidth_Gbps");
    k.erase("nic_bandwidth_GBps");
  } else if (!k.contains("nic")) {
    throw InputError(
        fmt::format("{}: node kind {} has no NIC kind: add \"nic\" to reshape it to {} NICs", label, kind_name, n));
  }
}

}  // namespace

std::string_view to_string(PointResult::Status s) {
  switch (s) {
    case PointResult::Status::Ok:
      return "ok";
    case PointResult::Status::Error:
      return "error";
    case PointResult::Status::InternalError:
      return "internal_error";
  }
  return "?";
}

std::string format_double(double v) {
  if (!std::isfinite(v)) return std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
  return fmt::format("{}", v);
}

// ---- value lists and grid files -----------------------------------------------------------

std::vector<nlohmann::json> parse_value_list(const std::string& text, const std::string& option) {
  std::vector<nlohmann::json> out;
  auto as_json = [](const std::string& item) -> nlohmann::json {
    auto v = nlohmann::json::parse(item, nullptr, false);
    if (!v.is_discarded() && v.is_number()) return v;
    return item;
  };
  std::size_t start = 0;
  while (true) {
    const auto comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    while (!item.empty() && item.back() == ' ') item.pop_back();
    while (!item.empty() && item.front() == ' ') item.erase(item.begin());
    if (item.empty()) throw InputError(fmt::format("{} \"{}\": empty item in the list", option, text));
    const auto colon = item.find(':');
    if (colon != std::string::npos && item.find('/') == std::string::npos) {
      const std::string lo_text = item.substr(0, colon), hi_text = item.substr(colon + 1);
      char* e1 = nullptr;
      char* e2 = nullptr;
      const long long lo = std::strtoll(lo_text.c_str(), &e1, 10), hi = std::strtoll(hi_text.c_str(), &e2, 10);
      if (lo_text.empty() || hi_text.empty() || *e1 || *e2 || lo < 1 || hi < lo)
        throw InputError(fmt::format(
            "{} \"{}\": a range is MIN:MAX with integers 1 <= MIN <= MAX (powers of two times MIN)", option, item));
      for (long long v = lo; v <= hi; v *= 2) {
        out.emplace_back(v);
        if (out.size() > 100000) throw InputError(fmt::format("{} \"{}\": too many values", option, item));
      }
    } else {
      out.push_back(as_json(item));
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

GridSpec parse_grid(const nlohmann::json& root, const std::string& file_label) {
  JsonReader r(root, file_label);
  GridSpec spec;
  spec.baseline = r.string_or("baseline", "switch");
  spec.distinct_layer_plans = static_cast<int>(r.integer_or("distinct_layer_plans", 0, {.min = 0, .max = 100000}));
  spec.fidelity = r.string_or("fidelity", "flow");
  if (!fidelity_from_string(spec.fidelity)) throw r.error("fidelity", "expected \"flow\" or \"fluid\"");
  spec.ideal = r.boolean_or("ideal", false);
  spec.calibration = r.string_or("calibration", "");
  if (spec.ideal && !spec.calibration.empty())
    throw r.error("calibration", "give either \"ideal\": true or \"calibration\", not both");

  auto values_of = [&](const nlohmann::json& v, const std::string& path) {
    std::vector<nlohmann::json> vals;
    if (v.is_array()) {
      if (v.empty()) throw ConfigError(file_label, path, "an axis needs at least one value");
      for (std::size_t i = 0; i < v.size(); ++i) {
        if (v[i].is_null()) throw ConfigError(file_label, fmt::format("{}/{}", path, i), "null is not a value");
        vals.push_back(v[i]);
      }
    } else if (v.is_null() || v.is_object()) {
      throw ConfigError(file_label, path,
                        fmt::format("expected a value or an array of values, found {}", v.type_name()));
    } else {
      vals.push_back(v);
    }
    return vals;
  };
  // Top-level shorthands: a fixed value (or a list) of the main axes.
  for (const char* name : {"cluster", "model", "nodes", "gpus_per_node", "nics_per_node", "seed", "strategy"}) {
    if (!r.has(name)) {
      r.accept(name);
      continue;
    }
    r.accept(name);
    spec.axes.emplace_back(name, values_of(root.at(name), r.path_of(name)));
  }
  if (r.has("axes")) {
    r.accept("axes");
    const auto& axes = root.at("axes");
    if (!axes.is_object())
      throw r.error("axes", fmt::format("expected an object {{\"axis name\": [values]}}, found {}", axes.type_name()));
    for (auto it = axes.begin(); it != axes.end(); ++it) {
      const std::string path = fmt::format("{}/{}", r.path_of("axes"), json_pointer_escape(it.key()));
      if (std::any_of(spec.axes.begin(), spec.axes.end(), [&](const auto& a) { return a.first == it.key(); }))
        throw ConfigError(file_label, path,
                          fmt::format("\"{}\" is also given at the top level: give it once", it.key()));
      if (it.key() == "experts") throw ConfigError(file_label, path, "the model key is num_experts");
      spec.axes.emplace_back(it.key(), values_of(it.value(), path));
    }
  } else {
    r.accept("axes");
  }
  if (r.has("set")) {
    r.accept("set");
    const auto& set = root.at("set");
    if (!set.is_object())
      throw r.error("set", fmt::format("expected an object {{\"key\": value}}, found {}", set.type_name()));
    for (auto it = set.begin(); it != set.end(); ++it) {
      if (it.value().is_null())
        throw ConfigError(file_label, fmt::format("/set/{}", json_pointer_escape(it.key())), "null is not a value");
      spec.fixed.emplace_back(it.key(), it.value().is_string() ? it.value().get<std::string>() : it.value().dump());
    }
  } else {
    r.accept("set");
  }
  r.finish();
  return spec;
}

GridSpec load_grid_file(const std::string& path) {
  GridSpec spec = parse_grid(JsonReader::parse_file(path), path);
  spec.base_dir = std::filesystem::path(path).parent_path().string();
  if (!spec.calibration.empty()) spec.calibration = resolve(spec.calibration, spec.base_dir, false);
  return spec;
}

// ---- the grid -----------------------------------------------------------------------------

Grid Grid::plan(const GridSpec& spec) {
  Grid g;
  g.baseline_ = spec.baseline;
  g.distinct_layer_plans_ = spec.distinct_layer_plans;
  const auto fidelity = fidelity_from_string(spec.fidelity);
  if (!fidelity) throw InputError(fmt::format("--fidelity \"{}\": expected flow or fluid", spec.fidelity));
  g.fidelity_ = *fidelity;
  if (!find_strategy(spec.baseline))
    throw InputError(fmt::format("baseline \"{}\": unknown strategy (expected one of {})", spec.baseline,
                                 fmt::join(cli::all_strategy_names(), ", ")));

  // Axes: canonical values, defaults for the four main axes, fixed order.
  std::map<std::string, std::vector<nlohmann::json>> given;
  const std::vector<std::string> reserved = result_columns();  // an axis may not take an output column's name
  for (const auto& [name, values] : spec.axes) {
    if (name.empty() || has_control_chars(name))
      throw InputError(fmt::format("axis \"{}\": not a usable axis name", name));
    const bool output_column = name == "point" || name == "key" || name.rfind("util_", 0) == 0 ||
                               std::find(reserved.begin(), reserved.end(), name) != reserved.end();
    if (output_column)
      throw InputError(fmt::format("axis \"{}\": the name of an output column, not a parameter", name));
    if (values.empty()) throw InputError(fmt::format("axis {}: no values", name));
    if (!given.emplace(name, values).second) throw InputError(fmt::format("axis {} is given twice", name));
  }
  if (!given.contains("cluster")) given["cluster"] = {"p4d.24xlarge"};
  if (!given.contains("model")) given["model"] = {"switch-base-128"};
  if (!given.contains("seed")) given["seed"] = {1};
  if (!given.contains("strategy")) given["strategy"] = {"all"};

  for (auto& [name, values] : given) {
    Axis a{.name = name, .kind = kind_of(name), .values = {}};
    if (a.kind == AxisKind::Strategy) {
      std::vector<std::string> names;
      for (const auto& v : values) {
        if (!v.is_string()) throw InputError(fmt::format("axis strategy: {} is not a strategy name", v.dump()));
        for (const auto& n : cli::parse_strategy_list(v.get<std::string>())) names.push_back(n);
      }
      // The baseline first, so a point's baseline is always an earlier row.
      if (auto it = std::find(names.begin(), names.end(), spec.baseline); it != names.end())
        std::rotate(names.begin(), it, it + 1);
      for (const auto& n : names) a.values.push_back(canonical_value(n, name));
    } else {
      for (const auto& v : values) a.values.push_back(canonical_value(v, name));
    }
    std::set<std::string> seen;
    for (const auto& v : a.values)
      if (!seen.insert(v.text).second) throw InputError(fmt::format("axis {}: value {} is given twice", name, v.text));
    switch (a.kind) {
      case AxisKind::Nodes:
      case AxisKind::GpusPerNode:
        for (const auto& v : a.values) integer_value(v, name, 1, 100000);
        break;
      case AxisKind::NicsPerNode:
        for (const auto& v : a.values) integer_value(v, name, 0, 4096);
        break;
      case AxisKind::Seed:
        for (const auto& v : a.values) seed_value(v);
        break;
      case AxisKind::StrategyParam:
        for (const auto& v : a.values) {
          char* end = nullptr;
          std::strtod(v.text.c_str(), &end);
          if (end != v.text.c_str() + v.text.size())
            throw InputError(fmt::format("axis {}: \"{}\" is not a number", name, v.text));
        }
        break;
      case AxisKind::ClusterPointer:
        try {
          nlohmann::json::json_pointer p(name.substr(7));
        } catch (const nlohmann::json::exception& e) {
          throw InputError(fmt::format("axis {}: \"{}\" is not a JSON pointer into the cluster description ({})", name,
                                       name.substr(7), e.what()));
        }
        break;
      case AxisKind::ModelKey:
        if (name.front() == '.' || name.back() == '.' || name.find("..") != std::string::npos)
          throw InputError(
              fmt::format("axis \"{}\": expected a model key such as num_experts or gating.params.exponent", name));
        break;
      default:
        break;
    }
    g.axes_.push_back(std::move(a));
  }
  // std::map gave name order; now the fixed kind order (stable: by name within a kind).
  std::stable_sort(g.axes_.begin(), g.axes_.end(), [](const Axis& x, const Axis& y) { return x.kind < y.kind; });

  for (std::size_t i = 0; i < g.axes_.size(); ++i) {
    const std::size_t n = g.axes_[i].values.size();
    if (g.size_ > kMaxPoints / n) throw InputError(fmt::format("the grid has more than {} points", kMaxPoints));
    g.size_ *= n;
    if (g.axes_[i].kind == AxisKind::Strategy) g.strategy_axis_ = i;
  }
  for (std::size_t i = g.strategy_axis_ + 1; i < g.axes_.size(); ++i) g.strategy_stride_ *= g.axes_[i].values.size();
  g.group_size_ = g.strategy_stride_ * g.axes_[g.strategy_axis_].values.size();
  g.baseline_in_axis_ = g.axes_[g.strategy_axis_].values.front().text == spec.baseline;

  // Fixed overrides: model keys and strategy parameters.
  const auto& strategies = g.axes_[g.strategy_axis_].values;
  auto declared_by_some = [&](const std::string& param) {
    return std::any_of(strategies.begin(), strategies.end(), [&](const AxisValue& s) {
      const StrategyInfo* info = find_strategy(s.text);
      return std::any_of(info->params.begin(), info->params.end(), [&](const ParamInfo& p) { return p.name == param; });
    });
  };
  for (const auto& [k, v] : spec.fixed) {
    if (k.rfind("strategy.", 0) == 0) {
      if (!declared_by_some(k.substr(9)))
        throw InputError(fmt::format("--set {}={}: no strategy of the sweep has the parameter {}", k, v, k.substr(9)));
      g.fixed_strategy_.emplace_back(k.substr(9), v);
    } else {
      g.fixed_model_.emplace_back(k, v);
    }
  }
  for (const auto& a : g.axes_)
    if (a.kind == AxisKind::StrategyParam && !declared_by_some(a.name.substr(9)))
      throw InputError(fmt::format("axis {}: no strategy of the sweep has the parameter {}", a.name, a.name.substr(9)));

  // Shared, read-only inputs.
  g.catalog_ = Catalog::embedded();
  std::string cost_identity;
  if (spec.ideal) {
    g.costs_ = CostFactors::ideal();
    cost_identity = "ideal";
  } else if (!spec.calibration.empty()) {
    g.costs_ = CostFactors::load_file(spec.calibration);
    g.compute_ = validation::load_calibration_compute(spec.calibration);
    cost_identity = "calibration\n" + read_text_file(spec.calibration);
  } else {
    g.costs_ = CostFactors::defaults();
    cost_identity = "defaults";
  }

  nlohmann::json identity = {{"format", "moesim-sweep-1"},
                             {"baseline", spec.baseline},
                             {"distinct_layer_plans", spec.distinct_layer_plans},
                             {"fidelity", spec.fidelity},
                             {"costs", cost_identity},
                             {"fixed", spec.fixed}};
  for (const auto& a : g.axes_) {
    nlohmann::json vals = nlohmann::json::array();
    for (const auto& v : a.values) vals.push_back(v.text);
    identity["axes"].push_back({a.name, vals});
  }
  for (const auto& a : g.axes_) {
    if (a.kind == AxisKind::Cluster) {
      for (const auto& v : a.values) {
        const auto preset = preset_text(v.text);
        ClusterSource c;
        if (preset) {
          c.label = fmt::format("preset {}", v.text);
          c.description = JsonReader::parse_text(*preset, c.label);
        } else {
          c.label = resolve(v.text, spec.base_dir, false);
          load_cluster(c.label, std::nullopt, g.catalog_);  // unknown names and bad files fail here, once
          c.description = JsonReader::parse_file(c.label);
        }
        if (preset) load_cluster_text(*preset, c.label, std::nullopt, g.catalog_);
        identity["clusters"].push_back(c.description);
        g.clusters_.push_back(std::move(c));
      }
    } else if (a.kind == AxisKind::Model) {
      for (const auto& v : a.values) {
        ModelSource m{load_model(resolve(v.text, spec.base_dir, is_model_preset(v.text)))};
        ModelConfig fixed = m.config;
        if (!g.fixed_model_.empty()) apply_overrides(fixed, g.fixed_model_);  // bad fixed overrides fail here, once
        identity["models"].push_back(to_json(fixed));
        g.models_.push_back(std::move(m));
      }
    }
  }
  // A model-key axis must name a model key (values may still fail in some combinations).
  for (const auto& a : g.axes_) {
    if (a.kind != AxisKind::ModelKey) continue;
    ModelConfig m = g.models_.front().config;
    try {
      auto overrides = g.fixed_model_;
      overrides.emplace_back(a.name, a.values.front().text);
      apply_overrides(m, overrides);
    } catch (const ConfigError& e) {
      if (e.json_path() == model_key_pointer(a.name) &&
          std::string_view(e.what()).find("unknown key") != std::string_view::npos)
        throw InputError(fmt::format("axis {}: not a model key ({})", a.name, e.what()));
    } catch (const Error&) {
    }
  }
  g.id_ = fmt::format("{:016x}", fnv1a64(identity.dump()));
  return g;
}

std::vector<std::size_t> Grid::indices(std::size_t point) const {
  MOESIM_CHECK(point < size_, "point {} of a grid of {}", point, size_);
  std::vector<std::size_t> idx(axes_.size());
  for (std::size_t a = axes_.size(); a-- > 0;) {
    const std::size_t n = axes_[a].values.size();
    idx[a] = point % n;
    point /= n;
  }
  return idx;
}

std::string Grid::key(std::size_t point) const {
  const auto idx = indices(point);
  std::string k;
  for (std::size_t a = 0; a < axes_.size(); ++a) {
    if (a) k += ';';
    k += escape_key_part(axes_[a].name);
    k += '=';
    k += escape_key_part(axes_[a].values[idx[a]].text);
  }
  return k;
}

std::optional<std::size_t> Grid::baseline_of(std::size_t point) const {
  if (!baseline_in_axis_) return std::nullopt;
  const std::size_t s = (point / strategy_stride_) % axes_[strategy_axis_].values.size();
  return point - s * strategy_stride_;
}

PointResult Grid::run(std::size_t point) const {
  PointResult r;
  r.point = point;
  try {
    const auto idx = indices(point);
    const ClusterSource* cluster = nullptr;
    const ModelSource* model = nullptr;
    std::optional<int> nodes, gpus_per_node, nics_per_node;
    std::vector<std::pair<std::string, const AxisValue*>> pointers;
    auto model_overrides = fixed_model_;
    auto strategy_params = fixed_strategy_;
    std::uint64_t seed = 1;
    std::string strategy;
    for (std::size_t a = 0; a < axes_.size(); ++a) {
      const Axis& axis = axes_[a];
      const AxisValue& v = axis.values[idx[a]];
      switch (axis.kind) {
        case AxisKind::Cluster:
          cluster = &clusters_[idx[a]];
          break;
        case AxisKind::Nodes:
          nodes = static_cast<int>(integer_value(v, axis.name, 1, 100000));
          break;
        case AxisKind::GpusPerNode:
          gpus_per_node = static_cast<int>(integer_value(v, axis.name, 1, 100000));
          break;
        case AxisKind::NicsPerNode:
          nics_per_node = static_cast<int>(integer_value(v, axis.name, 0, 4096));
          break;
        case AxisKind::ClusterPointer:
          pointers.emplace_back(axis.name.substr(7), &v);
          break;
        case AxisKind::Model:
          model = &models_[idx[a]];
          break;
        case AxisKind::ModelKey:
          model_overrides.emplace_back(axis.name, v.text);
          break;
        case AxisKind::Seed:
          seed = seed_value(v);
          break;
        case AxisKind::Strategy:
          strategy = v.text;
          break;
        case AxisKind::StrategyParam:
          strategy_params.emplace_back(axis.name.substr(9), v.text);
          break;
      }
    }
    MOESIM_CHECK(cluster && model && !strategy.empty(), "point {} lacks a cluster, model or strategy", point);

    // The cluster: the description with this point's shape and overrides.
    nlohmann::json desc = cluster->description;
    std::string label = cluster->label;
    std::vector<std::string> changes;
    if (gpus_per_node || nics_per_node) {
      reshape_node_kind(desc, gpus_per_node, nics_per_node, label);
      if (gpus_per_node) changes.push_back(fmt::format("gpus_per_node={}", *gpus_per_node));
      if (nics_per_node) changes.push_back(fmt::format("nics_per_node={}", *nics_per_node));
    }
    for (const auto& [ptr, v] : pointers) {
      try {
        desc[nlohmann::json::json_pointer(ptr)] = nlohmann::json::parse(v->json);
      } catch (const nlohmann::json::exception& e) {
        throw InputError(fmt::format("{}: cannot set {} in the cluster description ({})", label, ptr, e.what()));
      }
      changes.push_back(fmt::format("{}={}", ptr, v->text));
    }
    if (!changes.empty()) label = fmt::format("{} (with {})", label, fmt::join(changes, ", "));
    const Topology topo = load_cluster_text(desc.dump(), label, nodes, catalog_);

    ModelConfig m = model->config;
    if (!model_overrides.empty()) apply_overrides(m, model_overrides);  // fixed ones first, then the axes'
    TrainingStepOptions options = cli::training_options(strategy, strategy_params, seed, distinct_layer_plans_, true);
    options.fidelity = fidelity_;
    options.compute_efficiency = compute_;
    options.planning_threads = 1;  // points run in parallel (--jobs); each plans on its own thread
    r.result = simulate_training_step(topo, costs_, m, options);
  } catch (const InvariantError& e) {
    r.status = PointResult::Status::InternalError;
    r.error = one_line(e.what());
  } catch (const Error& e) {
    r.status = PointResult::Status::Error;
    r.error = one_line(e.what());
  } catch (const std::bad_alloc&) {  // this point is too large for moesim's memory limit; the others may fit
    r.status = PointResult::Status::Error;
    r.error = one_line(cli::out_of_memory_message());
  } catch (const std::exception& e) {
    r.status = PointResult::Status::InternalError;
    r.error = one_line(fmt::format("{}", e.what()));
  }
  return r;
}

}  // namespace moesim::sweep
