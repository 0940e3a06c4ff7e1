// sim/block_rows.h: a rows x cols table that stores only the 64-column blocks written to.
#include "sim/block_rows.h"

#include <cstdint>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

using moesim::BlockRows;

TEST(BlockRows, ReadsEmptyUntilWrittenAndMakesOnlyTheBlocksWrittenTo) {
  // 3 rows of 130 columns: blocks [0, 64), [64, 128), [128, 130).
  BlockRows<std::uint32_t> t(3, 130, 7);
  EXPECT_EQ(t.at(1, 129), 7u);
  EXPECT_EQ(t.stored_values(), 0u);
  t.slot(1, 129) = 3;
  t.slot(1, 0) = 1;
  t.slot(1, 5) += 1;  // 7 + 1
  EXPECT_EQ(t.stored_values(), 2 * BlockRows<std::uint32_t>::kBlock);
  EXPECT_EQ(t.at(1, 129), 3u);
  EXPECT_EQ(t.at(1, 128), 7u);  // a made block, never written
  EXPECT_EQ(t.at(1, 64), 7u);   // a block never made
  EXPECT_EQ(t.at(0, 0), 7u);    // another row
  // for_each_in_row: the made blocks' columns below cols, ascending.
  std::vector<std::pair<std::size_t, std::uint32_t>> seen;
  t.for_each_in_row(1, [&](std::size_t c, std::uint32_t v) { seen.emplace_back(c, v); });
  ASSERT_EQ(seen.size(), 64u + 2u);
  EXPECT_EQ(seen[0], (std::pair<std::size_t, std::uint32_t>{0, 1}));
  EXPECT_EQ(seen[5], (std::pair<std::size_t, std::uint32_t>{5, 8}));
  EXPECT_EQ(seen[63].first, 63u);
  EXPECT_EQ(seen[64], (std::pair<std::size_t, std::uint32_t>{128, 7}));
  EXPECT_EQ(seen[65], (std::pair<std::size_t, std::uint32_t>{129, 3}));
  int other_rows = 0;
  t.for_each_in_row(0, [&](std::size_t, std::uint32_t) { ++other_rows; });
  EXPECT_EQ(other_rows, 0);
}

TEST(BlockRows, AnEmptyTableHoldsNothing) {
  BlockRows<double> t;
  EXPECT_EQ(t.rows(), 0);
  EXPECT_EQ(t.cols(), 0);
  EXPECT_EQ(t.stored_values(), 0u);
}
