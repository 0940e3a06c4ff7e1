#pragma once
// Discrete-event engine: a 4-ary min-heap (sim/dary_heap.h) of events keyed by (time, sequence), so events at
// equal times run in the order they were scheduled. No globals: every simulation owns its
// Engine and passes it by reference (DESIGN.md rule 1); many engines may run in one process.
//
// Complexity: schedule O(log n), pop O(log n), cancel O(1) (lazy: the heap entry is skipped
// when it surfaces). Callbacks are typed lambdas (std::function<void()>); small captures
// (up to 16 bytes, trivially copyable) are stored without allocation.
#include <cstdint>
#include <functional>
#include <vector>

#include "sim/time.h"

namespace moesim {

/// Handle of a scheduled event; valid until the event runs or is cancelled.
struct EventId {
  std::uint32_t slot = UINT32_MAX;
  std::uint32_t generation = 0;
  bool valid() const { return slot != UINT32_MAX; }
};

class Engine {
 public:
  using Callback = std::function<void()>;

  Engine() = default;
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  Time now() const { return now_; }

  /// Runs `cb` at absolute time `at` (>= now(); an earlier time is an InvariantError).
  EventId schedule_at(Time at, Callback cb);
  /// Runs `cb` after `delay` (>= 0).
  EventId schedule_after(Time delay, Callback cb) { return schedule_at(now_ + delay, std::move(cb)); }
  /// Cancels a pending event. Returns false if it already ran or was cancelled.
  bool cancel(EventId id);

  /// Runs events until none are left or stop() is called.
  void run();
  /// Runs events with time <= `until`, then sets now() = max(now(), until) unless stopped.
  void run_until(Time until);
  /// Makes run()/run_until() return after the event in progress.
  void stop() { stopped_ = true; }

  bool empty() const { return live_events_ == 0; }
  std::size_t pending() const { return live_events_; }
  std::uint64_t events_processed() const { return processed_; }

 private:
  struct Entry {
    std::int64_t time_ps;
    std::uint64_t seq;
    std::uint32_t slot;
    std::uint32_t generation;
  };
  struct Slot {
    Callback cb;
    std::uint32_t generation = 0;
    bool live = false;
  };
  static bool before(const Entry& a, const Entry& b) {
    return a.time_ps < b.time_ps || (a.time_ps == b.time_ps && a.seq < b.seq);
  }
  void sift_up(std::size_t i);
  void sift_down(std::size_t i);
  Entry pop_top();
  /// Pops and runs the next live event with time <= limit; false if there is none.
  bool step(std::int64_t limit_ps);

  std::vector<Entry> heap_;
  std::vector<Slot> slots_;
  std::vector<std::uint32_t> free_slots_;
  Time now_;
  std::uint64_t next_seq_ = 0;
  std::uint64_t processed_ = 0;
  std::size_t live_events_ = 0;
  bool stopped_ = false;
};

}  // namespace moesim
