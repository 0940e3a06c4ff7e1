#include "sim/flat_index.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

namespace moesim {
namespace {

TEST(FlatIndex, InsertFindAndEraseAgreeWithAStdMapUnderChurn) {
  // Keys from a small (group, constraint) space so runs collide and erase shifts entries back.
  FlatIndex index;
  std::map<std::uint64_t, std::uint32_t> ref;
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<std::uint64_t> part(0, 40);
  for (int step = 0; step < 200000; ++step) {
    const std::uint64_t key = (part(rng) << 32) | part(rng);
    if (rng() % 3 == 0) {
      EXPECT_EQ(index.erase(key), ref.erase(key) == 1);
    } else {
      bool inserted = false;
      std::uint32_t& v = index.find_or_insert(key, static_cast<std::uint32_t>(step), inserted);
      const auto [it, fresh] = ref.try_emplace(key, static_cast<std::uint32_t>(step));
      ASSERT_EQ(inserted, fresh);
      ASSERT_EQ(v, it->second);
      v += 1;
      it->second += 1;
    }
    ASSERT_EQ(index.size(), ref.size());
  }
  for (std::uint64_t g = 0; g <= 40; ++g)
    for (std::uint64_t c = 0; c <= 40; ++c) {
      const std::uint64_t key = (g << 32) | c;
      const std::uint32_t* v = index.find(key);
      const auto it = ref.find(key);
      ASSERT_EQ(v != nullptr, it != ref.end()) << g << "," << c;
      if (v) {
        EXPECT_EQ(*v, it->second);
      }
    }
}

TEST(FlatIndex, EmptyIndexFindsNothing) {
  FlatIndex index;
  EXPECT_EQ(index.find(3), nullptr);
  EXPECT_FALSE(index.erase(3));
  EXPECT_EQ(index.size(), 0u);
}

}  // namespace
}  // namespace moesim
