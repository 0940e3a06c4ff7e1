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
// Incremental: solve() recomputes only the connected components (variables linked through
// shared constraints) touched by additions, removals or capacity changes since the last
// solve. When the only changes are removals, variables whose rate is below the smallest
// removed rate keep their rates exactly (they were frozen before the removed variables'
// level in the filling, and nothing below that level changed), so only the rest is refilled.
//
// Worked example (tested in tests/sim/maxmin_test.cpp, "parking lot"): constraints A, B of
// capacity 1; variable x0 uses A and B, x1 uses A, x2 uses B. Filling raises all three to 0.5,
// where A and B saturate together: x0 = x1 = x2 = 0.5.
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
  std::span<const ConstraintId> constraints_of(VarId v) const { return vars_[v].cons; }

  /// Recomputes what changed since the last solve. If `changed` is given, it receives the
  /// variables whose value changed (new variables included).
  void solve(std::vector<VarId>* changed = nullptr);
  /// Recomputes everything from scratch (reference path; same result as solve()).
  void solve_all(std::vector<VarId>* changed = nullptr);
  bool dirty() const { return !dirty_cons_.empty(); }

  struct Stats {
    std::uint64_t solves = 0;
    std::uint64_t vars_refilled = 0;  // variables re-frozen, summed over solves
  };
  const Stats& stats() const { return stats_; }

 private:
  struct Var {
    std::vector<ConstraintId> cons;
    std::vector<std::uint32_t> pos;  // index of this var in cons_[cons[k]].vars
    double bound = kUnbounded;
    double value = 0;
    std::uint32_t stamp = 0;  // component visit stamp
    bool alive = false;
    bool frozen = false;      // scratch during a solve
    bool fixed = false;       // scratch: keeps its value in this solve
  };
  struct Constraint {
    double capacity = 0;
    std::vector<VarId> vars;
    std::uint32_t stamp = 0;
    double rem = 0;          // scratch: remaining capacity
    std::uint32_t n = 0;     // scratch: unfrozen variables
  };

  void mark_dirty(ConstraintId c);
  void fill(std::vector<ConstraintId>& comp_cons, std::vector<VarId>& comp_vars, double threshold,
            std::vector<VarId>* changed);

  std::vector<Var> vars_;
  std::vector<Constraint> cons_;
  std::vector<VarId> free_vars_;
  std::size_t live_vars_ = 0;
  std::vector<ConstraintId> dirty_cons_;
  std::vector<char> is_dirty_;
  bool only_removals_ = true;
  double min_removed_value_ = kUnbounded;
  std::uint32_t epoch_ = 0;
  Stats stats_;
  // scratch buffers reused across solves
  std::vector<ConstraintId> comp_cons_;
  std::vector<VarId> comp_vars_;
  std::vector<VarId> bounded_;
  struct HeapItem {
    double share;
    ConstraintId c;
  };
  std::vector<HeapItem> heap_;
};

}  // namespace moesim
