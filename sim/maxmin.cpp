#include "sim/maxmin.h"

#include <algorithm>
#include <cmath>

#include "sim/error.h"

namespace moesim {
namespace {
// Variables whose rate is below (1 - kFixMargin) * smallest removed rate keep their rates.
// The margin only makes the fixed set smaller (always correct); it absorbs rounding.
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
  only_removals_ = false;
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
  var.cons.assign(constraints.begin(), constraints.end());
  var.pos.resize(constraints.size());
  var.bound = bound;
  var.value = 0;
  var.alive = true;
  for (std::size_t k = 0; k < constraints.size(); ++k) {
    const ConstraintId c = constraints[k];
    MOESIM_CHECK(c < cons_.size(), "unknown constraint {}", c);
    var.pos[k] = static_cast<std::uint32_t>(cons_[c].vars.size());
    cons_[c].vars.push_back(v);
    mark_dirty(c);
  }
  if (constraints.empty()) {
    // A bound-only variable is its own component: its value is its bound.
    var.value = bound;
  }
  only_removals_ = false;
  ++live_vars_;
  return v;
}

void MaxMinSystem::remove_variable(VarId v) {
  MOESIM_CHECK(alive(v), "removing a dead variable {}", v);
  Var& var = vars_[v];
  for (std::size_t k = 0; k < var.cons.size(); ++k) {
    Constraint& c = cons_[var.cons[k]];
    const std::uint32_t p = var.pos[k];
    const VarId moved = c.vars.back();
    c.vars[p] = moved;
    c.vars.pop_back();
    if (moved != v) {
      Var& mv = vars_[moved];
      for (std::size_t j = 0; j < mv.cons.size(); ++j)
        if (mv.cons[j] == var.cons[k]) { mv.pos[j] = p; break; }
    }
    mark_dirty(var.cons[k]);
  }
  min_removed_value_ = std::min(min_removed_value_, var.value);
  var.alive = false;
  var.cons.clear();
  var.pos.clear();
  free_vars_.push_back(v);
  --live_vars_;
}

double MaxMinSystem::load(ConstraintId c) const {
  double s = 0;
  for (VarId v : cons_[c].vars) s += vars_[v].value;
  return s;
}

void MaxMinSystem::solve(std::vector<VarId>* changed) {
  if (changed) changed->clear();
  if (dirty_cons_.empty()) {
    only_removals_ = true;
    min_removed_value_ = kUnbounded;
    return;
  }
  ++stats_.solves;
  const double threshold = only_removals_ ? min_removed_value_ * (1 - kFixMargin) : 0.0;
  // Collect the components reachable from the dirty constraints.
  ++epoch_;
  comp_cons_.clear();
  comp_vars_.clear();
  for (ConstraintId c : dirty_cons_) {
    is_dirty_[c] = 0;
    if (cons_[c].stamp == epoch_) continue;
    cons_[c].stamp = epoch_;
    std::size_t head = comp_cons_.size();
    comp_cons_.push_back(c);
    while (head < comp_cons_.size()) {
      const ConstraintId cc = comp_cons_[head++];
      for (VarId v : cons_[cc].vars) {
        Var& var = vars_[v];
        if (var.stamp == epoch_) continue;
        var.stamp = epoch_;
        comp_vars_.push_back(v);
        // Only unfixed variables propagate the change further.
        if (var.value < threshold) continue;
        for (ConstraintId c2 : var.cons)
          if (cons_[c2].stamp != epoch_) {
            cons_[c2].stamp = epoch_;
            comp_cons_.push_back(c2);
          }
      }
    }
  }
  dirty_cons_.clear();
  fill(comp_cons_, comp_vars_, threshold, changed);
  only_removals_ = true;
  min_removed_value_ = kUnbounded;
}

void MaxMinSystem::solve_all(std::vector<VarId>* changed) {
  if (changed) changed->clear();
  for (ConstraintId c : dirty_cons_) is_dirty_[c] = 0;
  dirty_cons_.clear();
  ++stats_.solves;
  comp_cons_.clear();
  comp_vars_.clear();
  for (ConstraintId c = 0; c < cons_.size(); ++c) comp_cons_.push_back(c);
  for (VarId v = 0; v < vars_.size(); ++v)
    if (vars_[v].alive && !vars_[v].cons.empty()) comp_vars_.push_back(v);
  fill(comp_cons_, comp_vars_, 0.0, changed);
  only_removals_ = true;
  min_removed_value_ = kUnbounded;
}

// Progressive filling over the given variables. Variables with value < threshold keep their
// value (their consumption is subtracted from the constraints). A constraint reached only
// through fixed variables has all its unfixed variables in comp_vars, because the traversal
// in solve() expanded every unfixed variable's constraints.
void MaxMinSystem::fill(std::vector<ConstraintId>& comp_cons, std::vector<VarId>& comp_vars, double threshold,
                        std::vector<VarId>* changed) {
  for (ConstraintId c : comp_cons) {
    cons_[c].rem = cons_[c].capacity;
    cons_[c].n = 0;
  }
  bounded_.clear();
  std::size_t unfixed = 0;
  for (VarId v : comp_vars) {
    Var& var = vars_[v];
    var.fixed = var.value < threshold;
    var.frozen = var.fixed;
    if (var.fixed) {
      for (ConstraintId c : var.cons) cons_[c].rem -= var.value;
    } else {
      ++unfixed;
      for (ConstraintId c : var.cons) ++cons_[c].n;
      if (std::isfinite(var.bound)) bounded_.push_back(v);
    }
  }
  stats_.vars_refilled += unfixed;
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
  for (ConstraintId c : comp_cons)
    if (cons_[c].n > 0) heap_.push_back({share_of(c), c});
  std::make_heap(heap_.begin(), heap_.end(), heap_less);

  auto freeze = [&](VarId v, double rate, ConstraintId except) {
    Var& var = vars_[v];
    var.frozen = true;
    const double old = var.value;
    var.value = rate;
    if (changed && old != rate) changed->push_back(v);
    // Keys only grow when a variable freezes at a rate <= the constraint's current share, so
    // stale heap entries are lower bounds; they are refreshed when they surface.
    for (ConstraintId c : var.cons) {
      if (c == except) continue;
      Constraint& k = cons_[c];
      k.rem -= rate;
      --k.n;
    }
  };

  std::size_t next_bound = 0;
  std::size_t remaining = unfixed;
  while (remaining > 0) {
    while (next_bound < bounded_.size() && vars_[bounded_[next_bound]].frozen) ++next_bound;
    // Smallest valid constraint share (refresh stale entries lazily).
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
      if (s > top.share) {  // stale lower bound: re-key
        std::pop_heap(heap_.begin(), heap_.end(), heap_less);
        heap_.back().share = s;
        std::push_heap(heap_.begin(), heap_.end(), heap_less);
        continue;
      }
      best_share = s;
      best_c = top.c;
      break;
    }
    const bool have_bound = next_bound < bounded_.size();
    if (have_bound && vars_[bounded_[next_bound]].bound <= best_share) {
      const VarId v = bounded_[next_bound++];
      freeze(v, vars_[v].bound, UINT32_MAX);
      --remaining;
      continue;
    }
    MOESIM_CHECK(!heap_.empty(), "max-min filling ran out of constraints with {} variables unfrozen", remaining);
    std::pop_heap(heap_.begin(), heap_.end(), heap_less);
    heap_.pop_back();
    Constraint& k = cons_[best_c];
    for (VarId v : k.vars) {
      Var& var = vars_[v];
      if (var.frozen) continue;
      freeze(v, best_share, best_c);
      --remaining;
    }
    k.n = 0;
    k.rem = 0;
  }
}

}  // namespace moesim
