#include "sim/collectives/task_graph.h"

#include <algorithm>

#include "sim/error.h"

namespace moesim {

TaskId TaskGraph::add_transfer(GpuId src, GpuId dst, double bytes, std::uint8_t category, std::uint16_t repeat) {
  MOESIM_CHECK(bytes >= 0, "transfer of {} bytes", bytes);
  MOESIM_CHECK(repeat >= 1, "transfer repeat must be >= 1");
  tasks_.push_back(Task{.kind = TaskKind::Transfer, .category = category, .repeat = repeat, .src = src, .dst = dst, .bytes = bytes});
  return static_cast<TaskId>(tasks_.size() - 1);
}

std::uint32_t TaskGraph::add_peer_set(std::vector<GpuId> gpus) {
  peer_sets_.push_back(std::move(gpus));
  return static_cast<std::uint32_t>(peer_sets_.size() - 1);
}

TaskId TaskGraph::add_switch_transfer(SwitchOp op, GpuId gpu, std::uint32_t peers, double bytes, std::uint8_t category) {
  MOESIM_CHECK(bytes >= 0, "transfer of {} bytes", bytes);
  MOESIM_CHECK(op != SwitchOp::None && peers < peer_sets_.size(), "NVLS transfer without an operation or peer set");
  tasks_.push_back(Task{.kind = TaskKind::Transfer, .category = category, .switch_op = op, .src = gpu, .dst = gpu,
                        .peers = peers, .bytes = bytes});
  return static_cast<TaskId>(tasks_.size() - 1);
}

TaskId TaskGraph::add_compute(GpuId gpu, Time duration, std::uint8_t category, std::uint16_t stream) {
  MOESIM_CHECK(duration >= Time::zero(), "negative compute duration");
  tasks_.push_back(Task{.kind = TaskKind::Compute, .category = category, .stream = stream, .src = gpu, .duration = duration});
  return static_cast<TaskId>(tasks_.size() - 1);
}

TaskId TaskGraph::add_delay(GpuId gpu, Time duration, std::uint8_t category) {
  MOESIM_CHECK(duration >= Time::zero(), "negative delay");
  tasks_.push_back(Task{.kind = TaskKind::Delay, .category = category, .src = gpu, .duration = duration});
  return static_cast<TaskId>(tasks_.size() - 1);
}

TaskId TaskGraph::add_marker(std::uint8_t category) {
  tasks_.push_back(Task{.kind = TaskKind::Marker, .category = category});
  return static_cast<TaskId>(tasks_.size() - 1);
}

void TaskGraph::depend(TaskId before, TaskId after) {
  MOESIM_CHECK(before < tasks_.size() && after < tasks_.size() && before != after, "bad dependency {} -> {}", before, after);
  edges_.emplace_back(before, after);
}

Time Executor::run(TaskGraph& graph) {
  graph_ = &graph;
  const std::size_t n = graph.tasks_.size();
  // CSR successors, in huge pages where the kernel gives them (advised before the first touch).
  auto zeroed = [](std::vector<std::uint32_t>& v, std::size_t size) {
    v.clear();
    v.reserve(size);
    advise_huge_pages(v);
    v.assign(size, 0);
  };
  zeroed(pending_, n);
  zeroed(succ_begin_, n + 1);
  for (auto [a, b] : graph.edges_) {
    ++succ_begin_[a + 1];
    ++pending_[b];
  }
  for (std::size_t i = 0; i < n; ++i) succ_begin_[i + 1] += succ_begin_[i];
  zeroed(succ_, graph.edges_.size());
  {
    std::vector<std::uint32_t> fill(succ_begin_.begin(), succ_begin_.end() - 1);
    for (auto [a, b] : graph.edges_) succ_[fill[a]++] = b;
  }
  // Compute streams: one per (gpu, stream) used. Every task starts unscheduled.
  stream_keys_.clear();
  for (Task& t : graph.tasks_) {
    t.start = Time::max();
    t.finish = Time::max();
    if (t.kind == TaskKind::Compute) stream_keys_.push_back((std::uint64_t{t.src.value()} << 16) | t.stream);
  }
  std::sort(stream_keys_.begin(), stream_keys_.end());
  stream_keys_.erase(std::unique(stream_keys_.begin(), stream_keys_.end()), stream_keys_.end());
  streams_.assign(stream_keys_.size(), StreamState{});
  done_ = 0;
  last_finish_ = Time::zero();
  busy_.assign(static_cast<std::size_t>(transfers_.topology().gpu_count()) * busy_categories_, Busy{});

  Engine& engine = transfers_.engine();
  const Time t0 = engine.now();
  // Collect the roots first: readying a marker finishes it at once, which can make later
  // tasks ready before this loop would reach them.
  std::vector<TaskId> roots;
  for (TaskId t = 0; t < n; ++t)
    if (pending_[t] == 0) roots.push_back(t);
  for (TaskId t : roots) ready(t);
  engine.run();
  if (progress_ && (done_ & progress_mask_) != 0) progress_(done_, n);  // the last call says all are done
  MOESIM_CHECK(done_ == n, "task graph did not complete: {} of {} tasks ran (a dependency cycle?)", done_, n);
  return std::max(t0, last_finish_);
}

void Executor::ready(TaskId id) {
  Task& t = graph_->tasks_[id];
  Engine& engine = transfers_.engine();
  switch (t.kind) {
    case TaskKind::Marker:
      t.start = engine.now();
      finished(id);
      break;
    case TaskKind::Transfer:
      started(t);
      if (t.switch_op != SwitchOp::None)
        transfers_.send_switch(t.switch_op, t.src, graph_->peer_sets_[t.peers], t.bytes, [this, id] { finished(id); });
      else
        transfers_.send(t.src, t.dst, t.bytes, [this, id] { finished(id); }, t.repeat);
      break;
    case TaskKind::Delay:
      started(t);
      engine.schedule_after(t.duration, [this, id] { finished(id); });
      break;
    case TaskKind::Compute: {
      const std::uint64_t key = (std::uint64_t{t.src.value()} << 16) | t.stream;
      const auto idx = static_cast<std::size_t>(std::lower_bound(stream_keys_.begin(), stream_keys_.end(), key) - stream_keys_.begin());
      streams_[idx].queue.push_back(id);
      pump_stream(idx);
      break;
    }
  }
}

void Executor::pump_stream(std::uint64_t idx) {
  StreamState& s = streams_[idx];
  if (s.busy || s.head == s.queue.size()) return;
  const TaskId id = s.queue[s.head++];
  s.busy = true;
  Engine& engine = transfers_.engine();
  Task& t = graph_->tasks_[id];
  started(t);
  engine.schedule_after(t.duration, [this, id, idx] {
    streams_[idx].busy = false;
    finished(id);
    pump_stream(idx);
  });
}

void Executor::on_progress(std::function<void(std::size_t, std::size_t)> progress, std::size_t every) {
  MOESIM_CHECK(every > 0 && (every & (every - 1)) == 0, "on_progress: every = {} is not a power of two", every);
  progress_ = std::move(progress);
  progress_mask_ = every - 1;
}

void Executor::track_busy(int categories) {
  MOESIM_CHECK(categories >= 0, "track_busy: {} categories", categories);
  busy_categories_ = categories;
}

std::size_t Executor::busy_index(GpuId g, int category) const {
  return g.index() * static_cast<std::size_t>(busy_categories_) + static_cast<std::size_t>(category);
}

Time Executor::busy(GpuId g, int category) const {
  MOESIM_CHECK(category >= 0 && category < busy_categories_ && busy_index(g, category) < busy_.size(),
               "busy: GPU {} category {} not tracked", g, category);
  return Time::from_ps(busy_[busy_index(g, category)].total_ps);
}

void Executor::started(Task& t) {
  t.start = transfers_.engine().now();
  if (t.category >= busy_categories_) return;
  const std::size_t i = busy_index(t.src, t.category);
  MOESIM_CHECK(i < busy_.size(), "task on GPU {}, the topology has {}", t.src, busy_.size() / busy_categories_);
  if (busy_[i].running++ == 0) busy_[i].since_ps = t.start.ps();
}

void Executor::finished(TaskId id) {
  Task& t = graph_->tasks_[id];
  t.finish = transfers_.engine().now();
  last_finish_ = t.finish;  // the engine's clock never goes back: the latest finish so far
  if (t.kind != TaskKind::Marker && t.category < busy_categories_) {
    Busy& b = busy_[busy_index(t.src, t.category)];  // started() checked the index
    if (--b.running == 0) b.total_ps += t.finish.ps() - b.since_ps;
  }
  ++done_;
  if (progress_ && (done_ & progress_mask_) == 0) progress_(done_, graph_->tasks_.size());
  for (std::uint32_t e = succ_begin_[id]; e < succ_begin_[id + 1]; ++e) {
    const TaskId s = succ_[e];
    if (--pending_[s] == 0) ready(s);
  }
}

}  // namespace moesim
