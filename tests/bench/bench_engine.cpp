// Engine throughput: schedule + pop of events, target >= 20 M events/s (issue 2).
#include <benchmark/benchmark.h>

#include <cstdint>

#include "sim/engine.h"

using namespace moesim;

namespace {

// Keeps `pending` events in the queue; each event schedules one more at a pseudo-random
// later time, so every iteration is one schedule + one pop at a steady queue size.
void BM_EngineScheduleAndPop(benchmark::State& state) {
  const auto pending = static_cast<std::int64_t>(state.range(0));
  const std::int64_t total = 2'000'000;
  for (auto _ : state) {
    Engine e;
    std::int64_t left = total;
    std::uint64_t x = 88172645463325252ULL;
    struct Chain {
      Engine* e;
      std::int64_t* left;
      std::uint64_t* x;
      void operator()() const {
        if (--*left < 0) return;
        *x ^= *x << 13; *x ^= *x >> 7; *x ^= *x << 17;
        e->schedule_after(Time::from_ps(static_cast<std::int64_t>(1 + (*x % 1000000))), *this);
      }
    };
    for (std::int64_t i = 0; i < pending; ++i) e.schedule_after(Time::from_ps(i), Chain{&e, &left, &x});
    e.run();
    benchmark::DoNotOptimize(e.events_processed());
    state.counters["events"] = static_cast<double>(e.events_processed());
  }
  state.counters["events_per_s"] =
      benchmark::Counter(static_cast<double>(total + pending) * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

}  // namespace

BENCHMARK(BM_EngineScheduleAndPop)->Arg(1)->Arg(1000)->Arg(100000)->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
