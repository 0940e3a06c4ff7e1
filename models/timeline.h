#pragma once
// The timeline of one simulated training iteration: every compute task and transfer with its
// GPU(s), start and finish, grouped into labelled parts ("L3 fwd expert", "L3 bwd
// dispatch-grad", "allreduce bucket 2"). Filled by simulate_training_step when
// TrainingStepOptions::timeline is set (models/training_step.h); read by the Chrome trace
// writer (models/trace.h, docs/TRACE.md).
//
// How parts are recorded: while the training step builds its task graph it calls
// TimelineRecorder::part() before appending each group of tasks; a part is the range of
// task ids appended until the next call. That costs O(parts) while building (nothing at all
// when no timeline was asked for), and one pass over the tasks after the run.
//
// Memory: 40 bytes per compute task and transfer (markers are dropped), e.g. about 17 MB for
// switch-base-128 on 128 GPUs (about 420,000 transfers).
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sim/collectives/task_graph.h"
#include "sim/network.h"
#include "sim/time.h"
#include "topologies/topology.h"

namespace moesim {

enum class TimelinePass : std::uint8_t { Forward, Backward };

/// What a part does. Compute kinds run on the GPU's compute stream; Dispatch and Combine are
/// all-to-all phases (one CommPhase of the dispatch plan each, forward or backward); AllReduce
/// is one bucket of dense gradients over all GPUs; ExpertAllReduce the expert gradients across
/// expert-data-parallel replicas.
enum class TimelinePartKind : std::uint8_t {
  Attention,
  GatePermute,  // gate + permute forward; gate backward + permute backward
  Dispatch,
  Expert,
  Combine,
  Unpermute,  // un-permute forward; its backward (a permute) opens a backward MoE layer
  Ffn,        // dense FFN of a non-MoE layer
  AllReduce,
  ExpertAllReduce,
};
/// "attention", "gate+permute", "dispatch", "expert", "combine", "unpermute", "ffn",
/// "allreduce", "expert-allreduce".
std::string_view to_string(TimelinePartKind k);
std::string_view to_string(TimelinePass p);  // "fwd", "bwd"

/// The communication category of a part kind: "compute", "dispatch", "combine", "allreduce".
std::string_view category_name(TimelinePartKind k);
bool is_communication(TimelinePartKind k);

struct TimelinePart {
  std::string name;  // "L3 fwd expert", "L3 bwd combine-grad", "allreduce bucket 2", "expert allreduce"
  TimelinePartKind kind = TimelinePartKind::Attention;
  TimelinePass pass = TimelinePass::Forward;
  int layer = -1;           // model layer; for AllReduce the layer whose backward filled the bucket; -1: none
  std::string phase;        // Dispatch/Combine: the CommPhase name ("dispatch-inter"); else empty
  std::uint32_t first = 0;  // tasks [first, end) in TrainingTimeline::tasks
  std::uint32_t end = 0;
  /// --fidelity fluid: the wire bytes the part's collective put on each link (its delay tasks
  /// carry no bytes); empty otherwise.
  std::vector<std::pair<LinkId, double>> fluid_wire_bytes;
};

/// A compute task (runs on `src`), a GPU-to-GPU transfer, or a delay (`--fidelity fluid`: a
/// GPU's share of a collective priced as a whole, on `src`, no bytes).
struct TimelineTask {
  std::int64_t start_ps = 0;
  std::int64_t finish_ps = 0;
  double bytes = 0;                   // transfer payload bytes; 0 for compute
  GpuId src;                          // transfer sender; the GPU of a compute task
  GpuId dst;                          // transfer receiver
  std::uint16_t repeat = 1;           // transfer: messages it stands for (Task::repeat)
  TaskKind kind = TaskKind::Compute;  // Compute, Transfer or Delay (markers are dropped)
  bool transfer() const { return kind == TaskKind::Transfer; }
};

struct TrainingTimeline {
  std::int64_t end_ps = 0;          // iteration time: when the last task finished
  std::vector<TimelinePart> parts;  // in graph-building order; non-empty parts only
  std::vector<TimelineTask> tasks;  // compute tasks and transfers in graph order (markers dropped)
  /// Wire bytes (payload / protocol efficiency) per link class, summed over the links of the
  /// class, as the network accounted them (LinkStats::wire_bytes) plus the fluid parts' bytes.
  std::map<std::string, double> wire_bytes_by_link_class;

  std::span<const TimelineTask> tasks_of(const TimelinePart& p) const {
    return std::span<const TimelineTask>(tasks).subspan(p.first, p.end - p.first);
  }
};

/// Labels the task ranges of a TaskGraph while it is built, and copies the run's times into a
/// TrainingTimeline afterwards. With a null timeline every call returns at once.
class TimelineRecorder {
 public:
  /// Both must outlive the recorder. Clears `out`.
  TimelineRecorder(TrainingTimeline* out, const TaskGraph& graph) : out_(out), graph_(graph) {
    if (out_) *out_ = TrainingTimeline{};
  }

  bool enabled() const { return out_ != nullptr; }
  /// The layer and pass of the parts that follow.
  void layer(int layer, TimelinePass pass) {
    layer_ = layer;
    pass_ = pass;
  }
  /// Tasks appended from now on (until the next part()) belong to a new part of this kind.
  /// `phase`: the CommPhase name of a Dispatch or Combine part.
  void part(TimelinePartKind kind, std::string_view phase = {});
  /// --fidelity fluid: the current part's collective put these wire bytes on these links.
  void fluid_bytes(std::span<const std::pair<LinkId, double>> link_wire_bytes);
  /// After the executor ran: copies every non-marker task's times, turns the ranges into
  /// timeline indices and totals the links' wire bytes per link class. O(tasks + links).
  void finish(Time end, std::span<const LinkStats> link_stats, const Topology& topo);

 private:
  TrainingTimeline* out_;
  const TaskGraph& graph_;
  int layer_ = -1;
  TimelinePass pass_ = TimelinePass::Forward;
  int buckets_ = 0;
  std::vector<std::uint32_t> starts_;  // graph task id where each part begins
};

}  // namespace moesim
