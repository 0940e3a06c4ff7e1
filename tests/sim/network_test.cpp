#include "sim/network.h"
#include "sim/error.h"

#include <gtest/gtest.h>

#include <vector>

using namespace moesim;
using namespace moesim::time_literals;

namespace {

LinkSpec link(double GBps, Time latency) {
  return LinkSpec{.capacity_Bps = GBps * 1e9, .latency = latency, .link_class = LinkClass::NetworkAccess, .kind = "test"};
}

struct Sim {
  Engine engine;
  std::vector<LinkSpec> links;
  std::unique_ptr<Network> net;
  std::vector<Time> done;
  explicit Sim(std::vector<LinkSpec> l) : links(std::move(l)), net(std::make_unique<Network>(engine, links)) {}
  // Starts a flow over `path` now; its delivery time lands in done[index].
  void flow(std::vector<LinkId> path, double bytes, Time end_delay = Time::zero(), double cap = MaxMinSystem::kUnbounded,
            Time start_delay = Time::zero()) {
    const std::size_t i = done.size();
    done.push_back(Time::max());
    net->start_flow({.path = path, .bytes = bytes, .rate_cap_Bps = cap, .start_delay = start_delay, .end_delay = end_delay,
                     .on_complete = [this, i] { done[i] = engine.now(); }});
  }
};

const LinkId L0{0}, L1{1}, L2{2};

}  // namespace

TEST(Network, OneFlowOnOneLinkTakesLatencyPlusSizeOverBandwidthExactly) {
  // 1 MB at 10 GB/s = 100 us, plus 2 us latency = 102 us.
  Sim r({link(10, 2_us)});
  r.flow({L0}, 1e6, 2_us);
  r.engine.run();
  EXPECT_EQ(r.done[0], 102_us);
}

TEST(Network, TwoFlowsSharingABottleneckGetHalfEach) {
  // Two 1 MB flows on 10 GB/s: 5 GB/s each, both done at 200 us.
  Sim r({link(10, Time::zero())});
  r.flow({L0}, 1e6);
  r.flow({L0}, 1e6);
  r.engine.run();
  EXPECT_EQ(r.done[0], 200_us);
  EXPECT_EQ(r.done[1], 200_us);
}

TEST(Network, AShortFlowLeavingSpeedsUpTheOtherAtTheRightMoment) {
  // 0.5 MB and 1.5 MB on 10 GB/s: both at 5 GB/s until the first ends at 100 us (0.5 MB of
  // the second moved); the remaining 1 MB then goes at 10 GB/s: 100 + 100 = 200 us.
  Sim r({link(10, Time::zero())});
  r.flow({L0}, 0.5e6);
  r.flow({L0}, 1.5e6);
  r.engine.run();
  EXPECT_EQ(r.done[0], 100_us);
  EXPECT_EQ(r.done[1], 200_us);
}

TEST(Network, AFlowCrossingTwoBottlenecksGetsTheSmallerShare) {
  // Link 0 (10 GB/s): flows a, b. Link 1 (4 GB/s): flows a, c. Link 1's share is 2 GB/s, so a
  // gets 2 and b gets 8. With 1 MB each: c and a end at 500 us; b ends at 125 us.
  Sim r({link(10, Time::zero()), link(4, Time::zero())});
  r.flow({L0, L1}, 1e6);
  r.flow({L0}, 1e6);
  r.flow({L1}, 1e6);
  r.engine.run();
  EXPECT_EQ(r.done[1], 125_us);
  // After b leaves at 125 us, a still shares link 1 with c at 2 GB/s each: 500 us.
  EXPECT_EQ(r.done[0], 500_us);
  EXPECT_EQ(r.done[2], 500_us);
}

TEST(Network, ARateCapLimitsAFlowBelowItsFairShare) {
  // 1 MB capped at 1 GB/s on a 10 GB/s link: 1 ms.
  Sim r({link(10, Time::zero())});
  r.flow({L0}, 1e6, Time::zero(), 1e9);
  r.engine.run();
  EXPECT_EQ(r.done[0], 1_ms);
}

TEST(Network, EfficiencyInflatesWireBytesSoASharedLinkDeliversEtaOfItsCapacity) {
  // Two 1 MB flows at efficiency 0.5 on 10 GB/s: 4 MB on the wire at 10 GB/s = 400 us, and
  // the link's payload counter shows 2 MB while its wire counter shows 4 MB.
  Sim r({link(10, Time::zero())});
  for (int i = 0; i < 2; ++i) {
    r.done.push_back(Time::max());
    r.net->start_flow({.path = std::vector<LinkId>{L0}, .bytes = 1e6, .efficiency = 0.5,
                       .on_complete = [&r, i] { r.done[i] = r.engine.now(); }});
  }
  r.engine.run();
  EXPECT_EQ(r.done[0], 400_us);
  EXPECT_EQ(r.done[1], 400_us);
  EXPECT_DOUBLE_EQ(r.net->link_stats()[0].bytes, 2e6);
  EXPECT_DOUBLE_EQ(r.net->link_stats()[0].wire_bytes, 4e6);
}

TEST(Network, StartDelayIsPaidBeforeBytesMove) {
  // Overhead 3 us, then 1 MB at 10 GB/s (100 us), then 2 us latency: 105 us. A second flow
  // started at 0 without delay has the link alone for 3 us: it moves 30 kB, then shares.
  Sim r({link(10, Time::zero())});
  r.flow({L0}, 1e6, 2_us, MaxMinSystem::kUnbounded, 3_us);
  r.engine.run();
  EXPECT_EQ(r.done[0], 105_us);
}

TEST(Network, FlowsJoiningAtTheSameInstantShareTheLinkFromThatInstant) {
  // Flows whose start delays end at the same instant join together (one engine event), and
  // interleaving them with other delays changes nothing: 0.5 MB and 1 MB both join at 4 us
  // on 10 GB/s (5 GB/s each, the first done at 4 + 100 = 104 us), the 1 MB one then runs
  // alone (0.5 MB left: 50 us, done at 154 us). A flow joining at 1 us on a separate link
  // is unaffected. Paths are temporaries here: the network must keep its own copy.
  Sim r({link(10, Time::zero()), link(10, Time::zero())});
  r.flow(std::vector<LinkId>{L0}, 0.5e6, Time::zero(), MaxMinSystem::kUnbounded, 4_us);
  r.flow(std::vector<LinkId>{L1}, 1e6, Time::zero(), MaxMinSystem::kUnbounded, 1_us);
  r.engine.schedule_at(2_us, [&] {
    r.flow(std::vector<LinkId>{L0}, 1e6, Time::zero(), MaxMinSystem::kUnbounded, 2_us);  // joins at 4 us too
  });
  r.engine.run();
  EXPECT_EQ(r.done[0], 104_us);
  EXPECT_EQ(r.done[1], 101_us);
  EXPECT_EQ(r.done[2], 154_us);
}

TEST(Network, ZeroByteAndEmptyPathFlowsCompleteAfterTheirDelays) {
  Sim r({link(10, Time::zero())});
  r.flow({L0}, 0, 2_us, MaxMinSystem::kUnbounded, 1_us);
  r.flow({}, 1e6, Time::zero(), 1e9);  // local copy at 1 GB/s: 1 ms
  r.engine.run();
  EXPECT_EQ(r.done[0], 3_us);
  EXPECT_EQ(r.done[1], 1_ms);
}

TEST(Network, LinkCountersConserveBytesAndTrackBusyTimeAndPeakFlows) {
  Sim r({link(10, Time::zero()), link(10, Time::zero()), link(10, Time::zero())});
  r.flow({L0, L1}, 1e6);
  r.flow({L0}, 1e6);
  r.flow({L2}, 2e6);
  r.engine.run();
  const auto st = r.net->link_stats();
  EXPECT_DOUBLE_EQ(st[0].bytes, 2e6);
  EXPECT_DOUBLE_EQ(st[1].bytes, 1e6);
  EXPECT_DOUBLE_EQ(st[2].bytes, 2e6);
  EXPECT_EQ(st[0].peak_flows, 2u);
  EXPECT_EQ(st[0].busy, 200_us);  // two 1 MB flows at 5 GB/s each
  EXPECT_EQ(st[2].busy, 200_us);
  EXPECT_EQ(r.net->active_flows(), 0u);
}

TEST(Network, FlowsStartedFromCompletionCallbacksAreSimulated) {
  // A chain of three 1 MB transfers, each started when the previous one is delivered.
  Sim r({link(10, 1_us)});
  int left = 3;
  std::function<void()> next = [&] {
    if (left-- == 0) return;
    r.net->start_flow({.path = std::vector<LinkId>{L0}, .bytes = 1e6, .end_delay = 1_us, .on_complete = next});
  };
  next();
  r.engine.run();
  EXPECT_EQ(r.engine.now(), 303_us);
}

TEST(Network, ACompletionWindowBatchesNearlySimultaneousEndsNeverEarly) {
  // Flows of 1.000 MB and 1.001 MB on separate 10 GB/s links end 100 ns apart. With a 1 us
  // window the completion event fires 1 us after the first end and completes both at 101 us
  // (late by 1 us and 0.9 us, none early); without a window the ends are exact.
  for (const Time window : {Time::zero(), 1_us}) {
    Engine engine;
    std::vector<LinkSpec> links = {link(10, Time::zero()), link(10, Time::zero())};
    Network net(engine, links, {.completion_window = window});
    std::vector<Time> done(2);
    net.start_flow({.path = std::vector<LinkId>{L0}, .bytes = 1e6, .on_complete = [&] { done[0] = engine.now(); }});
    net.start_flow({.path = std::vector<LinkId>{L1}, .bytes = 1.001e6, .on_complete = [&] { done[1] = engine.now(); }});
    engine.run();
    if (window == Time::zero()) {
      EXPECT_EQ(done[0], 100_us);
      EXPECT_EQ(done[1], 100100_ns);
    } else {
      EXPECT_EQ(done[0], 101_us);  // first end (100 us) + window
      EXPECT_EQ(done[1], 101_us);
    }
  }
}

TEST(Network, FlowsEndingTogetherAreDeliveredAfterTheirOwnLatencyInCompletionOrder) {
  // Four 1 MB flows on one 40 GB/s link end together at 100 us; two have a 2 us end delay
  // (delivered at 102 us, in the order they completed: flow slot order), one 5 us (105 us),
  // one none (at once, 100 us). Deliveries due together share one engine event, but each
  // runs at its own time and in completion order.
  Sim r({link(40, Time::zero())});
  std::vector<int> order;
  auto start = [&](int i, Time end_delay) {
    r.net->start_flow({.path = std::vector<LinkId>{L0}, .bytes = 1e6, .end_delay = end_delay, .on_complete = [&, i] {
                         order.push_back(i);
                         r.done.push_back(r.engine.now());
                       }});
  };
  start(0, 2_us);
  start(1, 5_us);
  start(2, 2_us);
  start(3, Time::zero());
  r.engine.run();
  EXPECT_EQ(order, (std::vector<int>{3, 0, 2, 1}));
  EXPECT_EQ(r.done, (std::vector<Time>{100_us, 102_us, 102_us, 105_us}));
}

TEST(Network, ZeroCapacityLinksAreRejected) {
  Engine e;
  std::vector<LinkSpec> l = {link(0, Time::zero())};
  EXPECT_THROW(Network(e, l), InvariantError);
}
