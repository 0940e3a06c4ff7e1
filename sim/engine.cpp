#include "sim/engine.h"

#include "sim/dary_heap.h"

#include "sim/error.h"
#include "sim/free_slots.h"

namespace moesim {

EventId Engine::schedule_at(Time at, Callback cb) {
  MOESIM_CHECK(at >= now_, "event scheduled in the past: at={} now={}", at, now_);
  const std::uint32_t slot = take_slot(slots_, free_slots_);
  Slot& s = slots_[slot];
  s.cb = std::move(cb);
  s.live = true;
  heap_.push_back(Entry{at.ps(), next_seq_++, slot, s.generation});
  sift_up(heap_.size() - 1);
  ++live_events_;
  return EventId{slot, s.generation};
}

bool Engine::cancel(EventId id) {
  if (!id.valid() || id.slot >= slots_.size()) return false;
  Slot& s = slots_[id.slot];
  if (!s.live || s.generation != id.generation) return false;
  s.live = false;
  s.cb = nullptr;
  ++s.generation;  // the heap entry becomes stale and is skipped when popped
  free_slots_.push_back(id.slot);
  --live_events_;
  return true;
}

void Engine::sift_up(std::size_t i) {
  Entry e = heap_[i];
  while (i > 0) {
    const std::size_t parent = heap_parent(i);
    if (!before(e, heap_[parent])) break;
    heap_[i] = heap_[parent];
    i = parent;
  }
  heap_[i] = e;
}

void Engine::sift_down(std::size_t i) {
  Entry e = heap_[i];
  for (;;) {
    const std::size_t child = heap_min_child(heap_, i, before);
    if (child == heap_.size() || !before(heap_[child], e)) break;
    heap_[i] = heap_[child];
    i = child;
  }
  heap_[i] = e;
}

Engine::Entry Engine::pop_top() {
  Entry top = heap_.front();
  heap_.front() = heap_.back();
  heap_.pop_back();
  if (!heap_.empty()) sift_down(0);
  return top;
}

bool Engine::step(std::int64_t limit_ps) {
  while (!heap_.empty()) {
    if (heap_.front().time_ps > limit_ps) return false;
    const Entry e = pop_top();
    Slot& s = slots_[e.slot];
    if (!s.live || s.generation != e.generation) continue;  // cancelled
    Callback cb = std::move(s.cb);
    s.cb = nullptr;
    s.live = false;
    ++s.generation;
    free_slots_.push_back(e.slot);
    --live_events_;
    now_ = Time::from_ps(e.time_ps);
    ++processed_;
    cb();
    return true;
  }
  return false;
}

void Engine::run() {
  stopped_ = false;
  while (!stopped_ && step(INT64_MAX)) {
  }
}

void Engine::run_until(Time until) {
  stopped_ = false;
  while (!stopped_ && step(until.ps())) {
  }
  if (!stopped_ && until > now_) now_ = until;
}

}  // namespace moesim
