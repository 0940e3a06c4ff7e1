#pragma once
// Pools of recycled slots: the engine's events, the network's flows and join batches, the
// max-min solver's variables and edges keep their elements in a vector and the indices of
// freed ones in a free list, so ids stay small and memory is reused.
#include <cstdint>
#include <vector>

namespace moesim {

/// A slot of `pool` for a new element: the most recently freed one (its old contents are
/// left for the caller to overwrite) or, when none is free, a default-constructed one
/// appended.
template <class T>
std::uint32_t take_slot(std::vector<T>& pool, std::vector<std::uint32_t>& free) {
  if (!free.empty()) {
    const std::uint32_t i = free.back();
    free.pop_back();
    return i;
  }
  pool.emplace_back();
  return static_cast<std::uint32_t>(pool.size() - 1);
}

}  // namespace moesim
