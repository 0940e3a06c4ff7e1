// advise_huge_pages: harmless on any range, and on Linux with transparent huge pages set to
// "madvise" an advised array is faulted in 2 MiB at a time (counted by getrusage).
#include "sim/huge_pages.h"

#include <sys/resource.h>

#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

using moesim::advise_huge_pages;

namespace {

std::string thp_mode() {
  std::ifstream in("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string line;
  std::getline(in, line);
  const auto open = line.find('['), close = line.find(']');
  return open == std::string::npos || close == std::string::npos ? "" : line.substr(open + 1, close - open - 1);
}

long minor_faults() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_minflt;
}

// Page faults taken by filling a fresh 32 MiB array, advised or not.
long faults_to_fill(bool advise) {
  constexpr std::size_t kBytes = std::size_t{32} << 20;
  std::vector<char> v;
  v.reserve(kBytes);  // large: a mapping of its own, untouched
  if (advise) advise_huge_pages(v);
  const long before = minor_faults();
  v.assign(kBytes, 1);  // first touch
  const long after = minor_faults();
  EXPECT_EQ(v[kBytes - 1], 1);
  return after - before;
}

}  // namespace

TEST(HugePages, AdvisingAnyRangeIsHarmless) {
  advise_huge_pages(nullptr, 0);
  advise_huge_pages(nullptr, std::size_t{1} << 30);
  std::vector<int> small(10, 7);
  advise_huge_pages(small);  // no whole 2 MiB block inside: nothing to do
  EXPECT_EQ(small[9], 7);
  std::vector<double> empty;
  advise_huge_pages(empty);
}

TEST(HugePages, AnAdvisedArrayTakesFarFewerPageFaultsWhereTheKernelGivesHugePagesOnAdvice) {
  if (thp_mode() != "madvise") GTEST_SKIP() << "transparent huge pages are \"" << thp_mode() << "\", not \"madvise\"";
  // 32 MiB in 4 KiB pages: 8,192 faults. In 2 MiB pages: 16, plus up to 2 x 511 small pages at
  // the unaligned ends (measured here: 16,384 against 543 for 64 MiB).
  const long plain = faults_to_fill(false);
  const long advised = faults_to_fill(true);
  EXPECT_GE(plain, 4096) << "filling 32 MiB took fewer faults than 4 KiB pages need";
  EXPECT_LT(advised, plain / 4) << "advised: " << advised << " faults, plain: " << plain;
}
