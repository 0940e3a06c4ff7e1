#include "models/trace.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>
#include <tuple>
#include <type_traits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "sim/collectives/transfer.h"
#include "sim/error.h"

namespace moesim {
namespace {

// ---- JSON output helpers -------------------------------------------------------------------

using Buffer = fmt::memory_buffer;

// Microseconds from integer picoseconds, exact: "12.345678", trailing zeros dropped.
void put_us(Buffer& b, std::int64_t ps) {
  MOESIM_CHECK(ps >= 0, "trace: negative time {} ps", ps);
  const std::int64_t whole = ps / 1000000, frac = ps % 1000000;
  if (frac == 0) {
    fmt::format_to(std::back_inserter(b), "{}", whole);
    return;
  }
  char digits[7];
  fmt::format_to_n(digits, 6, "{:06}", frac);
  int n = 6;
  while (n > 0 && digits[n - 1] == '0') --n;
  fmt::format_to(std::back_inserter(b), "{}.{}", whole, std::string_view(digits, static_cast<std::size_t>(n)));
}

void put_number(Buffer& b, double v) {
  MOESIM_CHECK(std::isfinite(v), "trace: non-finite value");
  fmt::format_to(std::back_inserter(b), "{}", v);
}

void put_string(Buffer& b, std::string_view s) {
  b.push_back('"');
  for (char c : s) {
    if (c == '"' || c == '\\') {
      b.push_back('\\');
      b.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      fmt::format_to(std::back_inserter(b), "\\u{:04x}", static_cast<unsigned>(static_cast<unsigned char>(c)));
    } else {
      b.push_back(c);
    }
  }
  b.push_back('"');
}

// ---- events ----------------------------------------------------------------------------

// Track groups: a GPU's compute stream, its all-to-all phases, its all-reduces. A GPU track's
// tid is 1 + local_index * kTidsPerGpu + group * kLanesPerGroup + lane; a cluster track's
// 1 + group * kLanesPerGroup + lane. pids: node n is n + 1, the cluster is nodes + 1 (sorted
// first). pid and tid 0 are avoided: trace viewers treat them as the idle process / thread.
enum Group : int { kComputeGroup = 0, kA2aGroup = 1, kAllReduceGroup = 2 };
constexpr int kLanesPerGroup = 300;
constexpr int kTidsPerGpu = 3 * kLanesPerGroup;

struct XEvent {
  int gpu = -1;  // -1: cluster-wide
  int group = 0;
  std::int64_t start_ps = 0;
  std::int64_t end_ps = 0;
  std::uint32_t part = 0;
  int lane = 0;
  std::string args;  // JSON object text, or empty
};

// Assigns lanes so that events of one (gpu, group) on one lane never overlap: sort by start
// and give each event the lowest lane free at its start. Sorts `events`.
void assign_lanes(std::vector<XEvent>& events) {
  std::sort(events.begin(), events.end(), [](const XEvent& a, const XEvent& b) {
    return std::tie(a.gpu, a.group, a.start_ps, a.end_ps, a.part) <
           std::tie(b.gpu, b.group, b.start_ps, b.end_ps, b.part);
  });
  std::vector<std::int64_t> lane_end;
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (i == 0 || events[i].gpu != events[i - 1].gpu || events[i].group != events[i - 1].group) lane_end.clear();
    XEvent& e = events[i];
    std::size_t lane = 0;
    while (lane < lane_end.size() && lane_end[lane] > e.start_ps) ++lane;
    if (lane == lane_end.size()) lane_end.push_back(0);
    lane_end[lane] = e.end_ps;
    MOESIM_CHECK(lane < kLanesPerGroup, "trace: more than {} overlapping events on GPU {}", kLanesPerGroup, e.gpu);
    e.lane = static_cast<int>(lane);
  }
}

int group_of(TimelinePartKind k) {
  if (k == TimelinePartKind::AllReduce || k == TimelinePartKind::ExpertAllReduce) return kAllReduceGroup;
  return is_communication(k) ? kA2aGroup : kComputeGroup;
}

std::string track_name(int gpu, int group, int lane) {
  static constexpr std::array<std::string_view, 3> gpu_suffix = {"", " a2a", " allreduce"};
  static constexpr std::array<std::string_view, 3> cluster_name = {"compute", "phases", "allreduce"};
  std::string base = gpu >= 0 ? fmt::format("gpu {}{}", gpu, gpu_suffix[group]) : std::string(cluster_name[group]);
  if (gpu >= 0 && group == kComputeGroup && lane > 0) base += " compute";
  return lane == 0 ? base : fmt::format("{} {}", base, lane + 1);
}

}  // namespace

LinkClassUtilization link_class_utilization(const TrainingTimeline& timeline, const Topology& topo,
                                            const CostFactors& costs, int bins) {
  if (bins < 1) throw InputError(fmt::format("trace: the number of counter bins must be >= 1, got {}", bins));
  LinkClassUtilization u;
  const std::int64_t end = timeline.end_ps;
  u.bin_ps = end > 0 ? (end + bins - 1) / bins : 1;
  u.bins = end > 0 ? static_cast<int>((end + u.bin_ps - 1) / u.bin_ps) : 1;
  const std::size_t B = static_cast<std::size_t>(u.bins);
  const std::int64_t w = u.bin_ps;
  auto covered_ps = [&](std::size_t i) {
    return std::min<std::int64_t>(end, static_cast<std::int64_t>(i + 1) * w) - static_cast<std::int64_t>(i) * w;
  };

  // Per link that carries anything (slot), bytes per bin: partial first and last bins go to
  // `acc` directly, whole bins through a difference array (`diff`, B + 1 per slot).
  const std::size_t L = topo.links().size();
  std::vector<std::uint32_t> slot(L, UINT32_MAX);
  std::vector<LinkId> used;
  std::vector<double> acc, diff;
  auto slot_of = [&](LinkId l) {
    std::uint32_t& s = slot[l.index()];
    if (s == UINT32_MAX) {
      s = static_cast<std::uint32_t>(used.size());
      used.push_back(l);
      acc.resize(acc.size() + B, 0.0);
      diff.resize(diff.size() + B + 1, 0.0);
    }
    return static_cast<std::size_t>(s);
  };

  // The transfer service prices each message exactly as the run did (path with PXN, protocol);
  // nothing is sent on this engine.
  Engine engine;
  Network network(engine, topo.links());
  const TransferService transfers(engine, network, topo, costs, {.cache_routes = true});  // every layer sends the same pairs
  // `wire` bytes on link l at a constant rate over [a, b] (all in one bin when b == a).
  auto spread_on = [&](LinkId l, double wire, std::int64_t a, std::int64_t b) {
    const auto i0 = std::min<std::size_t>(static_cast<std::size_t>(a / w), B - 1);
    const auto i1 = b > a ? std::min<std::size_t>(static_cast<std::size_t>((b - 1) / w), B - 1) : i0;
    const double rate = b > a ? wire / static_cast<double>(b - a) : 0;  // bytes per ps
    const std::size_t s = slot_of(l);
    double* A = &acc[s * B];
    double* D = &diff[s * (B + 1)];
    if (i0 == i1) {
      A[i0] += wire;
      return;
    }
    A[i0] += rate * static_cast<double>(static_cast<std::int64_t>(i0 + 1) * w - a);
    A[i1] += rate * static_cast<double>(b - static_cast<std::int64_t>(i1) * w);
    if (i1 > i0 + 1) {
      D[i0 + 1] += rate * static_cast<double>(w);
      D[i1] -= rate * static_cast<double>(w);
    }
  };
  std::vector<LinkId> path;
  for (const TimelineTask& t : timeline.tasks) {
    if (!t.transfer() || t.src == t.dst || t.bytes <= 0) continue;
    const int repeat = t.repeat;
    const auto c = transfers.message_cost(t.src, t.dst, t.bytes, path, repeat);
    if (path.empty()) continue;
    const Time latency = c.latency;
    const double wire = t.bytes / c.efficiency;
    // Bandwidth phase: after the overheads (and the latencies of all but the last message of a
    // macro-step), before the last message's path latency.
    std::int64_t a = t.start_ps + (c.overhead * repeat + latency * (repeat - 1)).ps();
    std::int64_t b = t.finish_ps - latency.ps();
    a = std::clamp<std::int64_t>(a, t.start_ps, t.finish_ps);
    b = std::clamp<std::int64_t>(b, a, t.finish_ps);
    for (LinkId l : path) spread_on(l, wire, a, b);
  }
  // --fidelity fluid: a part's collective moves its bytes at a constant rate between the first
  // of its GPUs starting and the last finishing (the fluid model prices it as a whole).
  for (const TimelinePart& part : timeline.parts) {
    if (part.fluid_wire_bytes.empty()) continue;
    std::int64_t a = std::numeric_limits<std::int64_t>::max(), b = 0;
    for (const TimelineTask& t : timeline.tasks_of(part)) {
      a = std::min(a, t.start_ps);
      b = std::max(b, t.finish_ps);
    }
    if (a > b) continue;
    for (const auto& [l, wire] : part.fluid_wire_bytes) spread_on(l, wire, a, b);
  }

  // Each link as a work-conserving queue: it moves at most capacity x width per bin and carries
  // what the mean-rate spreading put above that into later bins; what is left at the end goes
  // back into the latest bins with room (it fits: the network moved it within the iteration).
  constexpr std::size_t C = kAllLinkClasses.size();
  std::array<int, C> links{};
  std::array<double, C> capacity{}, spread{};
  for (const LinkSpec& l : topo.links()) {
    links[static_cast<std::size_t>(l.link_class)] += 1;
    capacity[static_cast<std::size_t>(l.link_class)] += l.capacity_Bps;
  }
  std::vector<std::vector<double>> class_bytes(C, std::vector<double>(B, 0.0));
  std::vector<double> room(B);
  for (std::size_t s = 0; s < used.size(); ++s) {
    const LinkSpec& spec = topo.link(used[s]);
    const auto c = static_cast<std::size_t>(spec.link_class);
    double* A = &acc[s * B];
    const double* D = &diff[s * (B + 1)];
    double whole = 0, backlog = 0;
    for (std::size_t i = 0; i < B; ++i) {
      whole += D[i];
      const double in = std::max(0.0, A[i] + whole) + backlog;
      spread[c] += std::max(0.0, A[i] + whole);
      const double most = spec.capacity_Bps * static_cast<double>(covered_ps(i)) * 1e-12;
      A[i] = std::min(in, most);
      backlog = in - A[i];
      room[i] = most - A[i];
    }
    for (std::size_t i = B; i-- > 0 && backlog > 0;) {
      const double put = std::min(room[i], backlog);
      A[i] += put;
      backlog -= put;
    }
    for (std::size_t i = 0; i < B; ++i) class_bytes[c][i] += A[i];
  }
  for (std::size_t c = 0; c < C; ++c) {
    if (links[c] == 0) continue;
    LinkClassUtilization::Series s;
    s.link_class = std::string(to_string(kAllLinkClasses[c]));
    s.links = links[c];
    s.capacity_Bps = capacity[c];
    s.wire_bytes = spread[c];
    s.utilization.resize(B);
    for (std::size_t i = 0; i < B; ++i) {
      const std::int64_t covered = covered_ps(i);
      s.utilization[i] = covered > 0 ? class_bytes[c][i] / (capacity[c] * static_cast<double>(covered) * 1e-12) : 0.0;
    }
    u.classes.push_back(std::move(s));
  }
  return u;
}

ChromeTraceStats write_chrome_trace(std::ostream& out, const ChromeTraceInput& in, const ChromeTraceOptions& options) {
  const TrainingTimeline& tl = in.timeline;
  const Topology& topo = in.topology;
  const int P = topo.gpu_count();
  ChromeTraceStats stats;

  // ---- X events: compute tasks, per-GPU communication phases, cluster-wide phases ----------
  std::vector<XEvent> events;
  std::vector<XEvent> phases;
  struct GpuAgg {
    std::int64_t start = std::numeric_limits<std::int64_t>::max(), end = 0;
    double sent = 0, received = 0, inter = 0, local = 0;
    std::size_t flows = 0, messages = 0, peers = 0;
    bool sends = false;
  };
  std::vector<GpuAgg> agg(static_cast<std::size_t>(P));
  std::vector<std::pair<std::uint32_t, std::uint32_t>> pairs;
  for (std::uint32_t pi = 0; pi < tl.parts.size(); ++pi) {
    const TimelinePart& part = tl.parts[pi];
    const auto tasks = tl.tasks_of(part);
    if (!is_communication(part.kind)) {
      for (const TimelineTask& t : tasks) {
        if (t.kind != TaskKind::Compute) continue;
        events.push_back(XEvent{.gpu = static_cast<int>(t.src.value()),
                                .group = kComputeGroup,
                                .start_ps = t.start_ps,
                                .end_ps = t.finish_ps,
                                .part = pi});
      }
      continue;
    }
    std::fill(agg.begin(), agg.end(), GpuAgg{});
    pairs.clear();
    double bytes = 0, inter = 0;
    std::size_t flows = 0, messages = 0, delays = 0;
    std::int64_t start = std::numeric_limits<std::int64_t>::max(), end = 0;
    for (const TimelineTask& t : tasks) {
      if (t.kind == TaskKind::Delay) {  // --fidelity fluid: the GPU's share of the collective, no bytes
        GpuAgg& s = agg[t.src.index()];
        s.sends = true;
        s.start = std::min(s.start, t.start_ps);
        s.end = std::max(s.end, t.finish_ps);
        start = std::min(start, t.start_ps);
        end = std::max(end, t.finish_ps);
        ++delays;
        continue;
      }
      if (!t.transfer()) continue;
      GpuAgg& s = agg[t.src.index()];
      if (t.src == t.dst) {
        s.local += t.bytes;
        continue;
      }
      const bool cross = topo.gpu(t.src).node != topo.gpu(t.dst).node;
      s.sends = true;
      s.start = std::min(s.start, t.start_ps);
      s.end = std::max(s.end, t.finish_ps);
      s.sent += t.bytes;
      s.inter += cross ? t.bytes : 0;
      s.flows += 1;
      s.messages += t.repeat;
      agg[t.dst.index()].received += t.bytes;
      pairs.emplace_back(t.src.value(), t.dst.value());
      bytes += t.bytes;
      inter += cross ? t.bytes : 0;
      flows += 1;
      messages += t.repeat;
      start = std::min(start, t.start_ps);
      end = std::max(end, t.finish_ps);
    }
    if (flows == 0 && delays == 0) continue;
    const bool fluid = flows == 0;
    std::sort(pairs.begin(), pairs.end());
    pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());
    for (const auto& pr : pairs) agg[pr.first].peers += 1;
    const int group = group_of(part.kind);
    int slowest = -1;
    double max_sent = 0, sum_span = 0;
    int senders = 0;
    for (int g = 0; g < P; ++g) {
      const GpuAgg& a = agg[static_cast<std::size_t>(g)];
      if (!a.sends) continue;
      ++senders;
      sum_span += static_cast<double>(a.end - a.start);
      max_sent = std::max(max_sent, a.sent);
      if (slowest < 0 || a.end > agg[static_cast<std::size_t>(slowest)].end) slowest = g;
      Buffer args;
      if (fluid) {
        events.push_back(XEvent{.gpu = g,
                                .group = group,
                                .start_ps = a.start,
                                .end_ps = a.end,
                                .part = pi,
                                .args = "{\"fidelity\":\"fluid\"}"});
        continue;
      }
      fmt::format_to(std::back_inserter(args), "{{\"bytes_sent\":");
      put_number(args, a.sent);
      fmt::format_to(std::back_inserter(args), ",\"bytes_received\":");
      put_number(args, a.received);
      fmt::format_to(std::back_inserter(args), ",\"inter_node_bytes_sent\":");
      put_number(args, a.inter);
      if (a.local > 0) {
        fmt::format_to(std::back_inserter(args), ",\"local_bytes\":");
        put_number(args, a.local);
      }
      fmt::format_to(std::back_inserter(args), ",\"peers\":{},\"flows\":{}", a.peers, a.flows);
      if (a.messages != a.flows) fmt::format_to(std::back_inserter(args), ",\"messages\":{}", a.messages);
      args.push_back('}');
      events.push_back(XEvent{
          .gpu = g, .group = group, .start_ps = a.start, .end_ps = a.end, .part = pi, .args = fmt::to_string(args)});
    }
    const GpuAgg& sl = agg[static_cast<std::size_t>(slowest)];
    Buffer args;
    fmt::format_to(std::back_inserter(args), "{{\"layer\":{},\"pass\":\"{}\",", part.layer, to_string(part.pass));
    if (!part.phase.empty()) {
      fmt::format_to(std::back_inserter(args), "\"phase\":");
      put_string(args, part.phase);
      args.push_back(',');
    }
    if (fluid) {
      fmt::format_to(std::back_inserter(args), "\"fidelity\":\"fluid\",\"gpus\":{}", senders);
    } else {
      fmt::format_to(std::back_inserter(args), "\"flows\":{},\"messages\":{},\"bytes\":", flows, messages);
      put_number(args, bytes);
      fmt::format_to(std::back_inserter(args), ",\"inter_node_bytes\":");
      put_number(args, inter);
      fmt::format_to(std::back_inserter(args), ",\"gpus_sending\":{},\"max_gpu_bytes_sent\":", senders);
      put_number(args, max_sent);
    }
    fmt::format_to(std::back_inserter(args), ",\"duration_us\":");
    put_us(args, end - start);
    fmt::format_to(std::back_inserter(args), ",\"mean_gpu_span_us\":");
    put_us(args, std::llround(sum_span / senders));  // whole ps
    fmt::format_to(std::back_inserter(args), ",\"slowest_gpu\":{},\"slowest_gpu_span_us\":", slowest);
    put_us(args, sl.end - sl.start);
    args.push_back('}');
    phases.push_back(
        XEvent{.gpu = -1, .group = group, .start_ps = start, .end_ps = end, .part = pi, .args = fmt::to_string(args)});
  }
  assign_lanes(events);
  assign_lanes(phases);

  const int cluster_pid = topo.node_count() + 1;
  auto pid_of = [&](int gpu) { return gpu < 0 ? cluster_pid : topo.gpu(GpuId::from(gpu)).node + 1; };
  auto tid_of = [&](int gpu, int group, int lane) {
    const int base = gpu < 0 ? 0 : topo.gpu(GpuId::from(gpu)).local_index * kTidsPerGpu;
    return 1 + base + group * kLanesPerGroup + lane;
  };

  Buffer b;
  b.reserve(1 << 20);
  bool first = true;
  auto begin_event = [&] {
    b.append(std::string_view(first ? "\n" : ",\n"));
    first = false;
    ++stats.events;
  };
  b.append(std::string_view("{\"traceEvents\":["));

  // ---- metadata: process and thread names and sort order ---------------------------------
  auto meta = [&](std::string_view what, int pid, std::optional<int> tid, std::string_view key, auto value) {
    begin_event();
    fmt::format_to(std::back_inserter(b), "{{\"name\":\"{}\",\"ph\":\"M\",\"pid\":{}", what, pid);
    if (tid) fmt::format_to(std::back_inserter(b), ",\"tid\":{}", *tid);
    fmt::format_to(std::back_inserter(b), ",\"args\":{{\"{}\":", key);
    if constexpr (std::is_same_v<decltype(value), int>) {
      fmt::format_to(std::back_inserter(b), "{}", value);
    } else {
      put_string(b, value);
    }
    b.append(std::string_view("}}"));
  };
  meta("process_name", cluster_pid, std::nullopt, "name", std::string_view("cluster"));
  meta("process_sort_index", cluster_pid, std::nullopt, "sort_index", 0);
  for (int n = 0; n < topo.node_count(); ++n) {
    meta("process_name", n + 1, std::nullopt, "name",
         std::string_view(fmt::format("node {} ({})", n, topo.node(n).kind)));
    meta("process_sort_index", n + 1, std::nullopt, "sort_index", n + 1);
  }
  // Threads: every (gpu, group, lane) that has events, plus each GPU's compute track.
  std::vector<std::tuple<int, int, int>> tracks;
  tracks.reserve(static_cast<std::size_t>(P) + events.size() + phases.size());
  for (int g = 0; g < P; ++g) tracks.emplace_back(g, kComputeGroup, 0);
  for (const XEvent& e : events) tracks.emplace_back(e.gpu, e.group, e.lane);
  for (const XEvent& e : phases) tracks.emplace_back(e.gpu, e.group, e.lane);
  std::sort(tracks.begin(), tracks.end());
  tracks.erase(std::unique(tracks.begin(), tracks.end()), tracks.end());
  for (const auto& [gpu, group, lane] : tracks) {
    const int pid = pid_of(gpu), tid = tid_of(gpu, group, lane);
    meta("thread_name", pid, tid, "name", std::string_view(track_name(gpu, group, lane)));
    meta("thread_sort_index", pid, tid, "sort_index", tid);
  }

  // ---- X events ------------------------------------------------------------------------
  auto put_x = [&](const XEvent& e) {
    const TimelinePart& part = tl.parts[e.part];
    begin_event();
    b.append(std::string_view("{\"name\":"));
    put_string(b, part.name);
    fmt::format_to(std::back_inserter(b), ",\"cat\":\"{}\",\"ph\":\"X\",\"ts\":", category_name(part.kind));
    put_us(b, e.start_ps);
    b.append(std::string_view(",\"dur\":"));
    put_us(b, e.end_ps - e.start_ps);
    fmt::format_to(std::back_inserter(b), ",\"pid\":{},\"tid\":{}", pid_of(e.gpu), tid_of(e.gpu, e.group, e.lane));
    if (!e.args.empty()) {
      b.append(std::string_view(",\"args\":"));
      b.append(e.args);
    }
    b.push_back('}');
  };
  for (const XEvent& e : phases) {
    put_x(e);
    ++stats.phase_events;
  }
  for (const XEvent& e : events) {
    put_x(e);
    ++(e.group == kComputeGroup ? stats.compute_events : stats.comm_events);
  }

  // ---- counters: link-class utilization per bin ------------------------------------------
  // With --fidelity fluid each collective's bytes are spread over its span (no per-flow times).
  const bool fluid_only =
      std::none_of(tl.tasks.begin(), tl.tasks.end(), [](const TimelineTask& t) { return t.transfer(); }) &&
      std::any_of(tl.tasks.begin(), tl.tasks.end(), [](const TimelineTask& t) { return t.kind == TaskKind::Delay; });
  LinkClassUtilization util = link_class_utilization(tl, topo, in.costs, options.counter_bins);
  for (const auto& s : util.classes) {
    for (int i = 0; i <= util.bins; ++i) {
      begin_event();
      b.append(std::string_view("{\"name\":"));
      put_string(b, s.link_class);
      b.append(std::string_view(",\"cat\":\"utilization\",\"ph\":\"C\",\"ts\":"));
      put_us(b, std::min<std::int64_t>(static_cast<std::int64_t>(i) * util.bin_ps, tl.end_ps));
      // The last sample (at the iteration's end) closes the series at 0.
      fmt::format_to(std::back_inserter(b), ",\"pid\":{},\"args\":{{\"utilization\":{:.6f}}}}}", cluster_pid,
                     i < util.bins ? s.utilization[static_cast<std::size_t>(i)] : 0.0);
      ++stats.counter_events;
    }
  }
  b.append(std::string_view("\n],\n\"displayTimeUnit\":\"ns\",\n\"otherData\":"));

  // ---- otherData: the run ----------------------------------------------------------------
  const TrainingStepResult& r = in.result;
  nlohmann::ordered_json other = {
      {"generator", "moesim run --trace"},
      {"model", r.model},
      {"cluster", r.cluster},
      {"strategy", r.strategy},
      {"nodes", r.nodes},
      {"gpus", r.gpus},
      {"iteration_time_us", static_cast<double>(tl.end_ps) * 1e-6},
      {"tokens_per_s", r.tokens_per_s},
      {"compute_ms", r.breakdown.compute_s * 1e3},
      {"dispatch_ms", r.breakdown.dispatch_s * 1e3},
      {"combine_ms", r.breakdown.combine_s * 1e3},
      {"allreduce_ms", r.breakdown.allreduce_s * 1e3},
      {"exposed_communication_ms", r.breakdown.exposed_communication_s * 1e3},
      {"tasks", r.tasks},
      {"flows", r.flows},
      {"counter_bins", util.bins},
      {"counter_bin_us", static_cast<double>(util.bin_ps) * 1e-6},
  };
  for (const auto& s : util.classes) other["link_capacity_GBps"][s.link_class] = s.capacity_Bps / 1e9;
  if (fluid_only)
    other["link_counters"] =
        "--fidelity fluid: each collective's wire bytes at a constant rate from its first GPU starting to its last finishing";
  for (const auto& [k, v] : options.info) other[k] = v;
  b.append(other.dump());
  b.append(std::string_view("\n}\n"));
  stats.bytes = b.size();
  out.write(b.data(), static_cast<std::streamsize>(b.size()));
  return stats;
}

ChromeTraceStats write_chrome_trace_file(const std::string& path, const ChromeTraceInput& input,
                                         const ChromeTraceOptions& options) {
  std::ofstream f(path, std::ios::binary);
  if (!f) throw InputError(fmt::format("cannot write the trace file {}", path));
  const ChromeTraceStats stats = write_chrome_trace(f, input, options);
  f.flush();
  if (!f) throw InputError(fmt::format("cannot write the trace file {}", path));
  return stats;
}

}  // namespace moesim
