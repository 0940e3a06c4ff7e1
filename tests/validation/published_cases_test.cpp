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

TEST(PublishedCases, AnAllReduceCaseMayNameTheAlgorithmThatWasMeasuredAndOnlyAKnownOne) {
  auto write = [](const std::string& name, const char* text) {
    const std::string path = std::string(::testing::TempDir()) + "/" + name;
    FILE* f = std::fopen(path.c_str(), "w");
    std::fputs(text, f);
    std::fclose(f);
    return path;
  };
  const auto ok = load_published_cases(write("ring_case.json", R"({"cases": [{"name": "x", "cluster": "dgx-h100", "nodes": 1,
      "op": "allreduce", "allreduce_algorithm": "ring", "bytes": 1e9, "metric": "busbw_GBps", "published": 1, "role": "check",
      "tolerance": 0.1}]})"));
  ASSERT_EQ(ok.size(), 1u);
  EXPECT_EQ(ok[0].allreduce_algorithm, "ring");
  // On one H100 node the ring case runs the ring, though Auto would pick NVLS at 1 GB.
  const auto ring = run_published_cases(ok, CostFactors::defaults(), MOESIM_SOURCE_DIR);
  auto nvls_case = ok;
  nvls_case[0].allreduce_algorithm = "nvls";
  const auto nvls = run_published_cases(nvls_case, CostFactors::defaults(), MOESIM_SOURCE_DIR);
  EXPECT_GT(nvls[0].predicted, 1.3 * ring[0].predicted);
  try {
    load_published_cases(write("bad_alg.json", R"({"cases": [{"name": "x", "cluster": "dgx-h100", "op": "allreduce",
        "allreduce_algorithm": "sharp", "bytes": 1, "metric": "busbw_GBps", "published": 1, "role": "check", "tolerance": 0.1}]})"));
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("/cases/0/allreduce_algorithm"), std::string::npos) << e.what();
  }
}
