#pragma once
// A plain fork-join loop for independent simulations or plans: body(i) for every i in
// [0, n), each thread taking the next index, the calling thread one of them. The results
// cannot depend on the thread count as long as body(i) writes only its own outputs; body
// must not throw (catch inside and keep the exception per index, so the caller can report
// the lowest index's as a serial loop would).
#include <algorithm>
#include <atomic>
#include <cstddef>
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
  auto worker = [&] {
    for (std::size_t i = next++; i < n; i = next++) body(i);
  };
  std::vector<std::thread> pool;
  for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
}

}  // namespace moesim
