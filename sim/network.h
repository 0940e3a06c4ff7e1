#pragma once
// Flow-level network: directed links with capacity and latency; flows share links by
// max-min fairness (sim/maxmin.h), re-solved when flows start or end (only the affected
// components; all starts and ends at the same instant are batched into one solve).
//
// A flow's life (DESIGN.md "Network"): it is started at t0, waits `start_delay` (the
// transport's per-message overhead), moves its bytes at the max-min rate it is given, and
// is delivered `end_delay` after its last byte left (the path latency). A lone flow of s
// bytes on a link of capacity C and latency L with no overhead takes exactly L + s / C
// (rounded up to 1 ps).
//
// Protocol efficiency eta (0 < eta <= 1) is a property of the bytes on the wire, not of one
// flow: a flow of s payload bytes occupies s / eta of link capacity (headers, flags, LL
// words), so a lone flow takes s / (eta C) and any number of flows sharing a link deliver
// eta C together. `rate_cap_Bps` is a separate per-flow limit on the wire rate (e.g. one
// RDMA queue pair's ceiling); unbounded by default.
//
// Completion window (an accuracy/speed knob, like SimGrid's surf/precision): with window
// w > 0, the flows whose last byte leaves within w after the earliest one are completed
// together at the later time, so the solver runs once for them. A flow is never early and
// at most w late. w = 0 (the default) is exact.
//
// Ownership: the Network holds a reference to the Engine (which must outlive it) and owns
// its flow and link state. Not thread-safe; one Network per simulation.
#include <cstdint>
#include <functional>
#include <span>
#include <unordered_map>
#include <vector>

#include "sim/engine.h"
#include "sim/ids.h"
#include "sim/link.h"
#include "sim/maxmin.h"
#include "sim/time.h"

namespace moesim {

struct LinkStats {
  double bytes = 0;             // payload bytes carried (credited when each flow completes)
  double wire_bytes = 0;        // bytes / efficiency: what occupied the link
  Time busy;                    // time with at least one flow in its bandwidth phase
  std::uint32_t peak_flows = 0; // most flows at once
};

class Network {
 public:
  struct FlowSpec {
    std::span<const LinkId> path;   // copied; may be empty (a local copy: only delays and the cap)
    double bytes = 0;               // >= 0
    double efficiency = 1.0;        // payload share of the wire bytes, in (0, 1]
    double rate_cap_Bps = MaxMinSystem::kUnbounded;
    Time start_delay;               // paid before the first byte moves
    Time end_delay;                 // paid after the last byte moves
    std::function<void()> on_complete;
  };

  struct Options {
    Time completion_window;  // see above; 0 = exact
  };

  Network(Engine& engine, std::span<const LinkSpec> links, Options options = {});
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  /// Starts a flow now. The callback runs when the flow is delivered.
  void start_flow(FlowSpec spec);

  /// Declares that every flow that will cross link `l` also crosses `by`, whose capacity is
  /// smaller (or equal, with a smaller index): `l` never limits a rate, and the solver keeps
  /// no list of its flows (sim/maxmin.h, "Declared domination"). Before any flow uses `l`. A
  /// flow that crosses `l` but not `by` ends the declaration (slower, same rates).
  void declare_dominated(LinkId l, LinkId by) { system_.declare_dominated(l.value(), by.value()); }
  bool declared_dominated(LinkId l) const { return system_.declared_dominated(l.value()); }
  /// The solver's order of domination: `by` may dominate `l` (what declare_dominated requires).
  bool may_dominate(LinkId by, LinkId l) const { return system_.dominates(by.value(), l.value()); }

  std::size_t active_flows() const { return active_flows_; }
  std::span<const LinkStats> link_stats() const { return stats_; }
  const LinkSpec& link(LinkId l) const { return links_[l.index()]; }
  std::size_t link_count() const { return links_.size(); }
  /// Solver counters (for benchmarks and PERFORMANCE.md).
  const MaxMinSystem::Stats& solver_stats() const { return system_.stats(); }
  std::uint64_t flows_completed() const { return flows_completed_; }

 private:
  // A flow's progress is kept in its group's virtual time (sim/maxmin.h: every member of a
  // group has the group's rate). A group's `served` counts the wire bytes each member has
  // moved since the group's origin; a member finishes when `served` reaches its `key`. A
  // change of the group's rate therefore touches one group, not its flows, and a flow is
  // touched only when it changes group.
  struct Flow {
    // What the solves and the group heaps touch comes first, so those fields share a line.
    double key = 0;                 // finishes when its group's served reaches this; before it
                                    // joins a group: the wire bytes still to move
    std::uint32_t group = UINT32_MAX;
    std::uint32_t heap_pos = UINT32_MAX;  // index in its group's member heap
    MaxMinSystem::VarId var = 0;
    double bytes = 0;               // payload
    double wire_bytes = 0;          // payload / efficiency
    Time end_delay;
    std::function<void()> on_complete;
  };
  struct Member {
    double key;
    std::uint32_t flow;
  };
  static bool member_before(const Member& a, const Member& b) {
    return a.key < b.key || (a.key == b.key && a.flow < b.flow);
  }
  struct alignas(64) Group {  // one cache line each
    double rate = 0;                // the solver's level for the group
    double served = 0;              // wire bytes per member moved since the origin, at last_ps
    std::int64_t last_ps = 0;
    std::vector<Member> heap;       // 4-ary min-heap by key (sim/dary_heap.h)
    std::uint32_t finish_pos = UINT32_MAX;  // index in finish_heap_, or none
    std::uint32_t stamp = 0;
  };
  // Indexed 4-ary min-heap of the groups by the finish time of their first member (ties:
  // group id): O(log G) per change.
  struct Finish {
    std::int64_t time_ps;
    std::uint32_t group;
  };
  static bool earlier(const Finish& a, const Finish& b) {
    return a.time_ps < b.time_ps || (a.time_ps == b.time_ps && a.group < b.group);
  }
  void settle(std::uint32_t g, std::int64_t now);
  std::int64_t member_finish(const Group& g, double key) const;
  void member_insert(std::uint32_t g, std::uint32_t f);
  void member_remove(std::uint32_t g, std::uint32_t f);
  void member_up(Group& g, std::size_t i);
  void member_down(Group& g, std::size_t i);
  void update_group_finish(std::uint32_t g);
  void heap_set(std::uint32_t g, std::int64_t time_ps);
  void heap_remove(std::uint32_t g);
  void heap_up(std::size_t i);
  void heap_down(std::size_t i);

  void join(std::uint32_t flow_slot, std::span<const LinkId> path, double rate_cap);
  void run_join_batch(std::int64_t at, std::uint32_t batch);
  void request_solve();
  void solve();
  void arm_completion_event();
  void on_completion_event();
  void deliver(std::uint32_t f);
  void run_delivery_batch(std::uint32_t batch);

  Engine& engine_;
  Options options_;
  std::vector<LinkSpec> links_;
  std::vector<LinkStats> stats_;
  std::vector<std::uint32_t> active_on_link_;
  std::vector<std::int64_t> busy_since_ps_;
  MaxMinSystem system_;
  std::vector<Flow> flows_;
  std::vector<std::uint32_t> free_flows_;
  std::vector<std::uint32_t> var_to_flow_;
  std::vector<Group> groups_;       // by the solver's group id
  std::vector<Finish> finish_heap_;
  std::vector<MaxMinSystem::GroupId> changed_groups_;
  std::vector<MaxMinSystem::VarId> moved_;
  std::vector<std::uint32_t> touched_groups_;
  std::uint32_t epoch_ = 0;
  struct Done {
    std::int64_t time_ps;
    std::uint32_t flow;
  };
  std::vector<Done> done_list_;
  // Flows waiting out their start delay, batched by the instant they join.
  struct PendingJoin {
    std::uint32_t flow;
    std::uint32_t first_link;
    std::uint32_t links;
    double rate_cap;
  };
  struct JoinBatch {
    std::vector<PendingJoin> joins;
    std::vector<LinkId> links;
  };
  std::unordered_map<std::int64_t, std::uint32_t> join_batch_at_;
  std::vector<JoinBatch> join_batches_;
  std::vector<std::uint32_t> free_join_batches_;
  std::vector<MaxMinSystem::ConstraintId> join_cons_;
  std::vector<std::uint32_t> done_;
  // Deliveries of one completion event, batched by the instant they are due (the flows that
  // end together mostly share a path latency): one engine event per batch, callbacks in the
  // order the flows completed. Open batches (this event's) are looked up by time; a delivery
  // that runs at once (no end delay) closes them, so later ones cannot overtake what it
  // schedules.
  struct DeliveryBatch {
    std::int64_t at_ps = 0;
    std::vector<std::function<void()>> callbacks;
  };
  std::vector<DeliveryBatch> delivery_batches_;
  std::vector<std::uint32_t> free_delivery_batches_;
  std::vector<std::uint32_t> open_deliveries_;
  EventId completion_event_;
  std::int64_t completion_event_ps_ = INT64_MAX;
  bool solve_pending_ = false;
  std::size_t active_flows_ = 0;
  std::uint64_t flows_completed_ = 0;
};

}  // namespace moesim
