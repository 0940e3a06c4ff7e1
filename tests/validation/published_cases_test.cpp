#include "validation/published_cases.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "sim/error.h"

using namespace moesim;
using namespace moesim::validation;

// Golden end-to-end test: every published case in validation/cases/published_collectives.json
// stays within its stated tolerance with the embedded default cost factors. Held-out
// all-to-all cases have tight tolerances (2-10%); cases with a documented known gap (no NVLS,
// no per-collective launch cost, LL pipelining, SHM) have wide ones that still catch
// regressions. docs/VALIDATION.md shows the table.
TEST(PublishedCases, EveryCaseStaysWithinItsToleranceWithTheDefaultCostFactors) {
  const auto cases = load_published_cases(std::string(MOESIM_SOURCE_DIR) + "/validation/cases/published_collectives.json");
  ASSERT_GE(cases.size(), 30u);
  const auto results = run_published_cases(cases, CostFactors::defaults(), MOESIM_SOURCE_DIR);
  int held_out_exact = 0;
  for (const auto& r : results) {
    EXPECT_LE(std::abs(r.error), r.c.tolerance) << r.c.name << ": predicted " << r.predicted << " vs published " << r.c.published;
    if (r.c.role == "check" && r.c.known_gap.empty()) {
      ++held_out_exact;
      EXPECT_LE(r.c.tolerance, 0.10) << r.c.name << ": a held-out case without a known gap must have a tight tolerance";
    }
  }
  EXPECT_GE(held_out_exact, 4);
}

TEST(PublishedCases, UnknownKeysInTheCasesFileAreErrors) {
  const std::string path = std::string(::testing::TempDir()) + "/bad_cases.json";
  FILE* f = std::fopen(path.c_str(), "w");
  std::fputs(R"({"cases": [{"name": "x", "cluster": "dgx-a100", "op": "alltoall", "bytes": 1, "metric": "busbw_GBps",
               "published": 1, "role": "check", "tolerance": 0.1, "tolerence": 0.2}]})", f);
  std::fclose(f);
  try {
    load_published_cases(path);
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("/cases/0/tolerence: unknown key"), std::string::npos) << e.what();
  }
}
