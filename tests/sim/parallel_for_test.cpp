// parallel_for (sim/parallel_for.h): every index runs once, and a body's exception reaches the
// caller after every thread has joined, the lowest index's first, as a serial loop reports.
#include "sim/parallel_for.h"

#include <atomic>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace moesim {
namespace {

TEST(ParallelFor, RunsEveryIndexOnceOnAnyNumberOfThreads) {
  for (std::size_t threads : {1u, 2u, 3u, 8u}) {
    std::vector<std::atomic<int>> runs(100);
    parallel_for(runs.size(), threads, [&](std::size_t i) { ++runs[i]; });
    for (std::size_t i = 0; i < runs.size(); ++i) EXPECT_EQ(runs[i].load(), 1) << "index " << i << ", " << threads << " threads";
  }
}

TEST(ParallelFor, RethrowsTheLowestFailingIndexAfterEveryIndexHasRun) {
  for (std::size_t threads : {1u, 2u, 4u}) {
    std::vector<std::atomic<int>> runs(64);
    try {
      parallel_for(runs.size(), threads, [&](std::size_t i) {
        ++runs[i];
        if (i == 41 || i == 17 || i == 63) throw std::runtime_error("index " + std::to_string(i));
      });
      ADD_FAILURE() << "no exception with " << threads << " threads";
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "index 17") << threads << " threads";
    }
    for (std::size_t i = 0; i < runs.size(); ++i) EXPECT_EQ(runs[i].load(), 1) << "index " << i << ", " << threads << " threads";
  }
}

TEST(ParallelFor, AnOutOfMemoryInAWorkerThreadReachesTheCallerAsItsType) {
  // Before, an exception leaving a body on a worker thread ended the process (std::terminate).
  EXPECT_THROW(parallel_for(8, 4,
                            [](std::size_t i) {
                              if (i == 5) throw std::bad_alloc();
                            }),
               std::bad_alloc);
}

}  // namespace
}  // namespace moesim
