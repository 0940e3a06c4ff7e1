#include "sim/maxmin.h"

#include <algorithm>
#include <bit>
#include <cmath>

#include "sim/error.h"
#include "sim/free_slots.h"

namespace moesim {
namespace {
// Variables below (1 - kFixMargin) * threshold keep their value. The margin only makes the
// kept set smaller (always correct); it absorbs rounding in the stored rates.
constexpr double kFixMargin = 1e-9;
// Re-levelling accepts a level that passes a neighbour's by at most this much (relative):
// rounding between groups at the same level; anything larger is a change of bottleneck.
constexpr double kLevelTol = 1e-12;
// Re-levelling re-sums a constraint's load exactly (instead of trusting the running sum)
// when its residual is below this share of its capacity, where cancellation would show.
constexpr double kResumBelow = 1e-6;
// Re-levelling places at most this many new variables by guessing their groups. A failed
// guess costs a join and an undo per variable; big batches (an all-to-all's first sends)
// rarely guess right, and the local refill places them in one fill anyway.
constexpr std::size_t kMaxGuessedJoins = 256;
// Re-levelling moves variables to the bottleneck a failed check names (pivots) at most this
// many times, and at most this many existing variables in all.
constexpr int kMaxPivots = 128;
constexpr std::size_t kMaxPivotedVars = 2048;
// Budget of re-levellings of groups levelled before in the same solve: past it, the levels
// are taken to depend on each other in a cycle and the solve falls back to (A').
constexpr std::size_t kRelevelAgainPerGroup = 8;
constexpr std::size_t kRelevelAgainExtra = 64;
constexpr MaxMinSystem::ConstraintId kNoConstraint = std::numeric_limits<MaxMinSystem::ConstraintId>::max();
constexpr MaxMinSystem::VarId kNoVar = std::numeric_limits<MaxMinSystem::VarId>::max();

std::uint64_t edge_key(std::uint32_t g, std::uint32_t c) { return (std::uint64_t{g} << 32) | c; }
}  // namespace

MaxMinSystem::ConstraintId MaxMinSystem::add_constraint(double capacity) {
  MOESIM_CHECK(capacity >= 0 && std::isfinite(capacity), "constraint capacity must be finite and >= 0, got {}", capacity);
  const auto c = static_cast<ConstraintId>(cons_.size());
  cons_.emplace_back();
  cons_.back().capacity = capacity;
  cons_.back().group = static_cast<GroupId>(groups_.size());
  groups_.emplace_back();
  groups_.back().constraint = c;
  is_dirty_.push_back(0);
  ndom_.push_back(0);
  declared_dom_.push_back(kNoConstraint);
  marks_.push_back(0);
  return c;
}

void MaxMinSystem::set_capacity(ConstraintId c, double capacity) {
  MOESIM_CHECK(capacity >= 0 && std::isfinite(capacity), "constraint capacity must be finite and >= 0, got {}", capacity);
  // Domination compares capacities: a change may end it anywhere.
  for (ConstraintId d = 0; d < cons_.size(); ++d)
    if (declared_dominated(d)) undeclare(d, kNoVar);
    else if (passive(d)) activate(d);
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

MaxMinSystem::GroupId MaxMinSystem::bound_group(double bound) {
  auto [it, fresh] = bound_groups_.try_emplace(std::bit_cast<std::uint64_t>(bound), 0u);
  if (fresh) {
    it->second = static_cast<GroupId>(groups_.size());
    groups_.emplace_back();
    groups_.back().level = bound;
    groups_.back().new_level = bound;
  }
  return it->second;
}

void MaxMinSystem::edge_add(GroupId g, ConstraintId c) {
  bool fresh = false;
  std::uint32_t& slot = edge_at_.find_or_insert(edge_key(g, c), 0u, fresh);
  if (!fresh) {
    ++edges_[slot].count;
    return;
  }
  const std::uint32_t e = take_slot(edges_, free_edges_);
  slot = e;  // the index is not touched since find_or_insert
  edges_[e] = Edge{g, c, 1, static_cast<std::uint32_t>(groups_[g].out.size()), static_cast<std::uint32_t>(cons_[c].in.size())};
  groups_[g].out.push_back(e);
  cons_[c].in.push_back(e);
}

void MaxMinSystem::edge_sub(GroupId g, ConstraintId c) {
  const std::uint32_t* slot = edge_at_.find(edge_key(g, c));
  MOESIM_CHECK(slot != nullptr, "max-min: no edge from group {} to constraint {}", g, c);
  const std::uint32_t e = *slot;
  if (--edges_[e].count > 0) return;
  edge_at_.erase(edge_key(g, c));
  const Edge& E = edges_[e];
  std::vector<std::uint32_t>& out = groups_[g].out;
  const std::uint32_t last_out = out.back();
  out[E.pos_out] = last_out;
  edges_[last_out].pos_out = E.pos_out;
  out.pop_back();
  std::vector<std::uint32_t>& in = cons_[c].in;
  const std::uint32_t last_in = in.back();
  in[E.pos_in] = last_in;
  edges_[last_in].pos_in = E.pos_in;
  in.pop_back();
  free_edges_.push_back(e);
}

void MaxMinSystem::declare_dominated(ConstraintId c, ConstraintId d) {
  MOESIM_CHECK(c < cons_.size() && d < cons_.size() && c != d, "max-min: declaring constraint {} dominated by {} ({} constraints)", c, d,
               cons_.size());
  MOESIM_CHECK(dominates(d, c), "max-min: constraint {} (capacity {}) cannot dominate {} (capacity {})", d, cons_[d].capacity, c,
               cons_[c].capacity);
  MOESIM_CHECK(cons_[c].vars.empty() && !passive(c), "max-min: constraint {} is declared dominated after variables joined it", c);
  ndom_[c] = kDeclared;
  declared_dom_[c] = d;
}

void MaxMinSystem::undeclare(ConstraintId c, VarId adding) {
  Constraint& K = cons_[c];
  ++stats_.undeclared;
  declared_dom_[c] = kNoConstraint;
  for (VarId u = 0; u < vars_.size(); ++u) {
    const Var& var = vars_[u];
    if (!var.alive || u == adding) continue;
    for (std::uint32_t j = var.na; j < var.n; ++j)
      if (var_cons_[var.slot + j] == c) {
        var_pos_[var.slot + j] = static_cast<std::uint32_t>(K.vars.size());
        K.vars.push_back(u);
        K.at.push_back(var.slot + j);
        break;
      }
  }
  activate(c);  // passive (ndom_ > 0) until here: moves c into the ordinary parts
}

bool MaxMinSystem::dominates(ConstraintId d, ConstraintId c) const {
  return cons_[d].capacity < cons_[c].capacity || (cons_[d].capacity == cons_[c].capacity && d < c);
}

void MaxMinSystem::activate(ConstraintId c) {
  Constraint& K = cons_[c];
  ndom_[c] = 0;
  K.load = 0;
  ++stats_.activations;
  for (VarId u : K.vars) {
    // Move c from u's passive part to its place (by id) in the ordinary part.
    Var& var = vars_[u];
    ConstraintId* cs = var_cons_.data() + var.slot;
    std::uint32_t* ps = var_pos_.data() + var.slot;
    std::uint32_t j = var.na;
    while (j < var.n && cs[j] != c) ++j;
    MOESIM_CHECK(j < var.n, "max-min: passive constraint {} is not in the passive part of variable {}", c, u);
    const std::uint32_t pos = ps[j];
    std::uint32_t i = j;
    for (; i > 0 && (i > var.na || cs[i - 1] > c); --i) {
      cs[i] = cs[i - 1];
      ps[i] = ps[i - 1];
      if (!declared_dominated(cs[i])) cons_[cs[i]].at[ps[i]] = var.slot + i;
    }
    cs[i] = c;
    ps[i] = pos;
    K.at[pos] = var.slot + i;
    ++var.na;
    K.load += value(u);
    // Nobody is bottlenecked on a passive constraint, so c is not u's group's constraint.
    if (vars_[u].group != kNoGroup) edge_add(vars_[u].group, c);
  }
  mark_dirty(c);
}

void MaxMinSystem::join_group(VarId v, GroupId g) {
  Var& var = vars_[v];
  Group& G = groups_[g];
  var.group = g;
  var.pos = static_cast<std::uint32_t>(G.members.size());
  G.members.push_back(v);
  ++G.size;
  if (std::isfinite(var.bound)) ++G.bounded;
  for (ConstraintId c : active_of(v))
    if (c != G.constraint) edge_add(g, c);
}

void MaxMinSystem::leave_group(VarId v) {
  Var& var = vars_[v];
  const GroupId g = var.group;
  Group& G = groups_[g];
  const VarId last = G.members.back();
  G.members[var.pos] = last;
  vars_[last].pos = var.pos;
  G.members.pop_back();
  --G.size;
  if (std::isfinite(var.bound)) --G.bounded;
  for (ConstraintId c : active_of(v))
    if (c != G.constraint) edge_sub(g, c);
  var.group = kNoGroup;
}

MaxMinSystem::VarId MaxMinSystem::add_variable(std::span<const ConstraintId> constraints, double bound) {
  MOESIM_CHECK(bound > 0, "variable bound must be > 0, got {}", bound);
  MOESIM_CHECK(!constraints.empty() || std::isfinite(bound), "a variable needs a constraint or a finite bound");
  const VarId v = take_slot(vars_, free_vars_);
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
  var.group = kNoGroup;
  var.alive = true;
  var.fresh = false;
  // Mark v's constraints (crosses() below is one load) and check them.
  if (++mark_epoch_ == 0) {
    std::fill(marks_.begin(), marks_.end(), 0u);
    mark_epoch_ = 1;
  }
  for (ConstraintId c : constraints) {
    MOESIM_CHECK(c < cons_.size(), "unknown constraint {}", c);
    MOESIM_CHECK(marks_[c] != mark_epoch_, "a variable crosses constraint {} twice", c);
    marks_[c] = mark_epoch_;
  }
  auto crosses = [&](ConstraintId d) { return marks_[d] == mark_epoch_; };
  // Domination (see the header): the first variable on c names c's candidate dominators (the
  // up to kMaxDominators smallest of its constraints that precede c); each later one keeps
  // those it also crosses. When none is left, c becomes an ordinary constraint.
  // The block: ordinary constraints first, by increasing id, then the passive ones. c's
  // passivity is settled in its own iteration (activate() moves only c, in the blocks of the
  // variables already on it), so it is placed there.
  ConstraintId* cs = var_cons_.data() + var.slot;
  std::uint32_t* ps = var_pos_.data() + var.slot;
  std::uint32_t na = 0, np = 0;
  for (ConstraintId c : constraints) {
    Constraint& K = cons_[c];
    if (ndom_[c] == kDeclared) {
      if (crosses(declared_dom_[c])) {  // passive, no list, nothing to re-solve
        cs[n - 1 - np++] = c;
        continue;
      }
      undeclare(c, v);
    }
    if (K.vars.empty()) {
      std::uint8_t& nd = ndom_[c];
      nd = 0;
      for (ConstraintId d : constraints) {
        if (d == c || !dominates(d, c)) continue;
        // Insert d in K.dom (sorted, smallest first), dropping the largest when full.
        std::size_t i = nd < kMaxDominators ? nd++ : kMaxDominators;
        while (i > 0 && dominates(d, K.dom[i - 1])) {
          if (i < kMaxDominators) K.dom[i] = K.dom[i - 1];
          --i;
        }
        if (i < kMaxDominators) K.dom[i] = d;
      }
    } else if (ndom_[c] > 0) {
      std::uint8_t kept = 0;
      for (std::uint8_t i = 0; i < ndom_[c]; ++i)
        if (crosses(K.dom[i])) K.dom[kept++] = K.dom[i];
      if (kept == 0) activate(c);
      else ndom_[c] = kept;
    }
    std::uint32_t k;
    if (passive(c)) {
      k = n - 1 - np++;
    } else {
      for (k = na++; k > 0 && cs[k - 1] > c; --k) {
        cs[k] = cs[k - 1];
        ps[k] = ps[k - 1];
      }
    }
    cs[k] = c;
    ps[k] = static_cast<std::uint32_t>(K.vars.size());
    K.vars.push_back(v);
    K.at.push_back(0);  // set below, once the block is in its final order
    mark_dirty(c);
  }
  for (std::uint32_t k = 0; k < n - np; ++k) cons_[cs[k]].at[ps[k]] = var.slot + k;
  for (std::uint32_t k = n - np; k < n; ++k)
    if (!declared_dominated(cs[k])) cons_[cs[k]].at[ps[k]] = var.slot + k;
  var.na = static_cast<std::uint16_t>(na);
  if (constraints.empty()) {
    join_group(v, bound_group(bound));  // a bound-only variable is alone: its value is its bound
  } else {
    var.fresh = true;
    if (!var.listed) {
      var.listed = true;
      fresh_.push_back(v);
    }
  }
  ++live_vars_;
  return v;
}

void MaxMinSystem::remove_variable(VarId v) {
  MOESIM_CHECK(alive(v), "removing a dead variable {}", v);
  Var& var = vars_[v];
  const double val = value(v);
  // Leave the group first: its edges follow which constraints are passive, and an emptied
  // passive constraint becomes ordinary below.
  if (var.group != kNoGroup) {
    if (var.n > 0) threshold_ = std::min(threshold_, val);  // fact (1)
    leave_group(v);
  }
  for (std::uint32_t k = 0; k < var.n; ++k) {
    const ConstraintId ck = var_cons_[var.slot + k];
    if (ndom_[ck] == kDeclared) continue;  // no list
    Constraint& c = cons_[ck];
    const std::uint32_t p = var_pos_[var.slot + k];
    const VarId moved = c.vars.back();
    const std::uint32_t moved_at = c.at.back();
    c.vars[p] = moved;
    c.at[p] = moved_at;
    c.vars.pop_back();
    c.at.pop_back();
    if (moved != v) var_pos_[moved_at] = p;
    c.load -= val;
    if (c.vars.empty() && ndom_[ck] > 0) {  // passive and empty: free again, its load exactly 0
      ndom_[ck] = 0;
      c.load = 0;
    }
    mark_dirty(ck);
  }
  if (var.n > 0) free_blocks_[var.size_class].push_back(var.slot);
  var.alive = false;
  var.fresh = false;
  var.n = 0;
  var.na = 0;
  free_vars_.push_back(v);
  --live_vars_;
}

double MaxMinSystem::load(ConstraintId c) const {
  MOESIM_CHECK(!declared_dominated(c), "max-min: the load of declared-dominated constraint {} is not tracked", c);
  double s = 0;
  for (VarId v : cons_[c].vars) s += value(v);
  return s;
}

void MaxMinSystem::expand(std::vector<VarId>* changed) {
  if (!changed) return;
  changed->clear();
  ++epoch_;
  for (VarId v : moved_scratch_) {
    vars_[v].stamp = epoch_;
    changed->push_back(v);
  }
  for (GroupId g : changed_scratch_)
    for (VarId v : groups_[g].members)
      if (vars_[v].stamp != epoch_) changed->push_back(v);
}

void MaxMinSystem::solve(std::vector<VarId>* changed) {
  solve(&changed_scratch_, &moved_scratch_);
  expand(changed);
}

void MaxMinSystem::solve_all(std::vector<VarId>* changed) {
  changed_scratch_.clear();
  moved_scratch_.clear();
  solve_full(&changed_scratch_, &moved_scratch_);
  expand(changed);
}

void MaxMinSystem::solve(std::vector<GroupId>* changed_groups, std::vector<VarId>* moved) {
  changed_groups->clear();
  moved->clear();
  if (dirty_cons_.empty() && fresh_.empty()) {
    threshold_ = kUnbounded;
    return;
  }
  if (need_full_) {
    solve_full(changed_groups, moved);
    return;
  }
  ++stats_.solves;
  region_seeded_ = false;
  if (fresh_.size() <= kMaxGuessedJoins) {
    if (relevel(changed_groups, moved)) {
      ++stats_.relevels;
      finish_solve();
      return;
    }
    ++stats_.relevel_failed;
    changed_groups->clear();
    moved->clear();
  }
  if (!region_seeded_) seed_region(++epoch_);  // re-levelling did not run, or failed before seeding its region
  if (local_refill(changed_groups, moved)) {
    ++stats_.local_refills;
    finish_solve();
    return;
  }
  changed_groups->clear();
  moved->clear();
  refill(changed_groups, moved);
}

void MaxMinSystem::seed_region(std::uint32_t ep, bool keep) {
  if (keep)
    for (GroupId g : region_) groups_[g].queued = ep;
  else
    region_.clear();
  for (ConstraintId c : dirty_cons_) {
    const GroupId g = cons_[c].group;
    Group& G = groups_[g];
    if (G.size == 0 || G.queued == ep) continue;
    G.queued = ep;
    region_.push_back(g);
  }
}

void MaxMinSystem::finish_solve() {
  for (ConstraintId c : dirty_cons_) is_dirty_[c] = 0;
  dirty_cons_.clear();
  for (VarId v : fresh_) vars_[v].fresh = vars_[v].listed = false;
  fresh_.clear();
  threshold_ = kUnbounded;
}

// Path (A): new levels for the groups the changes touched, in increasing order, assuming no
// variable changes group but the ones placed (new) or pivoted here; committed only if the
// result is the max-min allocation.
bool MaxMinSystem::relevel(std::vector<GroupId>* changed_groups, std::vector<VarId>* moved) {
  joined_.clear();
  pivots_.clear();
  level_saves_.clear();
  ++relevel_id_;
  // Undoes the tentative joins and pivots; the caller falls back to (A') with region_ as its
  // seed, which must hold the groups of the changed constraints as they are after the undo.
  auto fail = [&] {
    for (const PivotRecord& r : pivots_) {
      leave_group(r.v);
      join_group(r.v, r.from);
    }
    for (auto it = level_saves_.rbegin(); it != level_saves_.rend(); ++it) groups_[it->g].level = it->level;
    for (VarId v : joined_) leave_group(v);
    if (!pivots_.empty()) seed_region(++epoch_, true);  // a group a pivot emptied was left out of the seed
    return false;
  };
  // New variables join, tentatively, the group of the constraint where their share would be
  // smallest if nobody else moved (the bottleneck they most likely get), as if they had been
  // there at its current level: their load is pre-charged to dload, so the levelling below
  // treats them like any member. A wrong guess fails a check (and is pivoted, or undone).
  for (VarId v : fresh_) {
    const Var& var = vars_[v];
    if (!var.alive || !var.fresh) continue;
    GroupId best = kNoGroup;
    double best_share = kUnbounded;
    for (ConstraintId c : active_of(v)) {
      const Constraint& K = cons_[c];
      const Group& G = groups_[K.group];
      const double residual = std::max(0.0, K.capacity - K.load);
      const double share = G.size == 0 ? residual : (G.size * G.level + residual) / (G.size + 1);
      if (share < best_share) {
        best_share = share;
        best = K.group;
      }
    }
    if (best == kNoGroup || !(best_share > 0) || !(best_share < var.bound)) return fail();
    Group& B = groups_[best];
    if (B.size == 0) B.level = best_share;  // an empty group's level is free: start at the guess
    join_group(v, best);
    joined_.push_back(v);
  }

  ++epoch_;
  const std::uint32_t ep = epoch_;
  levelled_.clear();
  dloaded_.clear();
  heap_.clear();
  // Min-heap by (level, group id); HeapItem's c holds the group id.
  auto heap_less = [](const HeapItem& a, const HeapItem& b) {
    return a.share > b.share || (a.share == b.share && a.c > b.c);
  };
  auto dload_of = [&](ConstraintId c) -> double& {
    Constraint& k = cons_[c];
    if (k.stamp != ep) {
      k.stamp = ep;
      k.dload = 0;
      dloaded_.push_back(c);
    }
    return k.dload;
  };
  auto level_now = [&](GroupId h) { return groups_[h].stamp == ep ? groups_[h].new_level : groups_[h].level; };
  // Puts group h (if it has members) in the region: where a local refill starts if this fails.
  auto to_region = [&](GroupId h) {
    Group& H = groups_[h];
    if (H.size != 0 && H.queued != ep) {
      H.queued = ep;
      region_.push_back(h);
    }
  };
  // Puts group h (if it has members and a constraint) in the region and the heap.
  auto enqueue = [&](GroupId h) {
    Group& H = groups_[h];
    if (H.size == 0 || H.constraint == kNoConstraint) return;
    to_region(h);
    if (H.heaped != ep) {
      H.heaped = ep;
      heap_.push_back({level_now(h), h});
      std::push_heap(heap_.begin(), heap_.end(), heap_less);
    }
  };
  for (VarId v : joined_) {
    const double level = groups_[vars_[v].group].level;
    for (ConstraintId c : active_of(v)) dload_of(c) += level;
  }
  seed_region(ep);
  region_seeded_ = true;
  for (GroupId g : region_) {
    heap_.push_back({groups_[g].level, g});
    groups_[g].heaped = ep;
  }
  std::make_heap(heap_.begin(), heap_.end(), heap_less);

  // Checks on what moved: every member keeps the largest rate on its bottleneck, no
  // constraint goes over capacity, no bound is passed.
  //
  // Whether a variable at `level` may cross c without being bottlenecked there: c's group
  // (if it has members) is not below it, else c stays within capacity.
  auto fits = [&](ConstraintId c, double level) {
    const Constraint& K = cons_[c];
    if (groups_[K.group].size != 0) return !(level > level_now(K.group) * (1 + kLevelTol));
    return !(K.load + (K.stamp == ep ? K.dload : 0.0) > K.capacity * (1 + kLevelTol));
  };
  // The first group crossing g's constraint above `level`, or kNoGroup.
  auto above = [&](GroupId g, double level) {
    const Constraint& K = cons_[groups_[g].constraint];
    stats_.edges_checked += K.in.size();
    for (std::uint32_t e : K.in)
      if (level_now(edges_[e].g) > level * (1 + kLevelTol)) return edges_[e].g;
    return kNoGroup;
  };
  const Pivot passed{kNoGroup, kNoConstraint};
  const Pivot failed{kNoGroup, 0};
  // A failed check names a group h whose members crossing c would be above c's bottleneck
  // level (or overfill c): they would be bottlenecked on c. Failures that no pivot fixes
  // (a bound passed, a level <= 0, a cycle of levels) return `failed`.
  auto check = [&]() -> Pivot {
    for (GroupId g : levelled_) {
      const Group& G = groups_[g];
      if (G.new_level == G.level || G.size == 0) continue;
      if (G.new_level > G.level) {
        if (G.bounded > 0) return failed;
        stats_.edges_checked += G.out.size();
        for (std::uint32_t e : G.out)
          if (!fits(edges_[e].c, G.new_level)) return {g, edges_[e].c};
      } else if (const GroupId over = above(g, G.new_level); over != kNoGroup) {
        return {over, G.constraint};
      }
    }
    // A group that took variables may have been empty (its constraint not saturated, so the
    // variables crossing it were not limited there) or kept its level: every variable on its
    // constraint must still be at or below its level.
    joined_groups_.clear();
    for (VarId v : joined_) joined_groups_.push_back(vars_[v].group);
    for (const PivotRecord& r : pivots_) joined_groups_.push_back(vars_[r.v].group);
    std::sort(joined_groups_.begin(), joined_groups_.end());
    joined_groups_.erase(std::unique(joined_groups_.begin(), joined_groups_.end()), joined_groups_.end());
    for (GroupId g : joined_groups_)
      if (const GroupId over = above(g, level_now(g)); over != kNoGroup) return {over, groups_[g].constraint};
    // A placed or pivoted variable also crosses constraints it is not bottlenecked on: its
    // rate may not pass the level of their groups (or their capacity), nor its bound.
    auto check_var = [&](VarId v) -> Pivot {
      const GroupId g = vars_[v].group;
      const double level = level_now(g);
      if (level > vars_[v].bound) return failed;
      for (ConstraintId c : active_of(v))
        if (c != groups_[g].constraint && !fits(c, level)) return {g, c};
      return passed;
    };
    for (VarId v : joined_)
      if (const Pivot p = check_var(v); p.c != kNoConstraint) return p;
    for (const PivotRecord& r : pivots_)
      if (const Pivot p = check_var(r.v); p.c != kNoConstraint) return p;
    return passed;
  };

  // Level, check, pivot, level again from there.
  std::size_t again = 0;
  for (int pivots = 0;; ++pivots) {
    while (!heap_.empty()) {
      std::pop_heap(heap_.begin(), heap_.end(), heap_less);
      const GroupId g = heap_.back().c;
      heap_.pop_back();
      Group& G = groups_[g];
      G.heaped = 0;
      if (G.size == 0) continue;  // emptied by a pivot: its constraint is checked as unsaturated
      // A group whose residual moves after it was levelled (a tie, or a pivot) is levelled
      // again from its current level. That ends when nothing moves, unless the groups depend
      // on each other in a cycle: the budget fails those.
      const bool first = G.stamp != ep;
      if (!first && ++again > kRelevelAgainPerGroup * levelled_.size() + kRelevelAgainExtra) return fail();
      const double prev = first ? G.level : G.new_level;
      G.stamp = ep;
      Constraint& K = cons_[G.constraint];
      const double nb = static_cast<double>(G.size);
      double& dl = dload_of(G.constraint);
      double others = K.load + dl - nb * prev;
      if (K.capacity - others < kResumBelow * K.capacity) {
        others = 0;
        for (VarId u : K.vars)
          if (vars_[u].group != g) others += level_now(vars_[u].group);
      }
      const double nl = (K.capacity - others) / nb;
      if (!(nl > 0) || !std::isfinite(nl)) return fail();
      G.new_level = nl;
      if (first) levelled_.push_back(g);
      if (nl == prev) continue;
      const double delta = nl - prev;
      dl += nb * delta;
      stats_.edges_checked += G.out.size();
      for (std::uint32_t e : G.out) {
        const Edge& E = edges_[e];
        dload_of(E.c) += static_cast<double>(E.count) * delta;
        enqueue(cons_[E.c].group);
      }
    }
    const Pivot p = check();
    if (p.c == kNoConstraint) break;  // every check passed
    if (p.h == kNoGroup) return fail();
    // A failure leaves region_ with the groups levelled plus the ones named.
    to_region(p.h);
    to_region(cons_[p.c].group);
    if (pivots == kMaxPivots) return fail();
    // Pivot: the members of p.h crossing p.c take p.c's group as theirs. Each is charged its
    // change of level on every constraint it crosses, whose groups are levelled again.
    const GroupId to = cons_[p.c].group;
    const double from = level_now(p.h);
    pivot_vars_.clear();
    for (VarId u : cons_[p.c].vars)
      if (vars_[u].group == p.h) pivot_vars_.push_back(u);
    if (pivot_vars_.empty() || pivots_.size() + pivot_vars_.size() > kMaxPivotedVars) return fail();
    Group& T = groups_[to];
    if (T.size == 0) {  // free: start where they were (it may be a group a pivot emptied)
      level_saves_.push_back({to, T.level});
      T.level = from;
      T.new_level = from;
    }
    const double delta = level_now(to) - from;
    for (VarId u : pivot_vars_) {
      // One record per variable, with the group and rate it had before this solve.
      if (!vars_[u].fresh && vars_[u].pivot_mark != relevel_id_) {
        vars_[u].pivot_mark = relevel_id_;
        pivots_.push_back({u, p.h});
      }
      leave_group(u);
      join_group(u, to);
      for (ConstraintId c : active_of(u)) {
        if (delta != 0) dload_of(c) += delta;
        enqueue(cons_[c].group);
      }
    }
    ++stats_.pivots;
  }

  for (ConstraintId c : dloaded_) cons_[c].load += cons_[c].dload;
  moved->insert(moved->end(), joined_.begin(), joined_.end());
  stats_.joins_relevelled += joined_.size();
  for (const PivotRecord& r : pivots_)
    if (vars_[r.v].group != r.from) {  // it may have been pivoted back
      moved->push_back(r.v);
      ++stats_.vars_moved;
    }
  for (GroupId g : levelled_) {
    Group& G = groups_[g];
    if (G.new_level == G.level) continue;
    G.level = G.new_level;
    changed_groups->push_back(g);
    stats_.values_changed += G.members.size();
  }
  return true;
}

// Per-constraint lists of `vars` (CSR in cand_vars_, ranges cand_begin/cand_end) on the
// constraints they use, collected in touched_ (stamped with epoch_); each such constraint's
// rem is set to the load of `vars` on it.
void MaxMinSystem::index_candidates(const std::vector<VarId>& vars) {
  touched_.clear();
  for (VarId v : vars)
    for (ConstraintId c : active_of(v)) {
      Constraint& k = cons_[c];
      if (k.stamp != epoch_) {
        k.stamp = epoch_;
        k.cand_end = 0;
        k.rem = 0;  // the variables' load on c, summed below
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
  for (VarId v : vars) {
    const double val = value(v);
    for (ConstraintId c : active_of(v)) {
      Constraint& k = cons_[c];
      cand_vars_[k.cand_end++] = v;
      k.rem += val;
    }
  }
}

// Path (A'): refill only the members of the groups in region_, the other variables fixed,
// and accept the result only if it is the max-min allocation: no group outside the region
// sees a variable of the region change rate on its constraint or freeze there, and no group
// outside the region is above a level the region set on a constraint it crosses (the region
// holds every group whose constraint changed: see the header). Each failed check
// adds the group concerned to the region and the fill is redone (at most kMaxRounds times);
// then the caller falls back to path (B).
bool MaxMinSystem::local_refill(std::vector<GroupId>* changed_groups, std::vector<VarId>* moved) {
  constexpr int kMaxRounds = 8;
  const std::uint32_t mark = ++region_epoch_;
  for (GroupId g : region_) groups_[g].region = mark;
  std::size_t added_begin = region_.size();  // groups added by the last round's checks
  for (int round = 0; round < kMaxRounds; ++round) {
    ++epoch_;
    refill_.clear();
    for (GroupId g : region_) refill_.insert(refill_.end(), groups_[g].members.begin(), groups_[g].members.end());
    for (VarId v : fresh_)
      if (vars_[v].alive && vars_[v].fresh && vars_[v].reached != epoch_) {
        vars_[v].reached = epoch_;
        refill_.push_back(v);
      }
    // Constraint lists of the region's variables (all reached), their load and count.
    for (VarId v : refill_) vars_[v].reached = epoch_;
    index_candidates(refill_);
    saved_loads_.clear();
    for (ConstraintId c : touched_) {
      Constraint& k = cons_[c];
      saved_loads_.push_back(k.load);
      k.rem = k.capacity - (k.load - k.rem);
      k.n = k.cand_end - k.cand_begin;
    }
    fill(refill_);
    bool grown = false;
    auto grow = [&](GroupId h) {
      if (groups_[h].region == mark) return;
      groups_[h].region = mark;
      region_.push_back(h);
      grown = true;
    };
    for (VarId v : refill_) {
      const Var& var = vars_[v];
      const bool changed = var.new_value != value(v);
      for (ConstraintId c : active_of(v)) {
        const GroupId x = cons_[c].group;
        if (groups_[x].region == mark || groups_[x].size == 0) continue;
        if (changed || var.new_group == x) grow(x);
      }
    }
    for (GroupId g : filled_groups_) {
      const double s = groups_[g].new_level;
      for (std::uint32_t e : cons_[groups_[g].constraint].in) {
        const GroupId h = edges_[e].g;
        if (groups_[h].region != mark && groups_[h].level > s * (1 + kLevelTol)) grow(h);
      }
    }
    if (!grown) {
      apply_fill(changed_groups, moved);
      return true;
    }
    // A group that joins the region changes its members' rates on the other constraints
    // they cross, which would fail those constraints' groups' checks in the next round: take
    // them in now (fewer rounds; each round refills the whole region).
    const std::size_t added_end = region_.size();
    for (std::size_t i = added_begin; i < added_end; ++i)
      for (std::uint32_t e : groups_[region_[i]].out) {
        const GroupId h = cons_[edges_[e].c].group;
        if (groups_[h].size != 0) grow(h);
      }
    added_begin = region_.size();
    for (std::size_t i = 0; i < touched_.size(); ++i) cons_[touched_[i]].load = saved_loads_[i];
  }
  return false;
}

// Path (B).
void MaxMinSystem::refill(std::vector<GroupId>* changed_groups, std::vector<VarId>* moved) {
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

  // Candidates: the members of the groups at or above t, and the fresh variables.
  cand_.clear();
  for (const Group& G : groups_)
    if (!G.members.empty() && G.level >= t) cand_.insert(cand_.end(), G.members.begin(), G.members.end());
  for (VarId v : fresh_)
    if (vars_[v].alive && vars_[v].fresh) cand_.push_back(v);
  for (VarId v : cand_) vars_[v].stamp = epoch_;
  stats_.candidates += cand_.size();

  index_candidates(cand_);

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
      for (ConstraintId c2 : active_of(v))
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

  fill(refill_);
  apply_fill(changed_groups, moved);
  for (VarId v : fresh_) vars_[v].fresh = vars_[v].listed = false;
  fresh_.clear();
  threshold_ = kUnbounded;
}

void MaxMinSystem::solve_full(std::vector<GroupId>* changed_groups, std::vector<VarId>* moved) {
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
    if (ndom_[c] > 0) {  // passive: not filled
      k.n = 0;
      k.rem = 0;
      continue;
    }
    off += static_cast<std::uint32_t>(k.vars.size());
    k.rem = k.capacity;
    k.n = static_cast<std::uint32_t>(k.vars.size());
    k.load = 0;  // rebuilt from scratch below
    for (VarId v : k.vars)
      if (!vars_[v].fresh) k.load += value(v);
    if (k.n > 0) touched_.push_back(c);
  }
  cand_vars_.resize(off);
  for (ConstraintId c = 0; c < cons_.size(); ++c)
    if (!passive(c))
      for (VarId v : cons_[c].vars) cand_vars_[cons_[c].cand_end++] = v;
  for (VarId v : refill_) vars_[v].reached = epoch_;
  fill(refill_);
  apply_fill(changed_groups, moved);
  for (VarId v : fresh_) vars_[v].fresh = vars_[v].listed = false;
  fresh_.clear();
  threshold_ = kUnbounded;
  need_full_ = false;
}

// Progressive filling of `vars` on the constraints in touched_ (rem, n and the candidate
// ranges prepared by the caller). A constraint's key (its fair share rem/n) only grows as
// variables freeze elsewhere at levels <= it, so stale heap entries are lower bounds and are
// re-keyed when they surface. Loads move by each variable's change of value.
void MaxMinSystem::fill(std::vector<VarId>& vars) {
  stats_.vars_refilled += vars.size();
  filled_groups_.clear();
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

  // Freezes v at `rate` in group `g`: its constraints (but `except`, which the caller
  // retires) lose it from their unfrozen count and residual, and their loads move by its
  // change of value.
  auto freeze = [&](VarId v, double rate, GroupId g, ConstraintId except) {
    Var& var = vars_[v];
    var.frozen = true;
    var.new_value = rate;
    var.new_group = g;
    const double old = var.fresh ? 0.0 : value(v);
    const double delta = rate - old;
    for (ConstraintId c : active_of(v)) {  // passive ones never bind; their load is not kept
      Constraint& k = cons_[c];
      k.load += delta;
      if (c == except) continue;
      k.rem -= rate;
      --k.n;
    }
    if (delta != 0 || var.fresh) ++stats_.values_changed;
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
      freeze(v, vars_[v].bound, bound_group(vars_[v].bound), kNoConstraint);
      --remaining;
      continue;
    }
    MOESIM_CHECK(!heap_.empty(), "max-min filling ran out of constraints with {} variables unfrozen", remaining);
    std::pop_heap(heap_.begin(), heap_.end(), heap_less);
    heap_.pop_back();
    Constraint& k = cons_[best_c];
    const GroupId g = k.group;
    Group& G = groups_[g];
    G.new_level = best_share;
    G.count = 0;
    filled_groups_.push_back(g);
    for (std::uint32_t i = k.cand_begin; i < k.cand_end; ++i) {
      const VarId v = cand_vars_[i];
      if (vars_[v].frozen || vars_[v].reached != epoch_) continue;
      freeze(v, best_share, g, best_c);
      ++G.count;
      --remaining;
    }
    k.n = 0;
    k.rem = 0;
  }
}

void MaxMinSystem::apply_fill(std::vector<GroupId>* changed_groups, std::vector<VarId>* moved) {
  for (VarId v : refill_) {
    Var& var = vars_[v];
    if (var.new_group == var.group) continue;
    if (var.group != kNoGroup) {
      leave_group(v);
      ++stats_.vars_moved;
    }
    join_group(v, var.new_group);
    moved->push_back(v);
  }
  for (GroupId g : filled_groups_) {
    Group& G = groups_[g];
    // A constraint group is refilled whole (see the header), so the fill put all its members here.
    MOESIM_CHECK(G.members.size() == G.count, "max-min: group {} has {} members, {} refilled", g, G.members.size(),
                 G.count);
    if (G.members.empty() || G.new_level == G.level) continue;
    G.level = G.new_level;
    changed_groups->push_back(g);
  }
}

}  // namespace moesim
