#include "sim/cost_factors.h"

#include <gtest/gtest.h>

#include "sim/error.h"

using namespace moesim;

TEST(CostFactors, EmbeddedDefaultsCoverEveryTransport) {
  const auto cf = CostFactors::defaults();
  for (auto t : kAllTransports) {
    ASSERT_FALSE(cf.transport(t).protocols.empty()) << to_string(t);
    for (const auto& p : cf.transport(t).protocols) {
      EXPECT_GT(p.efficiency, 0);
      EXPECT_LE(p.efficiency, 1);
    }
  }
  EXPECT_GT(cf.collective().alltoall_max_peers_in_flight, 0);
}

TEST(CostFactors, TheFastestProtocolIsChosenForEachMessageSize) {
  // LL: 1 us + s/(0.5 C); Simple: 5 us + s/(1.0 C); C = 1e9 B/s. Crossover where
  // 1e-6 + 2s/1e9 = 5e-6 + s/1e9, i.e. s = 4000 B.
  TransportCost t{.protocols = {{"LL", Time::from_ps(1000000), 0.5}, {"Simple", Time::from_ps(5000000), 1.0}}};
  EXPECT_EQ(t.choose(1000, 1e9).name, "LL");
  EXPECT_EQ(t.choose(10000, 1e9).name, "Simple");
}

TEST(CostFactors, AFileOverridesOnlyTheTransportsItNames) {
  const auto cf = CostFactors::load_text(
      R"({"transports": {"nvlink": {"protocols": [{"name": "Simple", "overhead_us": 1, "efficiency": 0.9}]}}})", "calib.json");
  ASSERT_EQ(cf.transport(Transport::NVLink).protocols.size(), 1u);
  EXPECT_DOUBLE_EQ(cf.transport(Transport::NVLink).protocols[0].efficiency, 0.9);
  EXPECT_EQ(cf.transport(Transport::InfiniBand).protocols.size(), CostFactors::defaults().transport(Transport::InfiniBand).protocols.size());
}

TEST(CostFactors, BadFilesGiveErrorsWithJsonPaths) {
  auto msg = [](const char* text) {
    try {
      CostFactors::load_text(text, "calib.json");
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_NE(msg(R"({"transports": {"warp": {"protocols": []}}})").find("unknown transport \"warp\""), std::string::npos);
  EXPECT_NE(msg(R"({"transports": {"efa": {"protocols": [{"name": "S", "overhead_us": 1, "efficiency": 1.5}]}}})")
                .find("calib.json: /transports/efa/protocols/0/efficiency: 1.5 is out of range"),
            std::string::npos);
  EXPECT_NE(msg(R"({"collectiv": {}})").find("unknown key \"collectiv\""), std::string::npos);
}

TEST(CostFactors, TheTreePipelineIsDataThatIdealKeepsAndFilesOverride) {
  // NCCL_BUFFSIZE 4 MiB / NCCL_STEPS 8 = 512 KiB per chunk (sim/data/cost_factors.json).
  const auto d = CostFactors::defaults();
  EXPECT_EQ(d.collective().allreduce_tree_chunk_bytes, 524288.0);
  EXPECT_EQ(d.collective().allreduce_tree_max_chunks, 64);
  // Ideal removes costs, not how NCCL cuts the data.
  const auto i = CostFactors::ideal();
  EXPECT_EQ(i.collective().allreduce_tree_chunk_bytes, d.collective().allreduce_tree_chunk_bytes);
  EXPECT_EQ(i.collective().allreduce_tree_max_chunks, d.collective().allreduce_tree_max_chunks);
  EXPECT_EQ(i.collective().alltoall_max_peers_in_flight, 0);
  const auto f = CostFactors::load_text(R"({"collective": {"allreduce_tree_chunk_bytes": 1048576}})", "calib.json");
  EXPECT_EQ(f.collective().allreduce_tree_chunk_bytes, 1048576.0);
  EXPECT_EQ(f.collective().allreduce_tree_max_chunks, 64);
  try {
    CostFactors::load_text(R"({"collective": {"allreduce_tree_max_chunks": -1}})", "calib.json");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("/collective/allreduce_tree_max_chunks"), std::string::npos) << e.what();
  }
}
