#pragma once
// Helpers for the K-ary min-heaps of the engine (events) and the network (flow finish
// times): a K-ary heap is half as deep as a binary one for K = 4, and a node's children sit
// next to each other in memory, so a pop touches fewer cache lines.
#include <algorithm>
#include <cstddef>
#include <vector>

namespace moesim {

inline constexpr std::size_t kHeapArity = 4;

inline std::size_t heap_parent(std::size_t i) { return (i - 1) / kHeapArity; }

/// The child of node `i` that `less` puts first, or heap.size() when `i` is a leaf.
template <class T, class Less>
std::size_t heap_min_child(const std::vector<T>& heap, std::size_t i, Less less) {
  const std::size_t n = heap.size();
  const std::size_t first = kHeapArity * i + 1;
  if (first >= n) return n;
  const std::size_t last = std::min(first + kHeapArity, n);
  std::size_t child = first;
  for (std::size_t c = first + 1; c < last; ++c)
    if (less(heap[c], heap[child])) child = c;
  return child;
}

}  // namespace moesim
