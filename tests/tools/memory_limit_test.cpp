// moesim's memory limit (tools/memory_limit.h): how the limit is chosen, and, through the
// built binary, that a run larger than the limit ends with the out-of-memory error and status
// 1, also when it runs out on a worker thread (compare -j 2), where it used to std::terminate.
#include "tools/memory_limit.h"

#include <string>

#include <gtest/gtest.h>

#include "sim/error.h"
#include "tests/shell_run.h"

namespace moesim::cli {
namespace {

constexpr const char* kMeminfo =
    "MemTotal:       24576000 kB\n"
    "MemFree:         1000000 kB\n"
    "MemAvailable:   20000000 kB\n"
    "Buffers:           10000 kB\n";

TEST(MemoryLimit, IsTheAvailableMemoryPlusWhatIsMappedByDefault) {
  // 20,000,000 kB = 20,480,000,000 bytes, plus 100 MB mapped.
  EXPECT_EQ(memory_limit_bytes(nullptr, kMeminfo, 100'000'000), std::optional<std::uint64_t>(20'580'000'000));
}

TEST(MemoryLimit, TheEnvironmentSetsItInGigabytesAndZeroMeansNone) {
  EXPECT_EQ(memory_limit_bytes("1.5", kMeminfo, 100'000'000), std::optional<std::uint64_t>(1'500'000'000));
  EXPECT_EQ(memory_limit_bytes("0", kMeminfo, 100'000'000), std::nullopt);
}

TEST(MemoryLimit, AMalformedEnvironmentValueIsAnErrorThatNamesIt) {
  for (const char* bad : {"", "x", "-1", "2GB", "nan", "inf"}) {
    try {
      memory_limit_bytes(bad, kMeminfo, 0);
      ADD_FAILURE() << "accepted \"" << bad << "\"";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("MOESIM_MEMORY_LIMIT_GB"), std::string::npos) << e.what();
    }
  }
}

TEST(MemoryLimit, NoMemAvailableLineMeansNoLimit) {
  EXPECT_EQ(memory_limit_bytes(nullptr, "MemTotal: 100 kB\n", 0), std::nullopt);
  EXPECT_EQ(memory_limit_bytes(nullptr, "MemAvailable: lots\n", 0), std::nullopt);
}

using testing_shell::run;
using testing_shell::Shell;

#if defined(__SANITIZE_ADDRESS__)
#define MOESIM_SKIP_UNDER_ASAN GTEST_SKIP() << "builds with AddressSanitizer set no memory limit"
#else
#define MOESIM_SKIP_UNDER_ASAN (void)0
#endif

TEST(MemoryLimitCommand, ACollectiveLargerThanTheLimitEndsWithTheOutOfMemoryErrorAndStatus1) {
  MOESIM_SKIP_UNDER_ASAN;
  // 4,096 GPUs: the all-to-all's 16.8 M messages are reserved up front, far above 0.4 GB.
  const Shell r = run("MOESIM_MEMORY_LIMIT_GB=0.4 '" MOESIM_BIN "' collective --nodes 512 --bytes 1M");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("moesim: error: out of memory (moesim's limit: 0.4 GB of address space)"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("--fidelity fluid"), std::string::npos) << r.output;
}

TEST(MemoryLimitCommand, RunningOutOnACompareWorkerThreadIsTheSameErrorNotACrash) {
  MOESIM_SKIP_UNDER_ASAN;
  // Two strategies on two threads, each planning 4,096 GPUs' dense all-to-all matrices.
  const Shell r = run("MOESIM_MEMORY_LIMIT_GB=0.4 '" MOESIM_BIN
                      "' compare --nodes 512 --fidelity fluid --strategies switch,gshard -j 2");
  EXPECT_FALSE(r.signalled) << r.output;
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("moesim: error: out of memory"), std::string::npos) << r.output;
}

TEST(MemoryLimitCommand, AMalformedLimitIsAnErrorBeforeAnythingRuns) {
  MOESIM_SKIP_UNDER_ASAN;
  const Shell r = run("MOESIM_MEMORY_LIMIT_GB=lots '" MOESIM_BIN "' topo list");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("MOESIM_MEMORY_LIMIT_GB=\"lots\""), std::string::npos) << r.output;
}

}  // namespace
}  // namespace moesim::cli
