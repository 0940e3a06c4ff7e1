#include "sim/collectives/replay.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <tuple>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "sim/json_reader.h"

namespace moesim {

TrafficMatrix TrafficMatrix::zeros(int gpus, std::string source) {
  MOESIM_CHECK(gpus >= 0 && gpus <= kMaxTrafficMatrixGpus, "matrix of {} GPUs", gpus);
  TrafficMatrix m;
  m.gpus = gpus;
  m.bytes.assign(static_cast<std::size_t>(gpus) * static_cast<std::size_t>(gpus), 0.0);
  m.source = std::move(source);
  return m;
}

MatrixFormatError::MatrixFormatError(std::string file, int line, const std::string& message)
    : InputError(line > 0 ? fmt::format("{}:{}: {}", file, line, message) : fmt::format("{}: {}", file, message)),
      file_(std::move(file)),
      line_(line) {}

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path, "", "cannot open file for reading");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string describe(const nlohmann::json& v) {
  std::string text = v.dump();
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return fmt::format("{} {}", v.type_name(), text);
}

// 1-based line and column of byte offset `at` in `text`.
std::pair<std::size_t, std::size_t> line_col(std::string_view text, std::size_t at) {
  std::size_t line = 1, col = 1;
  for (std::size_t i = 0; i < at && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return {line, col};
}

nlohmann::json parse_json(std::string_view text, const std::string& label) {
  try {
    return JsonReader::parse_text(text, label);
  } catch (const nlohmann::json::out_of_range& e) {
    // nlohmann rejects numbers that overflow a double ("number overflow parsing '1e999'")
    // without a position: find the token to name its line and column.
    const std::string what = e.what();
    const auto q1 = what.find('\'');
    const auto q2 = q1 == std::string::npos ? std::string::npos : what.find('\'', q1 + 1);
    if (q2 != std::string::npos) {
      const std::string token = what.substr(q1 + 1, q2 - q1 - 1);
      const auto at = text.find(token);
      if (at != std::string_view::npos) {
        const auto [line, col] = line_col(text, at);
        throw ConfigError(
            label, "",
            fmt::format("malformed JSON at line {}, column {}: number {} is not finite (it overflows a double)", line,
                        col, token));
      }
    }
    throw ConfigError(label, "", fmt::format("malformed JSON: {}", what));
  } catch (const nlohmann::json::exception& e) {
    throw ConfigError(label, "", fmt::format("malformed JSON: {}", e.what()));
  }
}

}  // namespace

// ---- JSON ------------------------------------------------------------------------------

TrafficMatrix parse_traffic_matrix_json(std::string_view text, const std::string& label, int expected_gpus) {
  const nlohmann::json doc = parse_json(text, label);
  JsonReader r(doc, label);
  const int P = static_cast<int>(r.integer("gpus", {.min = 1, .max = kMaxTrafficMatrixGpus}));
  if (expected_gpus > 0 && P != expected_gpus)
    throw ConfigError(
        label, "/gpus",
        fmt::format("the matrix has {} GPUs but the cluster has {}: give one row and one column per GPU of "
                    "the cluster, in global GPU order (node x GPUs per node + local index)",
                    P, expected_gpus));
  if (!r.has("bytes"))
    throw r.error("bytes", "required key is missing: a list of P rows of P byte counts (source x destination)");
  r.accept("bytes");
  r.finish();
  const nlohmann::json& rows = doc.at("bytes");
  if (!rows.is_array())
    throw ConfigError(label, "/bytes",
                      fmt::format("expected an array of {} rows (one per source GPU), found {}", P, describe(rows)));
  if (rows.size() != static_cast<std::size_t>(P))
    throw ConfigError(label, "/bytes",
                      fmt::format("has {} rows, expected {} (\"gpus\": one row per source GPU)", rows.size(), P));
  TrafficMatrix m = TrafficMatrix::zeros(P, label);
  for (int s = 0; s < P; ++s) {
    const nlohmann::json& row = rows[static_cast<std::size_t>(s)];
    if (!row.is_array())
      throw ConfigError(
          label, fmt::format("/bytes/{}", s),
          fmt::format("expected an array of {} numbers (bytes to each destination GPU), found {}", P, describe(row)));
    if (row.size() != static_cast<std::size_t>(P))
      throw ConfigError(label, fmt::format("/bytes/{}", s),
                        fmt::format("has {} entries, expected {} (\"gpus\": one per destination GPU)", row.size(), P));
    for (int d = 0; d < P; ++d) {
      const nlohmann::json& v = row[static_cast<std::size_t>(d)];
      if (!v.is_number())
        throw ConfigError(label, fmt::format("/bytes/{}/{}", s, d),
                          fmt::format("expected a number of bytes, found {}", describe(v)));
      const double b = v.get<double>();
      if (!std::isfinite(b))
        throw ConfigError(label, fmt::format("/bytes/{}/{}", s, d),
                          fmt::format("{} is not a finite number of bytes", v.dump()));
      if (b < 0)
        throw ConfigError(label, fmt::format("/bytes/{}/{}", s, d),
                          fmt::format("{} is negative: bytes must be >= 0", v.dump()));
      m.at(s, d) = b;
    }
  }
  return m;
}

// ---- CSV -------------------------------------------------------------------------------

namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::string shown(std::string_view s) {
  if (s.size() > 40) return fmt::format("\"{}...\"", s.substr(0, 37));
  return fmt::format("\"{}\"", s);
}

struct CsvRow {
  int src, dst;
  double bytes;
  int line;
};

}  // namespace

TrafficMatrix parse_traffic_matrix_csv(std::string_view text, const std::string& label, int expected_gpus) {
  const int limit = expected_gpus > 0 ? expected_gpus : kMaxTrafficMatrixGpus;
  std::vector<CsvRow> rows;
  int line_no = 0;
  bool seen_content = false;
  int largest = -1;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const auto nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
    ++line_no;
    if (const auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    line = trim(line);
    if (line.empty()) continue;

    std::string_view f[3];
    int n = 0;
    std::size_t start = 0;
    while (true) {
      const auto comma = line.find(',', start);
      const auto field =
          trim(line.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
      if (n < 3) f[n] = field;
      ++n;
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
    const bool first = !seen_content;
    seen_content = true;
    if (n == 3 && first && lower(f[0]) == "src" && lower(f[1]) == "dst" && lower(f[2]) == "bytes") continue;  // header
    if (n != 3)
      throw MatrixFormatError(label, line_no,
                              fmt::format("expected 3 comma-separated fields src,dst,bytes, found {}", n));

    int idx[2] = {0, 0};
    for (int k = 0; k < 2; ++k) {
      const char* what = k == 0 ? "src" : "dst";
      long long v = 0;
      const auto* b = f[k].data();
      const auto* e = b + f[k].size();
      const auto res = std::from_chars(b, e, v);
      if (f[k].empty() || res.ec == std::errc::invalid_argument || res.ptr != e || v < 0)
        throw MatrixFormatError(label, line_no,
                                fmt::format("{} {} is not a GPU index (an integer >= 0){}", what, shown(f[k]),
                                            first && k == 0 ? "; a header line must read exactly src,dst,bytes" : ""));
      if (res.ec == std::errc::result_out_of_range || v >= limit)
        throw MatrixFormatError(label, line_no,
                                expected_gpus > 0 ? fmt::format("{} {} is out of range: the cluster has {} GPUs (0-{})",
                                                                what, f[k], expected_gpus, expected_gpus - 1)
                                                  : fmt::format("{} {} is out of range: a matrix has at most {} GPUs",
                                                                what, f[k], kMaxTrafficMatrixGpus));
      idx[k] = static_cast<int>(v);
    }
    double bytes = 0;
    {
      const auto* b = f[2].data();
      const auto* e = b + f[2].size();
      const auto res = std::from_chars(b, e, bytes);
      if (f[2].empty() || res.ec == std::errc::invalid_argument || res.ptr != e)
        throw MatrixFormatError(label, line_no, fmt::format("bytes {} is not a number", shown(f[2])));
      if (res.ec == std::errc::result_out_of_range) {
        // from_chars reports both overflow and underflow; underflow (e.g. 1e-400) is ~0 bytes.
        const double approx = std::strtod(std::string(f[2]).c_str(), nullptr);
        if (std::isfinite(approx))
          bytes = approx;
        else
          throw MatrixFormatError(label, line_no, fmt::format("bytes {} is not a finite number", f[2]));
      }
      if (!std::isfinite(bytes))
        throw MatrixFormatError(label, line_no, fmt::format("bytes {} is not a finite number", f[2]));
      if (bytes < 0)
        throw MatrixFormatError(label, line_no, fmt::format("bytes {} is negative: bytes must be >= 0", f[2]));
    }
    largest = std::max({largest, idx[0], idx[1]});
    rows.push_back({idx[0], idx[1], bytes, line_no});
  }
  if (rows.empty())
    throw MatrixFormatError(label, 0, "no src,dst,bytes rows (an empty matrix; write a row \"0,0,0\" for no traffic)");
  TrafficMatrix m = TrafficMatrix::zeros(expected_gpus > 0 ? expected_gpus : largest + 1, label);
  for (const CsvRow& r : rows) {
    double& cell = m.at(r.src, r.dst);
    cell += r.bytes;
    if (!std::isfinite(cell))
      throw MatrixFormatError(label, r.line,
                              fmt::format("the bytes of {} -> {} add up to more than a double holds", r.src, r.dst));
  }
  return m;
}

TrafficMatrix load_traffic_matrix(const std::string& path, int expected_gpus) {
  const std::string name = lower(path);
  if (ends_with(name, ".json")) return parse_traffic_matrix_json(read_file(path), path, expected_gpus);
  if (ends_with(name, ".csv")) return parse_traffic_matrix_csv(read_file(path), path, expected_gpus);
  throw InputError(
      fmt::format("{}: unknown traffic matrix format: the file name must end in .json (dense: "
                  "{{\"gpus\": P, \"bytes\": [[...], ...]}}) or .csv (sparse: src,dst,bytes rows)",
                  path));
}

std::string traffic_matrix_to_csv(const TrafficMatrix& m) {
  fmt::memory_buffer out;
  fmt::format_to(std::back_inserter(out), "src,dst,bytes\n");
  for (int s = 0; s < m.gpus; ++s)
    for (int d = 0; d < m.gpus; ++d)
      if (const double b = m.at(s, d); b != 0) fmt::format_to(std::back_inserter(out), "{},{},{}\n", s, d, b);
  return fmt::to_string(out);
}

std::string traffic_matrix_to_json(const TrafficMatrix& m) {
  fmt::memory_buffer out;
  fmt::format_to(std::back_inserter(out), "{{\"gpus\": {}, \"bytes\": [\n", m.gpus);
  for (int s = 0; s < m.gpus; ++s) {
    fmt::format_to(std::back_inserter(out), "  [");
    for (int d = 0; d < m.gpus; ++d) fmt::format_to(std::back_inserter(out), "{}{}", d ? ", " : "", m.at(s, d));
    fmt::format_to(std::back_inserter(out), "]{}\n", s + 1 < m.gpus ? "," : "");
  }
  fmt::format_to(std::back_inserter(out), "]}}\n");
  return fmt::to_string(out);
}

// ---- Replay ----------------------------------------------------------------------------

ReplayResult replay_traffic(const Topology& topo, const CostFactors& costs, const TrafficMatrix& m,
                            AllToAllAlgorithm algorithm, const ReplayOptions& options) {
  const int P = topo.gpu_count();
  if (m.gpus != P)
    throw InputError(
        fmt::format("{}: the traffic matrix has {} GPUs but cluster {} has {} ({} nodes); index the matrix by "
                    "global GPU index (node x GPUs per node + local index)",
                    m.source, m.gpus, topo.name(), P, topo.node_count()));
  MOESIM_CHECK(m.bytes.size() == static_cast<std::size_t>(P) * static_cast<std::size_t>(P),
               "matrix {} has {} entries for {} GPUs", m.source, m.bytes.size(), P);
  ReplayResult r;
  r.send_finish.assign(static_cast<std::size_t>(P), Time::zero());
  r.recv_finish.assign(static_cast<std::size_t>(P), Time::zero());
  r.bytes_sent.assign(static_cast<std::size_t>(P), 0.0);
  r.bytes_received.assign(static_cast<std::size_t>(P), 0.0);
  std::size_t nonzero = 0;
  for (int s = 0; s < P; ++s)
    for (int d = 0; d < P; ++d) {
      const double b = m.at(s, d);
      if (!std::isfinite(b) || b < 0)
        throw InputError(fmt::format("{}: entry {} -> {} is {}: bytes must be finite and >= 0", m.source, s, d, b));
      if (b == 0) continue;
      ++nonzero;
      if (s == d) {
        r.self_bytes += b;
        continue;
      }
      r.total_bytes += b;
      r.bytes_sent[static_cast<std::size_t>(s)] += b;
      r.bytes_received[static_cast<std::size_t>(d)] += b;
    }

  std::vector<GpuId> ranks(static_cast<std::size_t>(P));
  for (int g = 0; g < P; ++g) ranks[static_cast<std::size_t>(g)] = GpuId::from(g);
  TaskGraph graph;
  const std::size_t hier = algorithm == AllToAllAlgorithm::Hierarchical ? 2 : 1;
  graph.reserve(hier * nonzero + 2 * static_cast<std::size_t>(P) + 16,
                2 * hier * nonzero + 2 * static_cast<std::size_t>(P) + 16);
  // Hierarchical: every rank's phase-1 gate is a zero-time compute task. It makes no
  // difference to the timing (all flows still start at t = 0); it keeps markers without
  // predecessors (a GPU that receives nothing in phase 1) from finishing inside the
  // executor's initial scan, which would start their successors twice (see the report on
  // Executor::run).
  std::vector<TaskId> gates;
  if (algorithm == AllToAllAlgorithm::Hierarchical) {
    gates.reserve(static_cast<std::size_t>(P));
    for (int g = 0; g < P; ++g) gates.push_back(graph.add_compute(GpuId::from(g), Time::zero()));
  }
  append_alltoallv(
      graph, topo, ranks, [&m](int s, int d) { return m.at(s, d); }, algorithm,
      costs.collective().alltoall_max_peers_in_flight, gates);

  Engine engine;
  Network network(engine, topo.links(), {.completion_window = costs.network().completion_window});
  TransferService transfers(engine, network, topo, costs);
  Executor exec(transfers);
  r.completion = exec.run(graph);
  for (const Task& t : graph.tasks()) {
    if (t.kind != TaskKind::Transfer || t.src == t.dst) continue;  // self copies take no time
    r.send_finish[t.src.index()] = std::max(r.send_finish[t.src.index()], t.finish);
    r.recv_finish[t.dst.index()] = std::max(r.recv_finish[t.dst.index()], t.finish);
    if (options.record_transfers)
      r.transfer_log.push_back({.src = t.src, .dst = t.dst, .bytes = t.bytes, .start = t.start, .finish = t.finish});
  }
  r.transfers = network.flows_completed();
  const auto stats = network.link_stats();
  r.links.assign(stats.begin(), stats.end());
  return r;
}

LinkUsage link_usage(const Topology& topo, const ReplayResult& r, LinkId l) {
  MOESIM_CHECK(l.index() < r.links.size(), "link {} of {}", l, r.links.size());
  const LinkSpec& spec = topo.link(l);
  const LinkStats& st = r.links[l.index()];
  LinkUsage u;
  u.link = l;
  u.capacity_Bps = spec.capacity_Bps;
  u.latency = spec.latency;
  u.bytes = st.bytes;
  u.wire_bytes = st.wire_bytes;
  u.busy = st.busy;
  u.peak_flows = st.peak_flows;
  const double t = r.completion.seconds();
  u.utilization = t > 0 ? st.wire_bytes / (spec.capacity_Bps * t) : 0.0;
  return u;
}

std::vector<LinkKindUsage> usage_by_link_kind(const Topology& topo, const ReplayResult& r) {
  std::map<std::pair<int, std::string>, LinkKindUsage> groups;
  const double t = r.completion.seconds();
  for (std::size_t i = 0; i < r.links.size(); ++i) {
    const LinkId l = LinkId::from(i);
    const LinkSpec& spec = topo.link(l);
    const LinkUsage u = link_usage(topo, r, l);
    auto [it, inserted] = groups.try_emplace({static_cast<int>(spec.link_class), spec.kind});
    LinkKindUsage& g = it->second;
    if (inserted) {
      g.link_class = spec.link_class;
      g.kind = spec.kind;
      g.min_link_capacity_Bps = spec.capacity_Bps;
      g.max_link_capacity_Bps = spec.capacity_Bps;
    }
    ++g.links;
    if (u.bytes > 0) ++g.links_used;
    g.capacity_Bps += spec.capacity_Bps;
    g.min_link_capacity_Bps = std::min(g.min_link_capacity_Bps, spec.capacity_Bps);
    g.max_link_capacity_Bps = std::max(g.max_link_capacity_Bps, spec.capacity_Bps);
    g.bytes += u.bytes;
    g.wire_bytes += u.wire_bytes;
    g.max_utilization = std::max(g.max_utilization, u.utilization);
  }
  std::vector<LinkKindUsage> out;
  out.reserve(groups.size());
  for (auto& [key, g] : groups) {
    g.utilization = t > 0 ? g.wire_bytes / (g.capacity_Bps * t) : 0.0;
    out.push_back(std::move(g));
  }
  return out;
}

std::vector<LinkUsage> busiest_links(const Topology& topo, const ReplayResult& r, std::size_t count) {
  std::vector<LinkUsage> all;
  for (std::size_t i = 0; i < r.links.size(); ++i)
    if (r.links[i].bytes > 0) all.push_back(link_usage(topo, r, LinkId::from(i)));
  const auto before = [](const LinkUsage& a, const LinkUsage& b) {
    return std::tie(b.utilization, b.wire_bytes, a.link) < std::tie(a.utilization, a.wire_bytes, b.link);
  };
  const std::size_t n = std::min(count, all.size());
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n), all.end(), before);
  all.resize(n);
  return all;
}

}  // namespace moesim
