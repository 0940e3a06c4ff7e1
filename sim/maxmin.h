#pragma once
// Max-min fair sharing: constraints (capacities) and variables (rates), nothing else.
// Like SimGrid's lmm::System, it knows no links, flows or networks (DESIGN.md rule 2).
//
// Problem: each variable v uses a set of constraints C(v) and may have an upper bound b_v.
// Find rates x >= 0 with, for every constraint c, sum_{v uses c} x_v <= cap_c, that are
// max-min fair: no x_v can grow without shrinking some x_u <= x_v. Equivalently every
// variable is at its bound or crosses a saturated constraint on which it has the largest
// rate ("bottleneck"). The allocation is unique.
//
// Algorithm: progressive filling (water-filling). Raise all unfrozen rates together; when a
// constraint saturates (fair share rem_c / n_c is the smallest) or a bound is reached, freeze
// those variables. O((V_inc + C) log C) per solve with V_inc the variable-constraint
// incidences in the part being solved.
//
// Incremental solve(). Two exact facts bound what a change can move:
//  (1) Removing a variable of rate r leaves every variable of rate < r unchanged: in the
//      filling, everything below level r happens as before (the removed variable was still
//      rising there, and its constraints only gain slack), so those variables freeze at the
//      same levels.
//  (2) Adding a variable g whose new rate is r_g leaves every variable of rate < r_g
//      unchanged (apply (1) to removing g from the new state), and
//      r_g >= LB(g) = min(bound_g, min over g's constraints c of cap_c / n_c), since g is
//      bottlenecked on a saturated c where it has the largest of n_c rates.
// So with t = min(removed rates, LB of added variables), only variables of rate >= t can
// move; of those, only the ones connected to a changed constraint through variables of
// rate >= t (the others see unchanged residual capacities). Live variables are kept sorted
// by rate, so the candidates are a suffix found by binary search, and a solve costs
// O(U * path + T log T) for U candidates on T constraints, not the size of the system.
// Capacity changes fall back to a full solve.
//
// Worked example (tested in tests/sim/maxmin_test.cpp, "parking lot"): constraints A, B of
// capacity 1; variable x0 uses A and B, x1 uses A, x2 uses B. Filling raises all three to 0.5,
// where A and B saturate together: x0 = x1 = x2 = 0.5.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

namespace moesim {

class MaxMinSystem {
 public:
  using VarId = std::uint32_t;
  using ConstraintId = std::uint32_t;
  static constexpr double kUnbounded = std::numeric_limits<double>::infinity();

  ConstraintId add_constraint(double capacity);
  void set_capacity(ConstraintId c, double capacity);
  double capacity(ConstraintId c) const { return cons_[c].capacity; }
  std::size_t constraint_count() const { return cons_.size(); }

  /// Adds a variable using `constraints` (each at most once), with rate bound `bound` (> 0).
  /// Its value is 0 until the next solve().
  VarId add_variable(std::span<const ConstraintId> constraints, double bound = kUnbounded);
  void remove_variable(VarId v);
  double value(VarId v) const { return vars_[v].value; }
  double bound(VarId v) const { return vars_[v].bound; }
  bool alive(VarId v) const { return v < vars_.size() && vars_[v].alive; }
  std::size_t variable_count() const { return live_vars_; }

  /// Sum of the current values of the variables on c.
  double load(ConstraintId c) const;
  /// Variables currently using c.
  std::span<const VarId> variables_of(ConstraintId c) const { return cons_[c].vars; }
  std::span<const ConstraintId> constraints_of(VarId v) const { return cons_of(v); }

  /// Recomputes what changed since the last solve. If `changed` is given, it receives the
  /// variables whose value changed (new variables included).
  void solve(std::vector<VarId>* changed = nullptr);
  /// Recomputes everything from scratch (reference path; same result as solve()).
  void solve_all(std::vector<VarId>* changed = nullptr);
  bool dirty() const { return !dirty_cons_.empty(); }

  struct Stats {
    std::uint64_t solves = 0;
    std::uint64_t vars_refilled = 0;  // variables re-frozen, summed over solves
    std::uint64_t candidates = 0;     // variables at or above the threshold, summed over solves
    std::uint64_t values_changed = 0; // refilled variables whose value moved, summed over solves
  };
  const Stats& stats() const { return stats_; }

 private:
  // Variables are small (40 bytes: what the filling reads together sits in one cache line);
  // their constraint ids and their positions in those constraints' lists live in two pools,
  // in blocks of a power-of-two capacity recycled through per-size free lists.
  struct Var {
    double bound = kUnbounded;
    double value = 0;
    std::uint32_t generation = 0;  // bumped on removal: order_ entries of a dead slot go stale
    std::uint32_t stamp = 0;       // scratch: candidate in this solve
    std::uint32_t reached = 0;     // scratch: connected to a change in this solve
    std::uint32_t slot = 0;        // first index of its block in var_cons_ / var_pos_
    std::uint16_t n = 0;           // constraints used
    std::uint8_t size_class = 0;   // block capacity = 1 << size_class
    bool alive = false;
    bool fresh = false;            // added since the last solve
    bool frozen = false;           // scratch during a fill
  };
  std::span<ConstraintId> cons_of(VarId v) { return {var_cons_.data() + vars_[v].slot, vars_[v].n}; }
  std::span<const ConstraintId> cons_of(VarId v) const { return {var_cons_.data() + vars_[v].slot, vars_[v].n}; }
  struct Constraint {
    double capacity = 0;
    double load = 0;               // sum of the values of its variables
    std::vector<VarId> vars;
    std::uint32_t stamp = 0;       // scratch: touched in this solve
    std::uint32_t reached = 0;     // scratch
    double rem = 0;                // scratch: remaining capacity
    std::uint32_t n = 0;           // scratch: unfrozen variables
    std::uint32_t cand_begin = 0;  // scratch: range in cand_vars_
    std::uint32_t cand_end = 0;
  };
  struct OrderEntry {
    double value;               // the variable's value when the entry was made (== now while live)
    VarId v;
    std::uint32_t generation;   // stale when the slot was freed since
  };

  void mark_dirty(ConstraintId c);
  bool entry_live(const OrderEntry& e) const { return vars_[e.v].alive && vars_[e.v].generation == e.generation && !vars_[e.v].fresh; }
  /// Progressive filling of `vars` (all unfrozen) over the constraints in touched_, whose
  /// rem/n/cand ranges are prepared. Appends the variables to freeze_order_ as they freeze.
  void fill(std::vector<VarId>& vars, std::vector<VarId>* changed);
  void solve_full(std::vector<VarId>* changed);
  void sort_by_value(std::vector<VarId>& vs) const;

  std::vector<Var> vars_;
  std::vector<ConstraintId> var_cons_;  // per variable: its constraints (a block each)
  std::vector<std::uint32_t> var_pos_;  // same blocks: its index in cons_[c].vars
  std::vector<std::vector<std::uint32_t>> free_blocks_;  // by size class: recycled slots
  std::vector<Constraint> cons_;
  std::vector<VarId> free_vars_;
  std::size_t live_vars_ = 0;
  std::vector<ConstraintId> dirty_cons_;
  std::vector<char> is_dirty_;
  std::vector<VarId> fresh_;
  double threshold_ = kUnbounded;   // min over pending changes (removed rates, added LBs)
  bool need_full_ = true;
  std::vector<OrderEntry> order_;   // live, solved variables by value ascending (+ stale entries)
  std::size_t stale_in_order_ = 0;
  std::uint32_t epoch_ = 0;
  Stats stats_;
  // scratch buffers reused across solves
  std::vector<ConstraintId> touched_;
  std::vector<VarId> cand_;
  std::vector<VarId> cand_vars_;     // per-constraint candidate lists (CSR)
  std::vector<VarId> refill_;
  std::vector<VarId> bounded_;
  std::vector<VarId> freeze_order_;
  std::vector<OrderEntry> merged_;
  struct HeapItem {
    double share;
    ConstraintId c;
  };
  std::vector<HeapItem> heap_;
};

}  // namespace moesim
