#include "sim/network.h"

#include <algorithm>
#include <cmath>

#include "sim/dary_heap.h"
#include "sim/error.h"
#include "sim/free_slots.h"

namespace moesim {

Network::Network(Engine& engine, std::span<const LinkSpec> links, Options options)
    : engine_(engine), options_(options), links_(links.begin(), links.end()), stats_(links.size()),
      active_on_link_(links.size(), 0), busy_since_ps_(links.size(), 0) {
  for (std::size_t i = 0; i < links_.size(); ++i) {
    MOESIM_CHECK(links_[i].capacity_Bps > 0 && std::isfinite(links_[i].capacity_Bps),
                 "link {} ({}) has capacity {} B/s; must be finite and > 0", i, links_[i].kind, links_[i].capacity_Bps);
    system_.add_constraint(links_[i].capacity_Bps);  // constraint id == link index
  }
}

void Network::start_flow(FlowSpec spec) {
  MOESIM_CHECK(spec.bytes >= 0 && std::isfinite(spec.bytes), "flow size must be finite and >= 0, got {}", spec.bytes);
  MOESIM_CHECK(spec.rate_cap_Bps > 0, "flow rate cap must be > 0, got {}", spec.rate_cap_Bps);
  MOESIM_CHECK(spec.efficiency > 0 && spec.efficiency <= 1, "flow efficiency must be in (0, 1], got {}", spec.efficiency);
  for (LinkId l : spec.path) MOESIM_CHECK(l.index() < links_.size(), "flow path uses unknown link {}", l);
  const std::uint32_t f = take_slot(flows_, free_flows_);
  Flow& flow = flows_[f];
  flow.bytes = spec.bytes;
  flow.wire_bytes = spec.bytes / spec.efficiency;
  flow.key = flow.wire_bytes;
  flow.group = UINT32_MAX;
  flow.heap_pos = UINT32_MAX;
  flow.end_delay = spec.end_delay;
  flow.on_complete = std::move(spec.on_complete);
  ++active_flows_;

  if (spec.bytes == 0 || spec.path.empty()) {
    // No link is used: only the delays and (for a local copy) the rate cap.
    Time t = spec.start_delay + spec.end_delay;
    if (spec.bytes > 0 && std::isfinite(spec.rate_cap_Bps)) t += Time::from_seconds_ceil(flow.wire_bytes / spec.rate_cap_Bps);
    engine_.schedule_after(t, [this, f] {
      auto cb = std::move(flows_[f].on_complete);
      flows_[f].on_complete = nullptr;
      free_flows_.push_back(f);
      --active_flows_;
      ++flows_completed_;
      if (cb) cb();
    });
    return;
  }
  if (spec.start_delay == Time::zero()) {
    join(f, spec.path, spec.rate_cap_Bps);
    return;
  }
  // Flows that start moving at the same instant share one engine event (an all-to-all
  // issues hundreds of sends with the same overhead); they join in the order started.
  const std::int64_t at = (engine_.now() + spec.start_delay).ps();
  auto [it, fresh] = join_batch_at_.try_emplace(at, 0u);
  if (fresh) {
    it->second = take_slot(join_batches_, free_join_batches_);
    const std::uint32_t b = it->second;
    engine_.schedule_at(Time::from_ps(at), [this, at, b] { run_join_batch(at, b); });
  }
  JoinBatch& batch = join_batches_[it->second];
  batch.joins.push_back({f, static_cast<std::uint32_t>(batch.links.size()), static_cast<std::uint32_t>(spec.path.size()),
                         spec.rate_cap_Bps});
  batch.links.insert(batch.links.end(), spec.path.begin(), spec.path.end());
}

void Network::run_join_batch(std::int64_t at, std::uint32_t b) {
  join_batch_at_.erase(at);
  JoinBatch& batch = join_batches_[b];  // join() starts no flows, so the batch stays put
  for (const PendingJoin& j : batch.joins)
    join(j.flow, std::span<const LinkId>(batch.links).subspan(j.first_link, j.links), j.rate_cap);
  batch.joins.clear();
  batch.links.clear();
  free_join_batches_.push_back(b);
}

void Network::join(std::uint32_t f, std::span<const LinkId> path, double rate_cap) {
  static_assert(sizeof(LinkId) == sizeof(MaxMinSystem::ConstraintId));
  std::vector<MaxMinSystem::ConstraintId>& cons = join_cons_;
  cons.resize(path.size());
  for (std::size_t i = 0; i < path.size(); ++i) cons[i] = path[i].value();
  std::sort(cons.begin(), cons.end());
  MOESIM_CHECK(std::adjacent_find(cons.begin(), cons.end()) == cons.end(), "flow path crosses a link twice");
  const auto var = system_.add_variable(cons, rate_cap);
  if (var_to_flow_.size() <= var) var_to_flow_.resize(var + 1);
  var_to_flow_[var] = f;
  flows_[f].var = var;
  const std::int64_t now = engine_.now().ps();
  for (auto c : cons) {
    if (active_on_link_[c]++ == 0) busy_since_ps_[c] = now;
    stats_[c].peak_flows = std::max(stats_[c].peak_flows, active_on_link_[c]);
  }
  request_solve();
}

void Network::request_solve() {
  if (solve_pending_) return;
  solve_pending_ = true;
  engine_.schedule_after(Time::zero(), [this] { solve(); });
}

void Network::solve() {
  solve_pending_ = false;
  system_.solve(&changed_groups_, &moved_);
  const std::int64_t now = engine_.now().ps();
  if (groups_.size() < system_.group_count()) groups_.resize(system_.group_count());
  ++epoch_;
  touched_groups_.clear();
  auto touch = [&](std::uint32_t g) {
    if (groups_[g].stamp != epoch_) {
      groups_[g].stamp = epoch_;
      touched_groups_.push_back(g);
    }
  };
  // New levels: settle the bytes moved at the old rate, then continue at the new one.
  for (auto g : changed_groups_) {
    settle(g, now);
    groups_[g].rate = system_.group_level(g);
    touch(g);
  }
  // Flows that changed group (or joined one) carry their remaining bytes over.
  for (auto var : moved_) {
    const std::uint32_t f = var_to_flow_[var];
    Flow& flow = flows_[f];
    double remaining = flow.key;
    if (flow.group != UINT32_MAX) {
      settle(flow.group, now);
      remaining = std::max(0.0, flow.key - groups_[flow.group].served);
      member_remove(flow.group, f);
      touch(flow.group);
    }
    const std::uint32_t g = system_.group_of(var);
    Group& group = groups_[g];
    if (group.heap.empty()) {  // (re)starts: the solver's level is its rate, time starts now
      group.rate = system_.group_level(g);
      group.served = 0;
      group.last_ps = now;
    } else {
      settle(g, now);
    }
    flow.key = group.served + remaining;
    flow.group = g;
    member_insert(g, f);
    touch(g);
  }
  for (auto g : touched_groups_) update_group_finish(g);
  arm_completion_event();
}

void Network::settle(std::uint32_t g, std::int64_t now) {
  Group& group = groups_[g];
  if (now == group.last_ps) return;
  group.served += group.rate * static_cast<double>(now - group.last_ps) * 1e-12;
  group.last_ps = now;
}

std::int64_t Network::member_finish(const Group& group, double key) const {
  MOESIM_CHECK(group.rate > 0, "flow got a zero rate (a zero-capacity link on its path?)");
  return group.last_ps + Time::from_seconds_ceil(std::max(0.0, key - group.served) / group.rate).ps();
}

void Network::update_group_finish(std::uint32_t g) {
  const Group& group = groups_[g];
  if (group.heap.empty()) {
    if (group.finish_pos != UINT32_MAX) heap_remove(g);
    return;
  }
  heap_set(g, member_finish(group, group.heap.front().key));
}

void Network::member_up(Group& group, std::size_t i) {
  const Member e = group.heap[i];
  while (i > 0) {
    const std::size_t parent = heap_parent(i);
    if (!member_before(e, group.heap[parent])) break;
    group.heap[i] = group.heap[parent];
    flows_[group.heap[i].flow].heap_pos = static_cast<std::uint32_t>(i);
    i = parent;
  }
  group.heap[i] = e;
  flows_[e.flow].heap_pos = static_cast<std::uint32_t>(i);
}

void Network::member_down(Group& group, std::size_t i) {
  const Member e = group.heap[i];
  for (;;) {
    const std::size_t child = heap_min_child(group.heap, i, member_before);
    if (child == group.heap.size() || !member_before(group.heap[child], e)) break;
    group.heap[i] = group.heap[child];
    flows_[group.heap[i].flow].heap_pos = static_cast<std::uint32_t>(i);
    i = child;
  }
  group.heap[i] = e;
  flows_[e.flow].heap_pos = static_cast<std::uint32_t>(i);
}

void Network::member_insert(std::uint32_t g, std::uint32_t f) {
  Group& group = groups_[g];
  group.heap.push_back(Member{flows_[f].key, f});
  member_up(group, group.heap.size() - 1);
}

void Network::member_remove(std::uint32_t g, std::uint32_t f) {
  Group& group = groups_[g];
  const std::uint32_t pos = flows_[f].heap_pos;
  MOESIM_CHECK(pos < group.heap.size() && group.heap[pos].flow == f, "flow {} is not in its group's heap", f);
  flows_[f].heap_pos = UINT32_MAX;
  const Member last = group.heap.back();
  group.heap.pop_back();
  if (pos == group.heap.size()) return;
  group.heap[pos] = last;
  member_up(group, pos);
  member_down(group, flows_[last.flow].heap_pos);
}

void Network::heap_up(std::size_t i) {
  const Finish e = finish_heap_[i];
  while (i > 0) {
    const std::size_t parent = heap_parent(i);
    if (!earlier(e, finish_heap_[parent])) break;
    finish_heap_[i] = finish_heap_[parent];
    groups_[finish_heap_[i].group].finish_pos = static_cast<std::uint32_t>(i);
    i = parent;
  }
  finish_heap_[i] = e;
  groups_[e.group].finish_pos = static_cast<std::uint32_t>(i);
}

void Network::heap_down(std::size_t i) {
  const Finish e = finish_heap_[i];
  for (;;) {
    const std::size_t child = heap_min_child(finish_heap_, i, earlier);
    if (child == finish_heap_.size() || !earlier(finish_heap_[child], e)) break;
    finish_heap_[i] = finish_heap_[child];
    groups_[finish_heap_[i].group].finish_pos = static_cast<std::uint32_t>(i);
    i = child;
  }
  finish_heap_[i] = e;
  groups_[e.group].finish_pos = static_cast<std::uint32_t>(i);
}

void Network::heap_set(std::uint32_t g, std::int64_t time_ps) {
  std::uint32_t& pos = groups_[g].finish_pos;
  if (pos == UINT32_MAX) {
    finish_heap_.push_back(Finish{time_ps, g});
    heap_up(finish_heap_.size() - 1);
    return;
  }
  const bool up = time_ps < finish_heap_[pos].time_ps;
  finish_heap_[pos].time_ps = time_ps;
  if (up) heap_up(pos);
  else heap_down(pos);
}

void Network::heap_remove(std::uint32_t g) {
  const std::uint32_t pos = groups_[g].finish_pos;
  MOESIM_CHECK(pos != UINT32_MAX, "group {} is not in the finish heap", g);
  groups_[g].finish_pos = UINT32_MAX;
  const Finish last = finish_heap_.back();
  finish_heap_.pop_back();
  if (pos == finish_heap_.size()) return;
  finish_heap_[pos] = last;
  groups_[last.group].finish_pos = pos;
  heap_up(pos);
  heap_down(groups_[last.group].finish_pos);
}

void Network::arm_completion_event() {
  if (finish_heap_.empty()) return;
  const std::int64_t t = finish_heap_.front().time_ps + options_.completion_window.ps();
  if (t >= completion_event_ps_ && completion_event_.valid()) return;
  if (completion_event_.valid()) engine_.cancel(completion_event_);
  completion_event_ps_ = t;
  completion_event_ = engine_.schedule_at(Time::from_ps(t), [this] { on_completion_event(); });
}

void Network::on_completion_event() {
  completion_event_ = EventId{};
  completion_event_ps_ = INT64_MAX;
  const std::int64_t now = engine_.now().ps();
  // Every flow whose last byte has left by now, in (finish time, flow slot) order.
  done_list_.clear();
  while (!finish_heap_.empty() && finish_heap_.front().time_ps <= now) {
    const std::uint32_t g = finish_heap_.front().group;
    Group& group = groups_[g];
    while (!group.heap.empty()) {
      const std::int64_t t = member_finish(group, group.heap.front().key);
      if (t > now) break;
      const std::uint32_t f = group.heap.front().flow;
      member_remove(g, f);
      flows_[f].group = UINT32_MAX;
      done_list_.push_back({t, f});
    }
    update_group_finish(g);
  }
  // Without a completion window every flow done now ended now: then the order is by slot
  // alone, sorted as plain integers.
  const bool all_now = std::all_of(done_list_.begin(), done_list_.end(), [now](const Done& d) { return d.time_ps == now; });
  if (!all_now)
    std::sort(done_list_.begin(), done_list_.end(),
              [](const Done& a, const Done& b) { return a.time_ps < b.time_ps || (a.time_ps == b.time_ps && a.flow < b.flow); });
  done_.clear();
  for (const Done& d : done_list_) done_.push_back(d.flow);
  if (all_now) std::sort(done_.begin(), done_.end());
  for (std::uint32_t f : done_) {
    Flow& flow = flows_[f];
    for (auto c : system_.constraints_of(flow.var)) {
      stats_[c].bytes += flow.bytes;
      stats_[c].wire_bytes += flow.wire_bytes;
      if (--active_on_link_[c] == 0) stats_[c].busy += Time::from_ps(now - busy_since_ps_[c]);
    }
    system_.remove_variable(flow.var);
  }
  if (!done_.empty()) request_solve();
  // Deliver after the bookkeeping so callbacks may start new flows safely.
  std::vector<std::uint32_t> done;
  done.swap(done_);
  open_deliveries_.clear();  // batches of earlier completion events are closed
  for (std::uint32_t f : done) deliver(f);
  if (done_.empty()) done_.swap(done);  // keep the buffer
  arm_completion_event();
}

void Network::deliver(std::uint32_t f) {
  Flow& flow = flows_[f];
  auto cb = std::move(flow.on_complete);
  flow.on_complete = nullptr;
  const Time end_delay = flow.end_delay;
  free_flows_.push_back(f);
  --active_flows_;
  ++flows_completed_;
  if (!cb) return;
  if (end_delay == Time::zero()) {
    open_deliveries_.clear();  // what cb schedules must run after the batches opened so far
    cb();
    return;
  }
  const std::int64_t at = (engine_.now() + end_delay).ps();
  for (std::uint32_t b : open_deliveries_)
    if (delivery_batches_[b].at_ps == at) {
      delivery_batches_[b].callbacks.push_back(std::move(cb));
      return;
    }
  const std::uint32_t b = take_slot(delivery_batches_, free_delivery_batches_);
  delivery_batches_[b].at_ps = at;
  delivery_batches_[b].callbacks.push_back(std::move(cb));
  open_deliveries_.push_back(b);
  engine_.schedule_at(Time::from_ps(at), [this, b] { run_delivery_batch(b); });
}

void Network::run_delivery_batch(std::uint32_t b) {
  // The callbacks run from a local vector: they start flows, which may grow the pools.
  std::vector<std::function<void()>> callbacks;
  callbacks.swap(delivery_batches_[b].callbacks);
  for (auto& cb : callbacks) cb();
  callbacks.clear();
  delivery_batches_[b].callbacks.swap(callbacks);  // keep the buffer
  free_delivery_batches_.push_back(b);
}

}  // namespace moesim
