#include "sim/maxmin.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "sim/error.h"

using namespace moesim;
using C = MaxMinSystem::ConstraintId;

namespace {

// Brute-force reference: textbook progressive filling with plain loops, O(V * C) per step.
std::vector<double> reference_maxmin(const std::vector<double>& cap, const std::vector<std::vector<C>>& uses,
                                     const std::vector<double>& bound) {
  const std::size_t nv = uses.size();
  std::vector<double> x(nv, 0);
  std::vector<bool> frozen(nv, false);
  std::size_t left = nv;
  while (left > 0) {
    double best = INFINITY;
    for (std::size_t c = 0; c < cap.size(); ++c) {
      double used = 0;
      int n = 0;
      for (std::size_t v = 0; v < nv; ++v) {
        if (std::find(uses[v].begin(), uses[v].end(), c) == uses[v].end()) continue;
        if (frozen[v]) used += x[v]; else ++n;
      }
      if (n > 0) best = std::min(best, std::max(0.0, cap[c] - used) / n);
    }
    for (std::size_t v = 0; v < nv; ++v)
      if (!frozen[v]) best = std::min(best, bound[v]);
    // Freeze variables at their bound or on a constraint saturated at `best`.
    std::vector<bool> freeze(nv, false);
    for (std::size_t v = 0; v < nv; ++v)
      if (!frozen[v] && bound[v] <= best) freeze[v] = true;
    for (std::size_t c = 0; c < cap.size(); ++c) {
      double used = 0;
      int n = 0;
      for (std::size_t v = 0; v < nv; ++v) {
        if (std::find(uses[v].begin(), uses[v].end(), c) == uses[v].end()) continue;
        if (frozen[v]) used += x[v]; else ++n;
      }
      if (n > 0 && std::max(0.0, cap[c] - used) / n <= best * (1 + 1e-12))
        for (std::size_t v = 0; v < nv; ++v)
          if (!frozen[v] && std::find(uses[v].begin(), uses[v].end(), c) != uses[v].end()) freeze[v] = true;
    }
    for (std::size_t v = 0; v < nv; ++v)
      if (freeze[v]) { x[v] = best; frozen[v] = true; --left; }
  }
  return x;
}

// Deterministic generator for the random cases (splitmix64).
struct Rng {
  std::uint64_t s;
  std::uint64_t next() {
    std::uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  int below(int n) { return static_cast<int>(next() % static_cast<std::uint64_t>(n)); }
};

struct RandomCase {
  std::vector<double> cap;
  std::vector<std::vector<C>> uses;
  std::vector<double> bound;
};

RandomCase make_case(Rng& rng, int ncons, int nvars, bool with_bounds) {
  RandomCase rc;
  for (int c = 0; c < ncons; ++c) rc.cap.push_back(1 + 9 * rng.uniform());
  for (int v = 0; v < nvars; ++v) {
    std::vector<C> u;
    const int k = 1 + rng.below(std::min(4, ncons));
    while (static_cast<int>(u.size()) < k) {
      C c = static_cast<C>(rng.below(ncons));
      if (std::find(u.begin(), u.end(), c) == u.end()) u.push_back(c);
    }
    rc.uses.push_back(u);
    rc.bound.push_back(with_bounds && rng.below(3) == 0 ? 0.1 + 3 * rng.uniform() : MaxMinSystem::kUnbounded);
  }
  return rc;
}

// Checks feasibility and max-min optimality (every variable is at its bound or has a
// saturated constraint on which no other variable gets more).
void expect_maxmin_optimal(const MaxMinSystem& s, const std::vector<MaxMinSystem::VarId>& vars) {
  for (C c = 0; c < s.constraint_count(); ++c)
    EXPECT_LE(s.load(c), s.capacity(c) * (1 + 1e-9)) << "constraint " << c << " over capacity";
  for (auto v : vars) {
    if (!s.alive(v)) continue;
    const double x = s.value(v);
    EXPECT_GE(x, 0);
    if (x >= s.bound(v) * (1 - 1e-9)) continue;
    bool bottlenecked = false;
    for (C c : s.constraints_of(v)) {
      if (s.load(c) < s.capacity(c) * (1 - 1e-9)) continue;
      double mx = 0;
      for (auto u : s.variables_of(c)) mx = std::max(mx, s.value(u));
      if (x >= mx * (1 - 1e-9)) bottlenecked = true;
    }
    EXPECT_TRUE(bottlenecked) << "variable " << v << " (" << x << ") has no bottleneck";
  }
}


/// Two systems fed the same changes: `s` under test and `full`, solved from scratch each
/// time, whose values `s` must match (the churn tests).
struct Twins {
  MaxMinSystem s, full;
  std::vector<MaxMinSystem::VarId> live, live_full;
  C add_constraint(double cap) {
    full.add_constraint(cap);
    return s.add_constraint(cap);
  }
  /// A variable on `u` in shuffled order, with a random bound one time in eight.
  void add(std::vector<C> u, Rng& rng) {
    for (std::size_t i = u.size(); i > 1; --i) std::swap(u[i - 1], u[rng.below(static_cast<int>(i))]);
    const double bound = rng.below(8) == 0 ? 1 + 4 * rng.uniform() : MaxMinSystem::kUnbounded;
    live.push_back(s.add_variable(u, bound));
    live_full.push_back(full.add_variable(u, bound));
  }
  void remove_one(Rng& rng) {
    const int k = rng.below(static_cast<int>(live.size()));
    s.remove_variable(live[k]);
    full.remove_variable(live_full[k]);
    live.erase(live.begin() + k);
    live_full.erase(live_full.begin() + k);
  }
  void solve() {
    s.solve();
    full.solve_all();
  }
  void expect_same_values(int trial, int step) const {
    for (std::size_t i = 0; i < live.size(); ++i)
      ASSERT_NEAR(s.value(live[i]), full.value(live_full[i]), 1e-9 * std::max(1.0, full.value(live_full[i])))
          << "trial " << trial << " step " << step;
  }
};

}  // namespace

TEST(MaxMin, OneVariableOnOneConstraintGetsTheWholeCapacity) {
  MaxMinSystem s;
  auto c = s.add_constraint(10);
  const C cs[] = {c};
  auto v = s.add_variable(cs);
  s.solve();
  EXPECT_DOUBLE_EQ(s.value(v), 10);
}

TEST(MaxMin, TwoVariablesSharingABottleneckGetHalfEach) {
  MaxMinSystem s;
  auto c = s.add_constraint(10);
  const C cs[] = {c};
  auto a = s.add_variable(cs);
  auto b = s.add_variable(cs);
  s.solve();
  EXPECT_DOUBLE_EQ(s.value(a), 5);
  EXPECT_DOUBLE_EQ(s.value(b), 5);
}

TEST(MaxMin, AVariableCrossingTwoBottlenecksGetsTheSmallerShare) {
  // A (cap 10) is shared by x and y; B (cap 6) by x, z, w. B's share 2 < A's 5: x = z = w = 2,
  // then y takes what A has left: 10 - 2 = 8.
  MaxMinSystem s;
  auto A = s.add_constraint(10), B = s.add_constraint(6);
  const C xb[] = {A, B}, ya[] = {A}, zb[] = {B};
  auto x = s.add_variable(xb);
  auto y = s.add_variable(ya);
  auto z = s.add_variable(zb);
  auto w = s.add_variable(zb);
  s.solve();
  EXPECT_DOUBLE_EQ(s.value(x), 2);
  EXPECT_DOUBLE_EQ(s.value(z), 2);
  EXPECT_DOUBLE_EQ(s.value(w), 2);
  EXPECT_DOUBLE_EQ(s.value(y), 8);
}

TEST(MaxMin, ParkingLotGivesTheLongFlowAndEachShortFlowAnEqualShare) {
  // Parking lot: a chain of L links of capacity 1; flow 0 crosses all of them, flow i (1..L)
  // crosses link i only. Each link has 2 flows: everyone gets 1/2.
  MaxMinSystem s;
  const int L = 5;
  std::vector<C> chain;
  for (int i = 0; i < L; ++i) chain.push_back(s.add_constraint(1));
  auto longf = s.add_variable(chain);
  std::vector<MaxMinSystem::VarId> shortf;
  for (int i = 0; i < L; ++i) {
    const C one[] = {chain[i]};
    shortf.push_back(s.add_variable(one));
  }
  s.solve();
  EXPECT_DOUBLE_EQ(s.value(longf), 0.5);
  for (auto v : shortf) EXPECT_DOUBLE_EQ(s.value(v), 0.5);
}

TEST(MaxMin, ParkingLotWithUnequalLinksLetsShortFlowsTakeTheSlack) {
  // Links of capacity 1, 2, 3: the long flow is limited by link 0 to 1/2; short flows get
  // 1 - 1/2 = 0.5, 2 - 0.5 = 1.5 and 3 - 0.5 = 2.5.
  MaxMinSystem s;
  std::vector<C> chain = {s.add_constraint(1), s.add_constraint(2), s.add_constraint(3)};
  auto longf = s.add_variable(chain);
  std::vector<MaxMinSystem::VarId> sh;
  for (C c : chain) {
    const C one[] = {c};
    sh.push_back(s.add_variable(one));
  }
  s.solve();
  EXPECT_DOUBLE_EQ(s.value(longf), 0.5);
  EXPECT_DOUBLE_EQ(s.value(sh[0]), 0.5);
  EXPECT_DOUBLE_EQ(s.value(sh[1]), 1.5);
  EXPECT_DOUBLE_EQ(s.value(sh[2]), 2.5);
}

TEST(MaxMin, ABoundedVariableLeavesItsUnusedShareToOthers) {
  // Capacity 10, three variables, one bounded at 1: the other two split 9.
  MaxMinSystem s;
  auto c = s.add_constraint(10);
  const C cs[] = {c};
  auto a = s.add_variable(cs, 1.0);
  auto b = s.add_variable(cs);
  auto d = s.add_variable(cs);
  s.solve();
  EXPECT_DOUBLE_EQ(s.value(a), 1);
  EXPECT_DOUBLE_EQ(s.value(b), 4.5);
  EXPECT_DOUBLE_EQ(s.value(d), 4.5);
}

TEST(MaxMin, RemovingAVariableGivesItsShareBackAndReportsChanges) {
  MaxMinSystem s;
  auto c = s.add_constraint(12);
  const C cs[] = {c};
  auto a = s.add_variable(cs);
  auto b = s.add_variable(cs);
  auto d = s.add_variable(cs);
  s.solve();
  EXPECT_DOUBLE_EQ(s.value(a), 4);
  s.remove_variable(d);
  std::vector<MaxMinSystem::VarId> changed;
  s.solve(&changed);
  EXPECT_DOUBLE_EQ(s.value(a), 6);
  EXPECT_DOUBLE_EQ(s.value(b), 6);
  EXPECT_EQ(changed.size(), 2u);
}

TEST(MaxMin, SolvingOnlyTouchesTheComponentThatChanged) {
  // Two independent constraints; changing one must not re-fill the other's variables.
  MaxMinSystem s;
  auto c1 = s.add_constraint(10), c2 = s.add_constraint(10);
  const C a1[] = {c1}, a2[] = {c2};
  s.add_variable(a1);
  s.add_variable(a2);
  s.add_variable(a2);
  s.solve();
  const auto before = s.stats();
  const auto v = s.add_variable(a1);
  s.solve();
  // The new variable joins c1's group by re-levelling: the two variables on c1 change value,
  // nothing is refilled and c2's variables are not looked at.
  EXPECT_EQ(s.stats().values_changed - before.values_changed, 2u);
  EXPECT_EQ(s.stats().relevels - before.relevels, 1u);
  EXPECT_EQ(s.stats().vars_refilled - before.vars_refilled, 0u);
  EXPECT_DOUBLE_EQ(s.value(v), 5.0);
}

TEST(MaxMin, AgreesWithTheBruteForceReferenceOnSmallRandomCases) {
  Rng rng{42};
  for (int trial = 0; trial < 300; ++trial) {
    const auto rc = make_case(rng, 1 + rng.below(6), 1 + rng.below(10), trial % 2 == 1);
    MaxMinSystem s;
    for (double c : rc.cap) s.add_constraint(c);
    std::vector<MaxMinSystem::VarId> vars;
    for (std::size_t v = 0; v < rc.uses.size(); ++v) vars.push_back(s.add_variable(rc.uses[v], rc.bound[v]));
    s.solve();
    const auto ref = reference_maxmin(rc.cap, rc.uses, rc.bound);
    for (std::size_t v = 0; v < vars.size(); ++v)
      ASSERT_NEAR(s.value(vars[v]), ref[v], 1e-9 * std::max(1.0, ref[v])) << "trial " << trial << " var " << v;
  }
}

TEST(MaxMin, RandomAddRemoveSequencesStayFeasibleOptimalAndEqualToAFullSolve) {
  // Property test: after every incremental solve, no constraint is over capacity, every
  // variable has a bottleneck, and the values equal a from-scratch solve of the same system.
  Rng rng{7};
  for (int trial = 0; trial < 40; ++trial) {
    const int ncons = 3 + rng.below(12);
    MaxMinSystem s, full;
    for (int c = 0; c < ncons; ++c) {
      const double cap = 1 + 9 * rng.uniform();
      s.add_constraint(cap);
      full.add_constraint(cap);
    }
    std::vector<MaxMinSystem::VarId> live, live_full;
    for (int step = 0; step < 60; ++step) {
      if (live.empty() || rng.below(3) != 0) {
        const auto rc = make_case(rng, ncons, 1, true);
        live.push_back(s.add_variable(rc.uses[0], rc.bound[0]));
        live_full.push_back(full.add_variable(rc.uses[0], rc.bound[0]));
      } else {
        const int k = rng.below(static_cast<int>(live.size()));
        s.remove_variable(live[k]);
        full.remove_variable(live_full[k]);
        live.erase(live.begin() + k);
        live_full.erase(live_full.begin() + k);
      }
      s.solve();
      full.solve_all();
      expect_maxmin_optimal(s, live);
      for (std::size_t i = 0; i < live.size(); ++i)
        ASSERT_NEAR(s.value(live[i]), full.value(live_full[i]), 1e-9 * std::max(1.0, full.value(live_full[i])))
            << "trial " << trial << " step " << step;
    }
  }
}

// Two-sided cases (every variable crosses one "sender" and one "receiver" constraint, like
// a NIC pair) plus random extra constraints and bounds: after filling, variables leave one
// at a time, and with `joins` every third step a new one arrives instead. Every solve must
// give the from-scratch allocation. Returns the solver's counters summed over the trials.
MaxMinSystem::Stats two_sided_churn(std::uint64_t seed, bool joins) {
  Rng rng{seed};
  MaxMinSystem::Stats sum;
  for (int trial = 0; trial < 30; ++trial) {
    const int senders = 2 + rng.below(6), receivers = 2 + rng.below(6), extra = rng.below(3);
    const int ncons = senders + receivers + extra;
    MaxMinSystem s, full;
    for (int c = 0; c < ncons; ++c) {
      const double cap = 1 + 9 * rng.uniform();
      s.add_constraint(cap);
      full.add_constraint(cap);
    }
    std::vector<MaxMinSystem::VarId> live, live_full;
    auto add = [&] {
      std::vector<C> u = {static_cast<C>(rng.below(senders)), static_cast<C>(senders + rng.below(receivers))};
      if (extra > 0 && rng.below(4) == 0) u.push_back(static_cast<C>(senders + receivers + rng.below(extra)));
      const double b = trial % 3 == 2 && rng.below(5) == 0 ? 0.05 + rng.uniform() : MaxMinSystem::kUnbounded;
      live.push_back(s.add_variable(u, b));
      live_full.push_back(full.add_variable(u, b));
    };
    const int nvars = 20 + rng.below(120);
    for (int v = 0; v < nvars; ++v) add();
    s.solve();
    for (int step = 0; !live.empty(); ++step) {
      if (joins && step % 3 == 2 && step < 3 * nvars) {
        add();
      } else {
        const int k = rng.below(static_cast<int>(live.size()));
        s.remove_variable(live[k]);
        full.remove_variable(live_full[k]);
        live.erase(live.begin() + k);
        live_full.erase(live_full.begin() + k);
      }
      std::vector<MaxMinSystem::VarId> changed;
      s.solve(&changed);
      full.solve_all();
      expect_maxmin_optimal(s, live);
      for (std::size_t i = 0; i < live.size(); ++i) {
        EXPECT_NEAR(s.value(live[i]), full.value(live_full[i]), 1e-9 * std::max(1.0, full.value(live_full[i])))
            << "trial " << trial << " step " << step;
        EXPECT_EQ(s.value(live[i]), s.group_level(s.group_of(live[i])));
      }
      if (::testing::Test::HasFailure()) return sum;
    }
    sum.relevels += s.stats().relevels;
    sum.relevel_failed += s.stats().relevel_failed;
    sum.joins_relevelled += s.stats().joins_relevelled;
    sum.pivots += s.stats().pivots;
    sum.vars_moved += s.stats().vars_moved;
  }
  return sum;
}

TEST(MaxMin, RemovalsReLevelGroupsAndAgreeWithAFullSolve) {
  // Removal-only solves try re-levelling (path A in sim/maxmin.h) and fall back to a refill
  // when a variable changes bottleneck; the counters show both paths ran.
  const auto st = two_sided_churn(11, false);
  EXPECT_GT(st.relevels, 100u);
  EXPECT_GT(st.relevel_failed, 10u);
  // Variables that change bottleneck are pivoted (moved to the group a failed check names)
  // and re-levelled; every solve above was checked against the full solve.
  EXPECT_GT(st.pivots, 10u);
}

TEST(MaxMin, JoinsReLevelGroupsAndAgreeWithAFullSolve) {
  // A new variable is placed in a guessed group and re-levelled like the removals; a wrong
  // guess is undone and refilled. Both must give the from-scratch allocation.
  const auto st = two_sided_churn(13, true);
  EXPECT_GT(st.joins_relevelled, 200u);  // joins re-levelled, not only refilled
  EXPECT_GT(st.relevel_failed, 10u);
  EXPECT_GT(st.pivots, 10u);
}

TEST(MaxMin, ADominatedConstraintBindsAgainOnceAVariableBypassesItsDominator) {
  // A GPU's PCIe link (30) carries two flows that also cross its NIC (12): the NIC decides,
  // the PCIe link is passive (sim/maxmin.h). A flow over PCIe alone makes it ordinary again,
  // and it then binds: 12 of NIC flows + 18 = 30, then two PCIe-only flows share 18.
  MaxMinSystem s;
  const C pcie = s.add_constraint(30), nic = s.add_constraint(12);
  const C both[] = {pcie, nic}, pcie_only[] = {pcie};
  const auto a = s.add_variable(both), b = s.add_variable(both);
  s.solve();
  EXPECT_DOUBLE_EQ(s.value(a), 6.0);
  EXPECT_DOUBLE_EQ(s.value(b), 6.0);
  const auto x = s.add_variable(pcie_only);
  s.solve();
  EXPECT_DOUBLE_EQ(s.value(x), 18.0);
  EXPECT_DOUBLE_EQ(s.load(pcie), 30.0);
  const auto y = s.add_variable(pcie_only);
  s.solve();
  EXPECT_DOUBLE_EQ(s.value(x), 9.0);
  EXPECT_DOUBLE_EQ(s.value(y), 9.0);
  EXPECT_DOUBLE_EQ(s.value(a), 6.0);
  // The NIC flows leave: the PCIe-only flows take the whole link.
  s.remove_variable(a);
  s.remove_variable(b);
  s.solve();
  EXPECT_DOUBLE_EQ(s.value(x), 15.0);
  EXPECT_DOUBLE_EQ(s.value(y), 15.0);
}

TEST(MaxMin, PassiveConstraintsThatTurnOrdinaryUnderChurnKeepEveryAllocationExact) {
  // Node-like systems: GPU i has a PCIe link (wide) and shares a NIC (narrow) with GPU i^1;
  // most variables cross src PCIe, src NIC, dst NIC and dst PCIe (so the PCIe links start
  // passive, dominated by the NICs), some cross one PCIe link alone (which makes it ordinary
  // again), others a pair of NVLink-like links. Constraint lists come in shuffled order.
  // Variables arrive and leave at random; every solve must equal a from-scratch solve, so a
  // constraint that turns ordinary must be counted from then on by every variable on it.
  Rng rng{23};
  std::uint64_t activations = 0;
  for (int trial = 0; trial < 25; ++trial) {
    const int gpus = 4 + 2 * rng.below(3);
    Twins t;
    std::vector<C> pcie, nic, nvl;
    for (int i = 0; i < gpus; ++i) pcie.push_back(t.add_constraint(20 + 10 * rng.uniform()));
    for (int i = 0; i < gpus / 2; ++i) nic.push_back(t.add_constraint(8 + 4 * rng.uniform()));
    for (int i = 0; i < gpus; ++i) nvl.push_back(t.add_constraint(40 + 20 * rng.uniform()));
    const MaxMinSystem& s = t.s;
    for (int step = 0; step < 150; ++step) {
      if (t.live.empty() || rng.below(5) < 3) {
        const int a = rng.below(gpus);
        int b = rng.below(gpus - 1);
        if (b >= a) ++b;
        std::vector<C> u;
        const int kind = rng.below(10);
        if (kind < 7) u = {pcie[a], nic[a / 2], nic[b / 2], pcie[b]};
        else if (kind < 8) u = {pcie[a]};
        else u = {nvl[a], nvl[b]};
        if (u.size() == 4 && a / 2 == b / 2) u = {pcie[a], nic[a / 2], pcie[b]};
        t.add(u, rng);
      } else {
        t.remove_one(rng);
      }
      if (rng.below(3) == 0) continue;  // several changes in one solve, sometimes
      t.solve();
      expect_maxmin_optimal(s, t.live);
      ASSERT_NO_FATAL_FAILURE(t.expect_same_values(trial, step));
    }
    activations += s.stats().activations;
  }
  EXPECT_GT(activations, 100u);  // the case this test is for did happen
}

TEST(MaxMin, ADeclaredDominatedConstraintKeepsNoListUntilAVariableBypassesItsDominator) {
  // The PCIe/NIC case above, with the PCIe link declared dominated by the NIC up front.
  MaxMinSystem s;
  const C pcie = s.add_constraint(30), nic = s.add_constraint(12);
  s.declare_dominated(pcie, nic);
  const C both[] = {pcie, nic}, pcie_only[] = {pcie};
  const auto a = s.add_variable(both), b = s.add_variable(both);
  s.solve();
  EXPECT_DOUBLE_EQ(s.value(a), 6.0);
  EXPECT_DOUBLE_EQ(s.value(b), 6.0);
  EXPECT_TRUE(s.declared_dominated(pcie));
  EXPECT_TRUE(s.variables_of(pcie).empty());
  EXPECT_EQ(s.constraints_of(a).size(), 2u);  // a still crosses both (stats read this)
  EXPECT_THROW((void)s.load(pcie), InvariantError);
  // A flow over PCIe alone ends the declaration: the link is listed and binds again.
  const auto x = s.add_variable(pcie_only);
  s.solve();
  EXPECT_FALSE(s.declared_dominated(pcie));
  EXPECT_EQ(s.stats().undeclared, 1u);
  EXPECT_EQ(s.variables_of(pcie).size(), 3u);
  EXPECT_DOUBLE_EQ(s.value(x), 18.0);
  EXPECT_DOUBLE_EQ(s.load(pcie), 30.0);
  s.remove_variable(a);
  s.remove_variable(b);
  s.solve();
  EXPECT_DOUBLE_EQ(s.value(x), 30.0);
}

TEST(MaxMin, DeclaringDominationChecksTheOrderAndThatTheConstraintIsUnused) {
  MaxMinSystem s;
  const C wide = s.add_constraint(30), narrow = s.add_constraint(12), same = s.add_constraint(12);
  EXPECT_THROW(s.declare_dominated(narrow, wide), InvariantError);  // wider cannot dominate
  EXPECT_THROW(s.declare_dominated(narrow, same), InvariantError);  // equal: only the smaller id
  EXPECT_THROW(s.declare_dominated(wide, wide), InvariantError);
  EXPECT_THROW(s.declare_dominated(wide, 7), InvariantError);
  s.declare_dominated(same, narrow);
  const C on_wide[] = {wide};
  (void)s.add_variable(on_wide);
  EXPECT_THROW(s.declare_dominated(wide, narrow), InvariantError);  // already has a variable
}

TEST(MaxMin, DeclaredDominationUnderChurnAndCapacityChangesMatchesAFullSolve) {
  // The churn case above with every PCIe link declared dominated by its NIC: the 4-link
  // flows keep the declarations, the PCIe-only ones end them while other flows are on the
  // link (its list is rebuilt from their blocks), and a capacity change ends them all.
  Rng rng{41};
  std::uint64_t undeclared = 0, solved_declared = 0;
  for (int trial = 0; trial < 25; ++trial) {
    const int gpus = 4 + 2 * rng.below(3);
    Twins t;
    std::vector<C> pcie, nic;
    for (int i = 0; i < gpus; ++i) pcie.push_back(t.add_constraint(20 + 10 * rng.uniform()));
    for (int i = 0; i < gpus / 2; ++i) nic.push_back(t.add_constraint(8 + 4 * rng.uniform()));
    MaxMinSystem& s = t.s;
    for (int i = 0; i < gpus; ++i) s.declare_dominated(pcie[i], nic[i / 2]);
    for (int step = 0; step < 150; ++step) {
      if (step == 120) {  // capacities move: every declaration ends
        const double cap = 8 + 4 * rng.uniform();
        s.set_capacity(nic[0], cap);
        t.full.set_capacity(nic[0], cap);
        for (C c : pcie) ASSERT_FALSE(s.declared_dominated(c));
      } else if (t.live.empty() || rng.below(5) < 3) {
        const int a = rng.below(gpus);
        int b = rng.below(gpus - 1);
        if (b >= a) ++b;
        std::vector<C> u = {pcie[a], nic[a / 2], nic[b / 2], pcie[b]};
        if (a / 2 == b / 2) u = {pcie[a], nic[a / 2], pcie[b]};
        if (rng.below(25) == 0) u = {pcie[a]};
        t.add(u, rng);
      } else {
        t.remove_one(rng);
      }
      if (rng.below(3) == 0) continue;
      t.solve();
      expect_maxmin_optimal(t.full, t.live_full);  // s tracks no load on a declared constraint
      if (std::any_of(pcie.begin(), pcie.end(), [&](C c) { return s.declared_dominated(c); })) ++solved_declared;
      ASSERT_NO_FATAL_FAILURE(t.expect_same_values(trial, step));
      for (C c : pcie)
        if (!s.declared_dominated(c)) {
          ASSERT_NEAR(s.load(c), t.full.load(c), 1e-9 * std::max(1.0, t.full.load(c)));
        }
    }
    undeclared += s.stats().undeclared;
  }
  EXPECT_GT(undeclared, 50u);        // declarations ended under load
  EXPECT_GT(solved_declared, 500u);  // and many solves ran with declarations in force
}

TEST(MaxMin, GroupsHoldEveryVariableAtItsGroupsLevel) {
  // Three flows on a 12-wide link share it (one group at 4); a capped flow sits in its bound's group.
  MaxMinSystem s;
  auto c = s.add_constraint(12);
  const C cs[] = {c};
  auto a = s.add_variable(cs), b = s.add_variable(cs), d = s.add_variable(cs, 2.0);
  std::vector<MaxMinSystem::GroupId> groups;
  std::vector<MaxMinSystem::VarId> moved;
  s.solve(&groups, &moved);
  EXPECT_EQ(moved.size(), 3u);
  EXPECT_EQ(s.group_of(a), s.group_of(b));
  EXPECT_NE(s.group_of(a), s.group_of(d));
  EXPECT_DOUBLE_EQ(s.group_level(s.group_of(a)), 5);
  EXPECT_DOUBLE_EQ(s.value(d), 2);
  EXPECT_EQ(s.members_of(s.group_of(a)).size(), 2u);
  // Removing b re-levels a's group without moving anyone: one group reported, no variable.
  s.remove_variable(b);
  s.solve(&groups, &moved);
  EXPECT_TRUE(moved.empty());
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0], s.group_of(a));
  EXPECT_DOUBLE_EQ(s.value(a), 10);
  EXPECT_EQ(s.stats().relevels, 1u);
}
