#include "sim/maxmin.h"

#include <algorithm>
#include <bit>
#include <cmath>

#include "sim/error.h"

namespace moesim {
namespace {
// Variables below (1 - kFixMargin) * threshold keep their value. The margin only makes the
// kept set smaller (always correct); it absorbs rounding in the stored rates.
constexpr double kFixMargin = 1e-9;
}  // namespace

MaxMinSystem::ConstraintId MaxMinSystem::add_constraint(double capacity) {
  MOESIM_CHECK(capacity >= 0 && std::isfinite(capacity), "constraint capacity must be finite and >= 0, got {}", capacity);
  cons_.emplace_back();
  cons_.back().capacity = capacity;
  is_dirty_.push_back(0);
  return static_cast<ConstraintId>(cons_.size() - 1);
}

void MaxMinSystem::set_capacity(ConstraintId c, double capacity) {
  MOESIM_CHECK(capacity >= 0 && std::isfinite(capacity), "constraint capacity must be finite and >= 0, got {}", capacity);
  cons_[c].capacity = capacity;
  need_full_ = true;
  mark_dirty(c);
}

void MaxMinSystem::mark_dirty(ConstraintId c) {
  if (!is_dirty_[c]) {
    is_dirty_[c] = 1;
    dirty_cons_.push_back(c);
  }
}

MaxMinSystem::VarId MaxMinSystem::add_variable(std::span<const ConstraintId> constraints, double bound) {
  MOESIM_CHECK(bound > 0, "variable bound must be > 0, got {}", bound);
  MOESIM_CHECK(!constraints.empty() || std::isfinite(bound), "a variable needs a constraint or a finite bound");
  VarId v;
  if (!free_vars_.empty()) {
    v = free_vars_.back();
    free_vars_.pop_back();
  } else {
    v = static_cast<VarId>(vars_.size());
    vars_.emplace_back();
  }
  Var& var = vars_[v];
  const auto n = static_cast<std::uint32_t>(constraints.size());
  MOESIM_CHECK(n <= 0xFFFF, "a variable on {} constraints", n);
  var.n = static_cast<std::uint16_t>(n);
  if (n > 0) {
    const auto cls = static_cast<std::uint8_t>(std::bit_width(n - 1));
    if (free_blocks_.size() <= cls) free_blocks_.resize(cls + 1u);
    if (free_blocks_[cls].empty()) {
      var.slot = static_cast<std::uint32_t>(var_cons_.size());
      var_cons_.resize(var_cons_.size() + (std::size_t{1} << cls));
      var_pos_.resize(var_cons_.size());
    } else {
      var.slot = free_blocks_[cls].back();
      free_blocks_[cls].pop_back();
    }
    var.size_class = cls;
  }
  var.bound = bound;
  var.value = 0;
  var.alive = true;
  var.fresh = false;
  for (std::uint32_t k = 0; k < n; ++k) {
    const ConstraintId c = constraints[k];
    MOESIM_CHECK(c < cons_.size(), "unknown constraint {}", c);
    var_cons_[var.slot + k] = c;
    var_pos_[var.slot + k] = static_cast<std::uint32_t>(cons_[c].vars.size());
    cons_[c].vars.push_back(v);
    mark_dirty(c);
  }
  if (constraints.empty()) {
    var.value = bound;  // a bound-only variable is alone: its value is its bound
  } else {
    var.fresh = true;
    fresh_.push_back(v);
  }
  ++live_vars_;
  return v;
}

void MaxMinSystem::remove_variable(VarId v) {
  MOESIM_CHECK(alive(v), "removing a dead variable {}", v);
  Var& var = vars_[v];
  for (std::uint32_t k = 0; k < var.n; ++k) {
    const ConstraintId ck = var_cons_[var.slot + k];
    Constraint& c = cons_[ck];
    const std::uint32_t p = var_pos_[var.slot + k];
    const VarId moved = c.vars.back();
    c.vars[p] = moved;
    c.vars.pop_back();
    if (moved != v) {
      const Var& mv = vars_[moved];
      for (std::uint32_t j = 0; j < mv.n; ++j)
        if (var_cons_[mv.slot + j] == ck) {
          var_pos_[mv.slot + j] = p;
          break;
        }
    }
    c.load -= var.value;
    mark_dirty(ck);
  }
  if (var.n > 0 && !var.fresh) {
    threshold_ = std::min(threshold_, var.value);  // fact (1)
    ++stale_in_order_;
  }
  if (var.n > 0) free_blocks_[var.size_class].push_back(var.slot);
  var.alive = false;
  var.fresh = false;
  var.value = 0;
  ++var.generation;
  var.n = 0;
  free_vars_.push_back(v);
  --live_vars_;
}

double MaxMinSystem::load(ConstraintId c) const {
  double s = 0;
  for (VarId v : cons_[c].vars) s += vars_[v].value;
  return s;
}

// Filling freezes variables at non-decreasing levels, but only up to rounding: a value a hair
// below a long run of equal values would make an insertion sort quadratic (it did, with
// ~260k equal-rate flows). A stable sort by value is O(n log n) whatever the input, and
// keeps the (deterministic) freeze order among equal values.
void MaxMinSystem::sort_by_value(std::vector<VarId>& vs) const {
  const auto by_value = [this](VarId a, VarId b) { return vars_[a].value < vars_[b].value; };
  if (std::is_sorted(vs.begin(), vs.end(), by_value)) return;  // the usual case: one pass
  std::stable_sort(vs.begin(), vs.end(), by_value);
}

void MaxMinSystem::solve_all(std::vector<VarId>* changed) {
  if (changed) changed->clear();
  solve_full(changed);
}

void MaxMinSystem::solve(std::vector<VarId>* changed) {
  if (changed) changed->clear();
  if (dirty_cons_.empty() && fresh_.empty()) {
    threshold_ = kUnbounded;
    return;
  }
  if (need_full_) {
    solve_full(changed);
    return;
  }
  ++stats_.solves;
  ++epoch_;
  // Fact (2): lower bounds of the added variables' new rates.
  double t = threshold_;
  for (VarId v : fresh_) {
    const Var& var = vars_[v];
    if (!var.alive || !var.fresh) continue;
    double lb = var.bound;
    for (ConstraintId c : cons_of(v)) lb = std::min(lb, cons_[c].capacity / static_cast<double>(cons_[c].vars.size()));
    t = std::min(t, lb);
  }
  t *= 1 - kFixMargin;

  // Candidates: the solved variables at or above t (a suffix of order_) and the fresh ones.
  const auto split_it = std::lower_bound(order_.begin(), order_.end(), t,
                                         [](const OrderEntry& e, double x) { return e.value < x; });
  const std::size_t split = static_cast<std::size_t>(split_it - order_.begin());
  cand_.clear();
  for (std::size_t i = split; i < order_.size(); ++i)
    if (entry_live(order_[i])) cand_.push_back(order_[i].v);
  const std::size_t old_suffix_candidates = cand_.size();
  for (VarId v : fresh_)
    if (vars_[v].alive && vars_[v].fresh && vars_[v].stamp != epoch_) {
      vars_[v].stamp = epoch_;
      cand_.push_back(v);
    }
  for (std::size_t i = 0; i < old_suffix_candidates; ++i) vars_[cand_[i]].stamp = epoch_;
  stats_.candidates += cand_.size();

  // Per-constraint candidate lists (CSR).
  touched_.clear();
  for (VarId v : cand_)
    for (ConstraintId c : cons_of(v)) {
      Constraint& k = cons_[c];
      if (k.stamp != epoch_) {
        k.stamp = epoch_;
        k.cand_end = 0;
        k.rem = 0;  // the candidates' load on c, summed below
        touched_.push_back(c);
      }
      ++k.cand_end;
    }
  std::uint32_t off = 0;
  for (ConstraintId c : touched_) {
    Constraint& k = cons_[c];
    k.cand_begin = off;
    off += k.cand_end;
    k.cand_end = k.cand_begin;
  }
  cand_vars_.resize(off);
  for (VarId v : cand_) {
    const double value = vars_[v].fresh ? 0.0 : vars_[v].value;
    for (ConstraintId c : cons_of(v)) {
      Constraint& k = cons_[c];
      cand_vars_[k.cand_end++] = v;
      k.rem += value;
    }
  }

  // Reachability from the changed constraints through candidates.
  refill_.clear();
  std::vector<ConstraintId>& queue = dirty_cons_;  // reuse: becomes the BFS queue
  std::size_t head = 0;
  for (ConstraintId c : queue) {
    is_dirty_[c] = 0;
    cons_[c].reached = cons_[c].stamp == epoch_ ? epoch_ : 0;
  }
  {
    std::size_t w = 0;
    for (ConstraintId c : queue)
      if (cons_[c].reached == epoch_) queue[w++] = c;
    queue.resize(w);
  }
  while (head < queue.size()) {
    const Constraint& k = cons_[queue[head++]];
    for (std::uint32_t i = k.cand_begin; i < k.cand_end; ++i) {
      const VarId v = cand_vars_[i];
      if (vars_[v].reached == epoch_) continue;
      vars_[v].reached = epoch_;
      refill_.push_back(v);
      for (ConstraintId c2 : cons_of(v))
        if (cons_[c2].reached != epoch_) {
          cons_[c2].reached = epoch_;
          queue.push_back(c2);
        }
    }
  }
  // Residual capacities of the reached constraints: capacity minus the kept variables' load.
  // Every candidate on a reached constraint is reached, so k.rem (the candidates' load,
  // summed with the CSR) is exactly the load that is refilled.
  for (std::size_t i = 0; i < queue.size(); ++i) {
    Constraint& k = cons_[queue[i]];
    k.rem = k.capacity - (k.load - k.rem);
    k.n = k.cand_end - k.cand_begin;
  }
  touched_.assign(queue.begin(), queue.end());
  dirty_cons_.clear();

  freeze_order_.clear();
  fill(refill_, changed);

  // New order: the prefix as it was, then the unreached candidates (unchanged, sorted) merged
  // with the refilled variables (sorted by their new value).
  sort_by_value(freeze_order_);
  merged_.clear();
  std::size_t i = split, j = 0;
  auto next_kept = [&]() {
    while (i < order_.size() && (!entry_live(order_[i]) || vars_[order_[i].v].reached == epoch_)) {
      if (!entry_live(order_[i])) --stale_in_order_;
      ++i;
    }
  };
  next_kept();
  while (i < order_.size() || j < freeze_order_.size()) {
    const bool take_old = j == freeze_order_.size() ||
                          (i < order_.size() && vars_[order_[i].v].value <= vars_[freeze_order_[j]].value);
    if (take_old) {
      merged_.push_back(order_[i++]);
      next_kept();
    } else {
      merged_.push_back({vars_[freeze_order_[j]].value, freeze_order_[j], vars_[freeze_order_[j]].generation});
      ++j;
    }
  }
  order_.resize(split);
  order_.insert(order_.end(), merged_.begin(), merged_.end());
  for (VarId v : fresh_) vars_[v].fresh = false;
  fresh_.clear();
  threshold_ = kUnbounded;
  // Stale entries are only in the prefix now; compact when they pile up.
  if (stale_in_order_ > 64 && stale_in_order_ * 2 > order_.size()) {
    std::erase_if(order_, [this](const OrderEntry& e) { return !entry_live(e); });
    stale_in_order_ = 0;
  }
}

void MaxMinSystem::solve_full(std::vector<VarId>* changed) {
  ++stats_.solves;
  ++epoch_;
  for (ConstraintId c : dirty_cons_) is_dirty_[c] = 0;
  dirty_cons_.clear();
  refill_.clear();
  for (VarId v = 0; v < vars_.size(); ++v)
    if (vars_[v].alive && vars_[v].n > 0) refill_.push_back(v);
  touched_.clear();
  std::uint32_t off = 0;
  for (ConstraintId c = 0; c < cons_.size(); ++c) {
    Constraint& k = cons_[c];
    k.stamp = epoch_;
    k.cand_begin = off;
    k.cand_end = off;
    off += static_cast<std::uint32_t>(k.vars.size());
    k.rem = k.capacity;
    k.n = static_cast<std::uint32_t>(k.vars.size());
    k.load = 0;
    if (k.n > 0) touched_.push_back(c);
  }
  cand_vars_.resize(off);
  for (ConstraintId c = 0; c < cons_.size(); ++c)
    for (VarId v : cons_[c].vars) cand_vars_[cons_[c].cand_end++] = v;
  // Loads are rebuilt from scratch as the variables freeze; every variable is reported.
  for (VarId v : refill_) {
    vars_[v].value = 0;
    vars_[v].reached = epoch_;
  }
  freeze_order_.clear();
  fill(refill_, nullptr);
  if (changed) changed->assign(refill_.begin(), refill_.end());
  sort_by_value(freeze_order_);
  order_.clear();
  for (VarId v : freeze_order_) order_.push_back({vars_[v].value, v, vars_[v].generation});
  stale_in_order_ = 0;
  for (VarId v : fresh_) vars_[v].fresh = false;
  fresh_.clear();
  threshold_ = kUnbounded;
  need_full_ = false;
}

// Progressive filling of `vars` on the constraints in touched_ (rem, n and the candidate
// ranges prepared by the caller). A constraint's key (its fair share rem/n) only grows as
// variables freeze elsewhere at levels <= it, so stale heap entries are lower bounds and are
// re-keyed when they surface.
void MaxMinSystem::fill(std::vector<VarId>& vars, std::vector<VarId>* changed) {
  stats_.vars_refilled += vars.size();
  bounded_.clear();
  for (VarId v : vars) {
    vars_[v].frozen = false;
    if (std::isfinite(vars_[v].bound)) bounded_.push_back(v);
  }
  std::sort(bounded_.begin(), bounded_.end(), [this](VarId a, VarId b) {
    return vars_[a].bound < vars_[b].bound || (vars_[a].bound == vars_[b].bound && a < b);
  });
  auto share_of = [this](ConstraintId c) {
    const Constraint& k = cons_[c];
    return std::max(k.rem, 0.0) / static_cast<double>(k.n);
  };
  auto heap_less = [](const HeapItem& a, const HeapItem& b) {  // min-heap by (share, id)
    return a.share > b.share || (a.share == b.share && a.c > b.c);
  };
  heap_.clear();
  for (ConstraintId c : touched_)
    if (cons_[c].n > 0) heap_.push_back({share_of(c), c});
  std::make_heap(heap_.begin(), heap_.end(), heap_less);

  // Freezes v at `rate`: its constraints (but `except`, which the caller retires) lose it
  // from their unfrozen count and residual, and their loads move by its change of value.
  auto freeze = [&](VarId v, double rate, ConstraintId except) {
    Var& var = vars_[v];
    var.frozen = true;
    freeze_order_.push_back(v);
    const double delta = rate - var.value;
    const bool moved = delta != 0 || var.fresh;
    for (ConstraintId c : cons_of(v)) {
      Constraint& k = cons_[c];
      k.load += delta;
      if (c == except) continue;
      k.rem -= rate;
      --k.n;
    }
    if (moved) {
      var.value = rate;
      ++stats_.values_changed;
      if (changed) changed->push_back(v);
    }
  };

  std::size_t next_bound = 0;
  std::size_t remaining = vars.size();
  while (remaining > 0) {
    while (next_bound < bounded_.size() && vars_[bounded_[next_bound]].frozen) ++next_bound;
    double best_share = kUnbounded;
    ConstraintId best_c = 0;
    while (!heap_.empty()) {
      const HeapItem top = heap_.front();
      const Constraint& k = cons_[top.c];
      if (k.n == 0) {
        std::pop_heap(heap_.begin(), heap_.end(), heap_less);
        heap_.pop_back();
        continue;
      }
      const double s = share_of(top.c);
      if (s > top.share) {
        std::pop_heap(heap_.begin(), heap_.end(), heap_less);
        heap_.back().share = s;
        std::push_heap(heap_.begin(), heap_.end(), heap_less);
        continue;
      }
      best_share = s;
      best_c = top.c;
      break;
    }
    if (next_bound < bounded_.size() && vars_[bounded_[next_bound]].bound <= best_share) {
      const VarId v = bounded_[next_bound++];
      freeze(v, vars_[v].bound, UINT32_MAX);
      --remaining;
      continue;
    }
    MOESIM_CHECK(!heap_.empty(), "max-min filling ran out of constraints with {} variables unfrozen", remaining);
    std::pop_heap(heap_.begin(), heap_.end(), heap_less);
    heap_.pop_back();
    Constraint& k = cons_[best_c];
    for (std::uint32_t i = k.cand_begin; i < k.cand_end; ++i) {
      const VarId v = cand_vars_[i];
      if (vars_[v].frozen || vars_[v].reached != epoch_) continue;
      freeze(v, best_share, best_c);
      --remaining;
    }
    k.n = 0;
    k.rem = 0;
  }
}

}  // namespace moesim
