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
// Groups. Every variable belongs to the group of its bottleneck: the constraint it froze on
// in the filling, or, for a variable at its bound, the group of that bound value. All
// members of a group have the same rate, the group's level, so a rate is stored once per
// group, and a change of level moves every member at once without touching them (the
// network keeps its flows' progress per group for the same reason). The solver reports the
// groups whose level changed and the variables that changed group.
//
// Algorithm: progressive filling (water-filling). Raise all unfrozen rates together; when a
// constraint saturates (fair share rem_c / n_c is the smallest) or a bound is reached, freeze
// those variables. O((V_inc + C) log C) per solve with V_inc the variable-constraint
// incidences in the part being solved.
//
// Incremental solve(), three paths, cheapest first:
//
// (A) Re-levelling (removals, and up to a few hundred new variables; see below). If no
//     variable changes group, the
//     levels solve a triangular system: for a group g on constraint c with n_g members,
//     n_g * level_g + sum_{h != g} N(c, h) * level_h = cap_c, where N(c, h) counts the members
//     of group h that cross c (kept per (group, constraint) pair, "edges"). Levels are
//     recomputed in increasing order from the groups the removals touched, following edges
//     to the groups whose residual moved. The result is the max-min allocation iff every
//     member still has the largest rate on its bottleneck (level_h <= level_g for every
//     group h crossing g), no constraint is over capacity and no bound is passed; those
//     conditions are checked on exactly the edges whose levels moved. The cost is the edges
//     of the groups that moved, independent of how many variables they hold. If a check
//     fails (a variable would change bottleneck), nothing is committed and (A') runs.
//     A new variable is first placed, tentatively, in the group of the constraint where its
//     share would be smallest if nothing else moved, as if it had been there at the group's
//     current level; the same levelling then runs, with two more checks: a group that took
//     new members has every variable on its constraint at or below its level (it may have
//     been empty, its constraint unsaturated), and each new variable stays at or below the
//     levels (or capacity) of the other constraints it crosses and its bound.
//     Pivots. A failed check names a group h and a constraint c such that h's members crossing
//     c would be above c's group's level, or would overfill c (its group empty): in the
//     max-min allocation they are bottlenecked on c. They move, tentatively, to c's group;
//     each is charged its change of level on the constraints it crosses, whose groups are
//     levelled again from where they stand (a group levelled before is levelled again when
//     its residual moves; a budget ends cycles), and the checks run again. At most
//     kMaxPivots pivots and kMaxPivotedVars moved variables per solve; on failure every move
//     and placement is undone. Whatever the pivots, the result is committed only if every
//     check passes, so it is the max-min allocation.
// (A') Local refill. Refill only the members of a region of groups (the ones (A) touched, or
//     for additions the groups of the changed constraints) plus the new variables, everything
//     else fixed, and accept the result only if it is the max-min allocation. Since the
//     region holds every group whose constraint changed, the outside variables keep their
//     bottleneck unless a region variable changes rate on (or freezes at) an outside group's
//     constraint, or an outside group's level is above a level the region set on a
//     constraint it crosses: each such group joins the region, with the groups of the other
//     constraints its members cross (their residuals move next), and the fill is redone (a
//     few rounds at most, then (B)). Cost: the region's variable-constraint incidences.
// (B) Refilling by threshold. Two exact facts bound what a change can move:
//  (1) Removing a variable of rate r leaves every variable of rate < r unchanged: in the
//      filling, everything below level r happens as before (the removed variable was still
//      rising there, and its constraints only gain slack), so those variables freeze at the
//      same levels.
//  (2) Adding a variable g whose new rate is r_g leaves every variable of rate < r_g
//      unchanged (apply (1) to removing g from the new state), and
//      r_g >= LB(g) = min(bound_g, min over g's constraints c of cap_c / n_c), since g is
//      bottlenecked on a saturated c where it has the largest of n_c rates.
//     So with t = min(removed rates, LB of added variables), only variables of rate >= t can
//     move (the members of the groups at level >= t); of those, only the ones connected to a
//     changed constraint through variables of rate >= t (the others see unchanged residual
//     capacities). A constraint group's members are all refilled or none (they cross their
//     bottleneck together), so groups stay whole. Cost O(U * path + T log T) for U candidates
//     on T constraints, plus a scan of the groups.
// Capacity changes fall back to a full solve.
//
// Dominated (passive) constraints. If every variable on c also crosses d and d precedes c
// (smaller capacity, or equal and a smaller id), c never decides a rate: during the filling
// the variables frozen on c are frozen on d too and the unfrozen ones on c are unfrozen on
// d, so rem_c >= rem_d and n_c <= n_d, i.e. d's fair share is never above c's; and the
// allocation without c keeps c within capacity (load_c <= load_d <= cap_d <= cap_c). So c
// is left out of every fill, group edge and check (it is "passive"): a GPU's PCIe links
// carry only flows that also cross the NIC behind them, which cuts the work per inter-node
// flow from six constraints to two. The first variable on c names c's candidate dominators
// (its constraints that precede c, at most kMaxDominators, smallest first); each later one
// keeps those it also crosses; when none is left, c becomes ordinary (its load is summed and
// its edges counted from its variables then). An emptied constraint starts afresh. A
// capacity change makes every constraint ordinary.
//
// Declared domination. The dynamic rule still lists a passive constraint's variables (to
// activate it) and updates that list on every arrival and departure, which on a busy PCIe
// link is a cache miss each time. A caller that knows every path a variable can take (the
// TransferService knows every GPU pair's route) may declare c dominated by d for good
// (declare_dominated): c keeps no list and costs one check per arrival (does the variable
// cross d?) and nothing per departure. The allocation is the same as with the dynamic rule.
// A capacity change ends every declaration, each rebuilding its list from all variables
// (O(declared x variables); nothing in the simulator changes capacities mid-run).
//
// Worked example (tested in tests/sim/maxmin_test.cpp, "parking lot"): constraints A, B of
// capacity 1; variable x0 uses A and B, x1 uses A, x2 uses B. Filling raises all three to 0.5,
// where A and B saturate together: x0 = x1 = x2 = 0.5.
#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <span>
#include <unordered_map>
#include <vector>

#include "sim/flat_index.h"

namespace moesim {

class MaxMinSystem {
 public:
  using VarId = std::uint32_t;
  using ConstraintId = std::uint32_t;
  using GroupId = std::uint32_t;
  static constexpr double kUnbounded = std::numeric_limits<double>::infinity();
  static constexpr GroupId kNoGroup = std::numeric_limits<GroupId>::max();

  ConstraintId add_constraint(double capacity);
  void set_capacity(ConstraintId c, double capacity);
  /// Declares that every variable that will cross c also crosses d, where d precedes c (see
  /// "Declared domination" above); c must have no variables yet. c is then passive from its
  /// first variable on and keeps no list of its variables (variables_of(c) is empty and
  /// load(c) is not tracked). A variable that crosses c but not d ends the declaration: c's
  /// list is rebuilt from every variable (O(incidences), once) and it is an ordinary
  /// constraint from then on, so a wrong declaration costs time, never the allocation.
  void declare_dominated(ConstraintId c, ConstraintId d);
  bool declared_dominated(ConstraintId c) const { return ndom_[c] == kDeclared; }
  /// d may dominate c: smaller capacity, or the same and a smaller id (a strict order, so two
  /// constraints never make each other passive; declare_dominated requires it).
  bool dominates(ConstraintId d, ConstraintId c) const;
  double capacity(ConstraintId c) const { return cons_[c].capacity; }
  std::size_t constraint_count() const { return cons_.size(); }

  /// Adds a variable using `constraints` (each at most once), with rate bound `bound` (> 0).
  /// Its value is 0 (and it has no group) until the next solve().
  VarId add_variable(std::span<const ConstraintId> constraints, double bound = kUnbounded);
  void remove_variable(VarId v);
  double value(VarId v) const {
    const GroupId g = vars_[v].group;
    return g == kNoGroup ? 0.0 : groups_[g].level;
  }
  double bound(VarId v) const { return vars_[v].bound; }
  bool alive(VarId v) const { return v < vars_.size() && vars_[v].alive; }
  std::size_t variable_count() const { return live_vars_; }

  /// The group of v (kNoGroup before its first solve), and a group's level: every member's value.
  GroupId group_of(VarId v) const { return vars_[v].group; }
  double group_level(GroupId g) const { return groups_[g].level; }
  std::size_t group_count() const { return groups_.size(); }
  std::span<const VarId> members_of(GroupId g) const { return groups_[g].members; }

  /// Sum of the current values of the variables on c.
  double load(ConstraintId c) const;
  /// Variables currently using c (none listed for a declared-dominated c).
  std::span<const VarId> variables_of(ConstraintId c) const { return cons_[c].vars; }
  std::span<const ConstraintId> constraints_of(VarId v) const { return cons_of(v); }

  /// Recomputes what changed since the last solve. `changed_groups` receives the groups whose
  /// level changed (with members); `moved` the variables whose group changed (new ones
  /// included). A variable's value changed iff it is in `moved` or its group is in
  /// `changed_groups` (a moved variable's old and new levels may be equal).
  void solve(std::vector<GroupId>* changed_groups, std::vector<VarId>* moved);
  /// Same; `changed` receives the variables whose value changed (new ones included).
  void solve(std::vector<VarId>* changed = nullptr);
  /// Recomputes everything from scratch (reference path; same result as solve()).
  void solve_all(std::vector<VarId>* changed = nullptr);
  bool dirty() const { return !dirty_cons_.empty() || !fresh_.empty(); }

  struct Stats {
    std::uint64_t solves = 0;
    std::uint64_t relevels = 0;       // solves done by re-levelling groups (path A)
    std::uint64_t relevel_failed = 0; // re-levellings that failed their checks
    std::uint64_t local_refills = 0;  // of those, solved by refilling the groups around (path A')
    std::uint64_t edges_checked = 0;  // (group, constraint) edges visited by re-levelling
    std::uint64_t vars_refilled = 0;  // variables re-frozen, summed over solves
    std::uint64_t candidates = 0;     // variables at or above the threshold, summed over solves
    std::uint64_t values_changed = 0; // variables whose value moved, summed over solves
    std::uint64_t vars_moved = 0;     // variables that changed group (new ones excluded)
    std::uint64_t joins_relevelled = 0;  // new variables placed by re-levelling (not refilled)
    std::uint64_t pivots = 0;         // moves of a group's members to a new bottleneck by re-levelling
    std::uint64_t activations = 0;    // passive constraints made ordinary (a variable bypassed their dominators)
    std::uint64_t undeclared = 0;     // of those, declared-dominated ones (a variable bypassed the declaration)
  };
  const Stats& stats() const { return stats_; }

 private:
  // Variables: what the filling reads together sits in one cache line; their constraint ids
  // and their positions in those constraints' lists live in two pools, in blocks of a
  // power-of-two capacity recycled through per-size free lists.
  struct alignas(64) Var {
    double bound = kUnbounded;
    double new_value = 0;          // scratch: value found by the fill
    GroupId group = kNoGroup;
    GroupId new_group = kNoGroup;  // scratch: group found by the fill
    std::uint32_t pos = 0;         // index in its group's members
    std::uint32_t stamp = 0;       // scratch: candidate in this solve
    std::uint32_t reached = 0;     // scratch: connected to a change in this solve
    std::uint32_t slot = 0;        // first index of its block in var_cons_ / var_pos_
    std::uint32_t pivot_mark = 0;  // scratch: pivoted by this re-levelling
    std::uint16_t n = 0;           // constraints used
    std::uint16_t na = 0;          // of those, ordinary (not passive): the first na of its block
    std::uint8_t size_class = 0;   // block capacity = 1 << size_class
    bool alive = false;
    bool fresh = false;            // added since the last solve
    bool listed = false;           // its slot is in fresh_ (a variable removed before a solve
                                   // leaves its entry there, which a reuse of the slot takes over)
    bool frozen = false;           // scratch during a fill
  };
  std::span<ConstraintId> cons_of(VarId v) { return {var_cons_.data() + vars_[v].slot, vars_[v].n}; }
  std::span<const ConstraintId> cons_of(VarId v) const { return {var_cons_.data() + vars_[v].slot, vars_[v].n}; }
  /// v's ordinary constraints, by increasing id: every loop of the solver skips the passive
  /// ones, so a block keeps them last (activate() moves a constraint over).
  std::span<const ConstraintId> active_of(VarId v) const { return {var_cons_.data() + vars_[v].slot, vars_[v].na}; }
  // Constraints and groups: the fields the re-levelling reads per edge come first, so they
  // share a cache line; the lists follow.
  struct alignas(64) Constraint {
    double capacity = 0;
    double load = 0;               // sum of the values of its variables
    double dload = 0;              // scratch: load change found by re-levelling
    double rem = 0;                // scratch: remaining capacity
    GroupId group = kNoGroup;      // the group bottlenecked here
    std::uint32_t stamp = 0;       // scratch: touched in this solve
    std::uint32_t reached = 0;     // scratch
    std::uint32_t n = 0;           // scratch: unfrozen variables
    std::uint32_t cand_begin = 0;  // scratch: range in cand_vars_
    std::uint32_t cand_end = 0;
    std::array<ConstraintId, 4> dom{};  // passive (ndom_ > 0): every variable on it crosses these
    std::vector<VarId> vars;
    std::vector<std::uint32_t> at;  // per entry of vars: where c sits in var_cons_ / var_pos_ (that variable's block)
    std::vector<std::uint32_t> in; // edges (h, c) of the other groups whose members cross c
  };
  static constexpr std::uint8_t kMaxDominators = 4;
  static constexpr std::uint8_t kDeclared = 0xFF;  // ndom_ of a declared-dominated constraint
  bool passive(ConstraintId c) const { return ndom_[c] > 0; }
  /// Ends c's declaration (a variable other than `adding` crosses c without its dominator, or
  /// capacities change): lists c's variables from their blocks, then activate(c).
  void undeclare(ConstraintId c, VarId adding);
  /// Makes passive c an ordinary constraint: its load summed, its edges counted.
  void activate(ConstraintId c);
  struct alignas(64) Group {
    double level = 0;
    double new_level = 0;          // scratch
    std::uint32_t size = 0;        // members.size()
    std::uint32_t stamp = 0;       // scratch: levelled / set in this solve
    std::uint32_t queued = 0;      // scratch: in the re-levelling's region
    std::uint32_t heaped = 0;      // scratch: in the re-levelling's heap
    std::uint32_t region = 0;      // scratch: in the local refill's region
    std::uint32_t count = 0;       // scratch: members the fill put here
    std::uint32_t bounded = 0;     // members with a finite bound
    ConstraintId constraint = std::numeric_limits<ConstraintId>::max();  // none: a bound group
    std::vector<VarId> members;
    std::vector<std::uint32_t> out;  // edges (g, c): constraints its members cross besides its own
  };
  struct Edge {
    GroupId g;
    ConstraintId c;
    std::uint32_t count;           // members of g crossing c
    std::uint32_t pos_out;         // index in groups_[g].out
    std::uint32_t pos_in;          // index in cons_[c].in
  };

  void mark_dirty(ConstraintId c);
  GroupId bound_group(double bound);
  void join_group(VarId v, GroupId g);
  void leave_group(VarId v);
  void edge_add(GroupId g, ConstraintId c);
  void edge_sub(GroupId g, ConstraintId c);
  bool relevel(std::vector<GroupId>* changed_groups, std::vector<VarId>* moved);
  struct Pivot {  // the members of group h crossing constraint c are bottlenecked on c
    GroupId h;
    ConstraintId c;
  };
  void finish_solve();
  /// region_ = the groups (with members) of the changed constraints, marked queued = ep;
  /// with `keep`, added to the groups region_ already holds (marked too).
  void seed_region(std::uint32_t ep, bool keep = false);
  void index_candidates(const std::vector<VarId>& vars);
  bool local_refill(std::vector<GroupId>* changed_groups, std::vector<VarId>* moved);
  void refill(std::vector<GroupId>* changed_groups, std::vector<VarId>* moved);
  /// Progressive filling of `vars` (all unfrozen) over the constraints in touched_, whose
  /// rem/n/cand ranges are prepared. Sets each variable's new_value and new_group.
  void fill(std::vector<VarId>& vars);
  /// Moves the filled variables to their new groups and sets the levels of the groups filled.
  void apply_fill(std::vector<GroupId>* changed_groups, std::vector<VarId>* moved);
  void solve_full(std::vector<GroupId>* changed_groups, std::vector<VarId>* moved);
  void expand(std::vector<VarId>* changed);

  std::vector<Var> vars_;
  std::vector<ConstraintId> var_cons_;  // per variable: its constraints (a block each)
  std::vector<std::uint32_t> var_pos_;  // same blocks: its index in cons_[c].vars (and at)
  std::vector<std::vector<std::uint32_t>> free_blocks_;  // by size class: recycled slots
  std::vector<Constraint> cons_;
  std::vector<Group> groups_;
  std::unordered_map<std::uint64_t, GroupId> bound_groups_;  // by the bound's bits
  std::vector<Edge> edges_;
  std::vector<std::uint32_t> free_edges_;
  FlatIndex edge_at_;  // (g << 32 | c) -> edge
  std::vector<VarId> free_vars_;
  std::size_t live_vars_ = 0;
  std::vector<ConstraintId> dirty_cons_;
  std::vector<char> is_dirty_;
  std::vector<std::uint32_t> marks_;  // per constraint: == mark_epoch_ while add_variable marks its constraints
  std::uint32_t mark_epoch_ = 0;
  std::vector<std::uint8_t> ndom_;  // per constraint: its candidate dominators (0: ordinary, kDeclared: declared); dense, read per incidence
  std::vector<ConstraintId> declared_dom_;  // per constraint: its declared dominator (if ndom_ == kDeclared)
  std::vector<VarId> fresh_;
  double threshold_ = kUnbounded;   // min over pending changes (removed rates, added LBs)
  bool need_full_ = true;
  std::uint32_t epoch_ = 0;
  Stats stats_;
  // scratch buffers reused across solves
  std::vector<ConstraintId> touched_;
  std::vector<VarId> cand_;
  std::vector<VarId> cand_vars_;     // per-constraint candidate lists (CSR)
  std::vector<VarId> refill_;
  std::vector<VarId> bounded_;
  std::vector<GroupId> filled_groups_;
  std::vector<GroupId> levelled_;
  std::vector<VarId> joined_;         // new variables re-levelling placed in a group
  std::vector<GroupId> joined_groups_;  // their groups
  struct PivotRecord {
    VarId v;
    GroupId from;
  };
  struct LevelSave {
    GroupId g;
    double level;
  };
  std::vector<LevelSave> level_saves_;  // levels of emptied groups a pivot restarted, to restore on failure
  std::vector<PivotRecord> pivots_;     // variables re-levelling moved, each once, with the group they had
  std::vector<VarId> pivot_vars_;
  std::uint32_t relevel_id_ = 0;
  std::vector<GroupId> region_;
  bool region_seeded_ = false;  // region_ holds this solve's seed (re-levelling got that far)
  std::uint32_t region_epoch_ = 0;
  std::vector<double> saved_loads_;
  std::vector<ConstraintId> dloaded_;
  std::vector<GroupId> changed_scratch_;
  std::vector<VarId> moved_scratch_;
  struct HeapItem {
    double share;
    ConstraintId c;
  };
  std::vector<HeapItem> heap_;
};

}  // namespace moesim
