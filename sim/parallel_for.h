#pragma once
// A plain fork-join loop for independent simulations or plans: body(i) for every i in
// [0, n), each thread taking the next index, the calling thread one of them. The results
// cannot depend on the thread count as long as body(i) writes only its own outputs. If bodies
// throw, every index still runs, and once all threads have joined the exception of the lowest
// index that threw is rethrown, as a serial loop would report first (a std::bad_alloc in a
// worker thread is then an error the caller sees, not std::terminate).
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <limits>
#include <mutex>
#include <thread>
#include <vector>

namespace moesim {

/// `requested` threads if > 0, else one per core; at most `tasks`, at least 1.
inline std::size_t thread_count(std::size_t requested, std::size_t tasks) {
  const std::size_t cores = std::max(1u, std::thread::hardware_concurrency());
  return std::max<std::size_t>(1, std::min(tasks, requested > 0 ? requested : cores));
}

template <class Body>
void parallel_for(std::size_t n, std::size_t threads, Body&& body) {
  std::atomic<std::size_t> next{0};
  std::mutex mu;
  std::size_t failed_at = std::numeric_limits<std::size_t>::max();
  std::exception_ptr failure;
  auto worker = [&] {
    for (std::size_t i = next++; i < n; i = next++) {
      try {
        body(i);
      } catch (...) {
        const std::lock_guard lock(mu);
        if (i < failed_at) {
          failed_at = i;
          failure = std::current_exception();
        }
      }
    }
  };
  {
    std::vector<std::thread> pool;
    try {
      for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(worker);
    } catch (...) {  // no more threads (std::system_error, bad_alloc): the ones started and this one do the rest
    }
    worker();
    for (auto& t : pool) t.join();
  }
  if (failure) std::rethrow_exception(failure);
}

}  // namespace moesim
