#pragma once
// A rows x cols table that stores only the 64-column blocks of each row that were written to:
// the GPU-pair tables of a cluster (a routing plan's token rows, the route cache) are sparse
// once expert-parallel groups are smaller than the cluster, where a dense P x P table is 4-8
// bytes per pair (4-8 GB at 32,768 GPUs). Memory: 4 bytes of block index per 64 pairs, plus 64
// values per block made. Lookups stay O(1): the index, then the block.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "sim/error.h"

namespace moesim {

template <typename T>
class BlockRows {
 public:
  static constexpr std::size_t kBlock = 64;

  BlockRows() = default;
  /// Every value reads `empty` until written.
  BlockRows(int rows, int cols, T empty)
      : rows_(rows),
        cols_(cols),
        blocks_per_row_((static_cast<std::size_t>(cols) + kBlock - 1) / kBlock),
        empty_(empty),
        block_(static_cast<std::size_t>(rows) * blocks_per_row_, 0) {
    MOESIM_CHECK(rows >= 0 && cols >= 0, "a {} x {} table", rows, cols);
  }

  int rows() const { return rows_; }
  int cols() const { return cols_; }

  /// The value at (r, c), its block made (every value `empty`) on first use. The reference is
  /// valid until the next call that makes a block.
  T& slot(std::size_t r, std::size_t c) {
    std::uint32_t& b = block_[r * blocks_per_row_ + c / kBlock];
    if (b == 0) {
      pool_.resize(pool_.size() + kBlock, empty_);
      b = static_cast<std::uint32_t>(pool_.size() / kBlock);
    }
    return pool_[static_cast<std::size_t>(b - 1) * kBlock + c % kBlock];
  }
  /// The value at (r, c); `empty` where its block was never made.
  T at(std::size_t r, std::size_t c) const {
    const std::uint32_t b = block_[r * blocks_per_row_ + c / kBlock];
    return b == 0 ? empty_ : pool_[static_cast<std::size_t>(b - 1) * kBlock + c % kBlock];
  }
  /// fn(c, value) for every column c < cols of row r whose block was made, ascending c
  /// (values still `empty` included).
  template <typename Fn>
  void for_each_in_row(std::size_t r, Fn&& fn) const {
    const std::size_t first = r * blocks_per_row_;
    for (std::size_t j = 0; j < blocks_per_row_; ++j) {
      const std::uint32_t b = block_[first + j];
      if (b == 0) continue;
      const T* v = pool_.data() + static_cast<std::size_t>(b - 1) * kBlock;
      const std::size_t n = std::min(kBlock, static_cast<std::size_t>(cols_) - j * kBlock);
      for (std::size_t i = 0; i < n; ++i) fn(j * kBlock + i, v[i]);
    }
  }
  /// Values held: kBlock per block made.
  std::size_t stored_values() const { return pool_.size(); }

 private:
  int rows_ = 0;
  int cols_ = 0;
  std::size_t blocks_per_row_ = 0;
  T empty_{};
  std::vector<std::uint32_t> block_;  // per (row, column / kBlock): 1 + block number in pool_, 0 = none
  std::vector<T> pool_;               // kBlock values per block
};

}  // namespace moesim
