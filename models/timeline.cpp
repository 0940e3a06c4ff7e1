#include "models/timeline.h"

#include <fmt/format.h>

#include "sim/error.h"

namespace moesim {

std::string_view to_string(TimelinePartKind k) {
  switch (k) {
    case TimelinePartKind::Attention:
      return "attention";
    case TimelinePartKind::GatePermute:
      return "gate+permute";
    case TimelinePartKind::Dispatch:
      return "dispatch";
    case TimelinePartKind::Expert:
      return "expert";
    case TimelinePartKind::Combine:
      return "combine";
    case TimelinePartKind::Unpermute:
      return "unpermute";
    case TimelinePartKind::Ffn:
      return "ffn";
    case TimelinePartKind::AllReduce:
      return "allreduce";
    case TimelinePartKind::ExpertAllReduce:
      return "expert-allreduce";
  }
  return "?";
}

std::string_view to_string(TimelinePass p) {
  return p == TimelinePass::Forward ? "fwd" : "bwd";
}

std::string_view category_name(TimelinePartKind k) {
  switch (k) {
    case TimelinePartKind::Dispatch:
      return "dispatch";
    case TimelinePartKind::Combine:
      return "combine";
    case TimelinePartKind::AllReduce:
    case TimelinePartKind::ExpertAllReduce:
      return "allreduce";
    default:
      return "compute";
  }
}

bool is_communication(TimelinePartKind k) {
  return category_name(k) != "compute";
}

void TimelineRecorder::part(TimelinePartKind kind, std::string_view phase) {
  if (!out_) return;
  TimelinePart p;
  p.kind = kind;
  p.pass = pass_;
  p.layer = layer_;
  p.phase = std::string(phase);
  switch (kind) {
    case TimelinePartKind::AllReduce:
      p.pass = TimelinePass::Backward;
      p.name = fmt::format("allreduce bucket {}", buckets_++);
      break;
    case TimelinePartKind::ExpertAllReduce:
      p.pass = TimelinePass::Backward;
      p.layer = -1;
      p.name = "expert allreduce";
      break;
    default:
      p.name = fmt::format("L{} {} {}", layer_, to_string(pass_), phase.empty() ? to_string(kind) : phase);
  }
  out_->parts.push_back(std::move(p));
  starts_.push_back(static_cast<std::uint32_t>(graph_.size()));
}

void TimelineRecorder::fluid_bytes(std::span<const std::pair<LinkId, double>> link_wire_bytes) {
  if (!out_) return;
  MOESIM_CHECK(!out_->parts.empty(), "timeline: fluid bytes before any part");
  auto& v = out_->parts.back().fluid_wire_bytes;
  v.insert(v.end(), link_wire_bytes.begin(), link_wire_bytes.end());
}

void TimelineRecorder::finish(Time end, std::span<const LinkStats> link_stats, const Topology& topo) {
  if (!out_) return;
  TrainingTimeline& tl = *out_;
  tl.end_ps = end.ps();
  const auto& tasks = graph_.tasks();
  // Timeline index of each part start: non-marker tasks before it.
  std::size_t non_markers = 0;
  for (const Task& t : tasks) non_markers += t.kind != TaskKind::Marker;
  tl.tasks.clear();
  tl.tasks.reserve(non_markers);
  std::vector<TimelinePart> parts;
  parts.reserve(tl.parts.size());
  std::size_t id = 0;
  for (std::size_t p = 0; p <= tl.parts.size(); ++p) {
    const std::size_t until = p < tl.parts.size() ? starts_[p] : tasks.size();
    for (; id < until; ++id) {
      const Task& t = tasks[id];
      if (t.kind == TaskKind::Marker) continue;
      MOESIM_CHECK(t.finish != Time::max(), "timeline: task {} never ran", id);
      tl.tasks.push_back(TimelineTask{.start_ps = t.start.ps(),
                                      .finish_ps = t.finish.ps(),
                                      .bytes = t.kind == TaskKind::Transfer ? t.bytes : 0,
                                      .src = t.src,
                                      .dst = t.dst,
                                      .repeat = t.repeat,
                                      .kind = t.kind});
    }
    // Close the previous part at the current timeline index; keep it if it has tasks.
    if (p > 0) {
      TimelinePart& prev = tl.parts[p - 1];
      prev.end = static_cast<std::uint32_t>(tl.tasks.size());
      if (prev.end > prev.first) parts.push_back(std::move(prev));
    }
    if (p < tl.parts.size()) tl.parts[p].first = static_cast<std::uint32_t>(tl.tasks.size());
  }
  // Tasks before the first part (only the initial markers in the training step) are not in any part.
  tl.parts = std::move(parts);

  tl.wire_bytes_by_link_class.clear();
  for (std::size_t l = 0; l < link_stats.size(); ++l)
    tl.wire_bytes_by_link_class[std::string(to_string(topo.link(LinkId::from(l)).link_class))] +=
        link_stats[l].wire_bytes;
  for (const TimelinePart& p : tl.parts)
    for (const auto& [l, b] : p.fluid_wire_bytes)
      tl.wire_bytes_by_link_class[std::string(to_string(topo.link(l).link_class))] += b;
}

}  // namespace moesim
