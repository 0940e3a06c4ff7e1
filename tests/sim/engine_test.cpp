#include "sim/engine.h"

#include <gtest/gtest.h>

#include <vector>

#include "sim/error.h"

using namespace moesim;
using namespace moesim::time_literals;

TEST(Engine, RunsEventsInTimeOrder) {
  Engine e;
  std::vector<int> order;
  e.schedule_at(30_ns, [&] { order.push_back(3); });
  e.schedule_at(10_ns, [&] { order.push_back(1); });
  e.schedule_at(20_ns, [&] { order.push_back(2); });
  e.run();
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(e.now(), 30_ns);
  EXPECT_EQ(e.events_processed(), 3u);
}

TEST(Engine, RunsEqualTimesInInsertionOrder) {
  Engine e;
  std::vector<int> order;
  for (int i = 0; i < 100; ++i) e.schedule_at(5_us, [&order, i] { order.push_back(i); });
  e.run();
  ASSERT_EQ(order.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(order[i], i);
}

TEST(Engine, CancelledEventsDoNotRun) {
  Engine e;
  int ran = 0;
  auto a = e.schedule_at(1_us, [&] { ran += 1; });
  e.schedule_at(2_us, [&] { ran += 10; });
  EXPECT_TRUE(e.cancel(a));
  EXPECT_FALSE(e.cancel(a));  // twice is a no-op
  e.run();
  EXPECT_EQ(ran, 10);
}

TEST(Engine, CancellingARunEventIsRejectedEvenIfItsSlotIsReused) {
  Engine e;
  auto a = e.schedule_at(1_us, [] {});
  e.run();
  int ran = 0;
  e.schedule_at(2_us, [&] { ++ran; });  // reuses a's slot with a new generation
  EXPECT_FALSE(e.cancel(a));
  e.run();
  EXPECT_EQ(ran, 1);
}

TEST(Engine, EventsMayScheduleMoreEventsIncludingAtTheSameTime) {
  Engine e;
  std::vector<Time> seen;
  e.schedule_at(1_us, [&] {
    seen.push_back(e.now());
    e.schedule_after(Time::zero(), [&] { seen.push_back(e.now()); });
    e.schedule_after(3_us, [&] { seen.push_back(e.now()); });
  });
  e.run();
  EXPECT_EQ(seen, (std::vector<Time>{1_us, 1_us, 4_us}));
}

TEST(Engine, RunUntilStopsAtTheLimitAndAdvancesTheClock) {
  Engine e;
  int ran = 0;
  e.schedule_at(1_us, [&] { ++ran; });
  e.schedule_at(5_us, [&] { ++ran; });
  e.run_until(3_us);
  EXPECT_EQ(ran, 1);
  EXPECT_EQ(e.now(), 3_us);
  EXPECT_EQ(e.pending(), 1u);
  e.run();
  EXPECT_EQ(ran, 2);
}

TEST(Engine, StopReturnsAfterTheCurrentEvent) {
  Engine e;
  int ran = 0;
  e.schedule_at(1_us, [&] { ++ran; e.stop(); });
  e.schedule_at(2_us, [&] { ++ran; });
  e.run();
  EXPECT_EQ(ran, 1);
  e.run();
  EXPECT_EQ(ran, 2);
}

TEST(Engine, SchedulingInThePastIsAnInvariantError) {
  Engine e;
  e.schedule_at(5_us, [] {});
  e.run();
  EXPECT_THROW(e.schedule_at(1_us, [] {}), InvariantError);
}

TEST(Engine, ManyEnginesLiveIndependentlyInOneProcess) {
  Engine a, b;
  int na = 0, nb = 0;
  a.schedule_at(1_us, [&] { ++na; });
  b.schedule_at(2_us, [&] { ++nb; });
  a.run();
  EXPECT_EQ(na, 1);
  EXPECT_EQ(nb, 0);
  EXPECT_EQ(b.now(), Time::zero());
  b.run();
  EXPECT_EQ(nb, 1);
}

TEST(Time, ConvertsSecondsRoundingUpToWholePicoseconds) {
  EXPECT_EQ(Time::from_seconds_ceil(1e-12).ps(), 1);
  EXPECT_EQ(Time::from_seconds_ceil(1.5e-12).ps(), 2);
  EXPECT_EQ(Time::from_seconds_ceil(2e-6).ps(), 2000000);  // exact values stay exact
  EXPECT_EQ(Time::from_seconds_ceil(0).ps(), 0);
  EXPECT_EQ(fmt::format("{}", 1500_ns), "1.500 us");
  EXPECT_EQ(fmt::format("{}", 740_ps), "740 ps");
}
