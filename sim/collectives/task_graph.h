#pragma once
// A DAG of tasks (transfers between GPUs, compute on a GPU, markers) and its executor.
// Collectives and the training step build graphs; the executor replays them on the
// engine + network and records each task's start and finish.
//
// Semantics: a task starts when all its predecessors have finished. Transfers go through
// TransferService (overhead, max-min sharing, latency). Compute tasks of one GPU stream run
// one at a time, in the order they become ready (ties: lower task id first). Delays take
// their duration with no stream and no network (a collective priced by the fluid model,
// sim/collectives/fluid.h). Markers take no time (joins / barriers).
//
// Memory: ~64 bytes per task + 8 per edge. Edges are kept as a list and turned into CSR at
// run(), so building a million-task graph needs no per-task allocation.
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "sim/collectives/transfer.h"
#include "sim/huge_pages.h"
#include "sim/time.h"

namespace moesim {

using TaskId = std::uint32_t;

enum class TaskKind : std::uint8_t { Transfer, Compute, Marker, Delay };

struct Task {
  TaskKind kind = TaskKind::Marker;
  std::uint8_t category = 0;   // caller-defined label (breakdowns, traces)
  std::uint16_t stream = 0;    // compute stream on the GPU
  std::uint16_t repeat = 1;    // transfer: messages it stands for (TransferService::send)
  SwitchOp switch_op = SwitchOp::None;  // transfer: an NVLS message of src (= dst) among peer set `peers`
  GpuId src;                   // transfer source; compute / delay GPU
  GpuId dst;                   // transfer destination
  std::uint32_t peers = 0;     // NVLS transfer: TaskGraph::peer_set index
  double bytes = 0;
  Time duration;               // compute / delay time
  Time start = Time::max();
  Time finish = Time::max();
};

class TaskGraph {
 public:
  TaskId add_transfer(GpuId src, GpuId dst, double bytes, std::uint8_t category = 0, std::uint16_t repeat = 1);
  /// The GPUs among which NVLS transfers run (one node's group ranks); returns its index.
  std::uint32_t add_peer_set(std::vector<GpuId> gpus);
  std::span<const GpuId> peer_set(std::uint32_t i) const { return peer_sets_[i]; }
  /// An NVLS message of `gpu` among peer set `peers` (TransferService::send_switch).
  TaskId add_switch_transfer(SwitchOp op, GpuId gpu, std::uint32_t peers, double bytes, std::uint8_t category = 0);
  TaskId add_compute(GpuId gpu, Time duration, std::uint8_t category = 0, std::uint16_t stream = 0);
  TaskId add_marker(std::uint8_t category = 0);
  /// `duration` on `gpu`'s behalf, overlapping anything else (no stream, no network).
  TaskId add_delay(GpuId gpu, Time duration, std::uint8_t category = 0);
  /// `after` starts only when `before` has finished.
  void depend(TaskId before, TaskId after);

  std::size_t size() const { return tasks_.size(); }
  std::size_t edge_count() const { return edges_.size(); }
  /// Point-to-point transfers (TaskKind::Transfer): the messages a flow replay moves.
  std::size_t transfer_count() const {
    std::size_t n = 0;
    for (const Task& t : tasks_) n += t.kind == TaskKind::Transfer;
    return n;
  }
  const Task& task(TaskId t) const { return tasks_[t]; }
  const std::vector<Task>& tasks() const { return tasks_; }
  /// Reserves room (in huge pages where the kernel gives them: sim/huge_pages.h).
  void reserve(std::size_t tasks, std::size_t edges) {
    tasks_.reserve(tasks);
    edges_.reserve(edges);
    advise_huge_pages(tasks_);
    advise_huge_pages(edges_);
  }

 private:
  friend class Executor;
  std::vector<Task> tasks_;
  std::vector<std::pair<TaskId, TaskId>> edges_;
  std::vector<std::vector<GpuId>> peer_sets_;
};

class Executor {
 public:
  explicit Executor(TransferService& transfers) : transfers_(transfers) {}
  /// Runs the whole graph to completion (engine.run()); returns the time the last task ended.
  /// Throws InvariantError if the graph has a cycle (some task never ran).
  Time run(TaskGraph& graph);

  /// Before run(): also measure, per (source GPU, category < `categories`), how long at least
  /// one of its tasks was running: the length of the union of their [start, finish)
  /// intervals (markers excluded). O(1) per task; a caller's breakdown needs no sort.
  void track_busy(int categories);
  /// After run() with track_busy(): that length for GPU `g` and `category`.
  Time busy(GpuId g, int category) const;
  /// Before run(): call `progress(done, total)` each time another `every` tasks (a power of
  /// two) have finished, and once more when all have. On the running thread, between events.
  void on_progress(std::function<void(std::size_t done, std::size_t total)> progress, std::size_t every);

 private:
  void ready(TaskId t);
  void finished(TaskId t);
  void pump_stream(std::uint64_t key);
  void started(Task& t);  // sets t.start to now
  std::size_t busy_index(GpuId g, int category) const;  // into busy_

  TransferService& transfers_;
  TaskGraph* graph_ = nullptr;
  std::vector<std::uint32_t> pending_;
  std::vector<std::uint32_t> succ_begin_;
  std::vector<TaskId> succ_;
  struct StreamState {
    bool busy = false;
    std::vector<TaskId> queue;  // ready compute tasks, FIFO
    std::size_t head = 0;
  };
  std::vector<StreamState> streams_;
  std::vector<std::uint64_t> stream_keys_;
  std::size_t done_ = 0;
  Time last_finish_;
  std::function<void(std::size_t, std::size_t)> progress_;
  std::size_t progress_mask_ = 0;  // every - 1
  // track_busy(): per (GPU, category), tasks running, since when, and the busy time so far.
  struct Busy {
    std::uint32_t running = 0;
    std::int64_t since_ps = 0;
    std::int64_t total_ps = 0;
  };
  int busy_categories_ = 0;
  std::vector<Busy> busy_;
};

}  // namespace moesim
