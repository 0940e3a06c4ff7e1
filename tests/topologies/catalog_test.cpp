// Tests of the hardware catalog (topologies/catalog/*.json).
#include <gtest/gtest.h>

#include <string>

#include "sim/error.h"
#include "topologies/catalog.h"

using namespace moesim;

TEST(Catalog, HasEveryGpuKindTheBriefNames) {
  const Catalog c = Catalog::embedded();
  for (const char* g : {"a100-sxm4-40gb", "a100-sxm4-80gb", "h100-sxm", "h200-sxm", "v100-sxm2-32gb", "rtx-a6000"}) {
    const auto* spec = c.find_gpu(g);
    ASSERT_NE(spec, nullptr) << g;
    EXPECT_FALSE(spec->source.empty());
    EXPECT_GT(spec->memory_bytes, 0);
    EXPECT_GT(spec->memory_bandwidth_Bps, 0);
    EXPECT_TRUE(spec->peak_flops("fp32").has_value()) << g;
    EXPECT_TRUE(spec->peak_flops("fp16").has_value()) << g;
  }
}

TEST(Catalog, PeakFiguresAreDenseAndInFlopsPerSecond) {
  const Catalog c = Catalog::embedded();
  // H100 SXM datasheet: BF16 1,979 TFLOPS with sparsity -> 989.5 dense.
  EXPECT_DOUBLE_EQ(*c.gpu("h100-sxm").peak_flops("bf16"), 989.5e12);
  EXPECT_DOUBLE_EQ(*c.gpu("h100-sxm").peak_flops("fp8"), 1979e12);
  EXPECT_DOUBLE_EQ(*c.gpu("a100-sxm4-40gb").peak_flops("bf16"), 312e12);
  // V100 has no BF16, TF32 or FP8 tensor cores.
  EXPECT_FALSE(c.gpu("v100-sxm2-32gb").peak_flops("bf16").has_value());
  EXPECT_FALSE(c.gpu("a100-sxm4-80gb").peak_flops("fp8").has_value());
  EXPECT_DOUBLE_EQ(c.gpu("h200-sxm").memory_bytes, 141e9);
}

TEST(Catalog, LinkKindsConvertUnitsPerDirection) {
  const Catalog c = Catalog::embedded();
  EXPECT_DOUBLE_EQ(c.link("nvlink4").bandwidth_Bps, 450e9);
  EXPECT_DOUBLE_EQ(c.link("nvlink2").per_link_Bps, 25e9);
  EXPECT_EQ(c.link("nvlink3").links_per_gpu, 12);
  EXPECT_DOUBLE_EQ(c.link("ib-ndr").bandwidth_Bps, 50e9);  // 400 Gb/s = 50 GB/s
  EXPECT_DOUBLE_EQ(*c.link("ib-ndr").achievable_Bps, 48.5e9);
  EXPECT_DOUBLE_EQ(c.link("pcie-gen4").bandwidth(true), 25.5e9);
  EXPECT_DOUBLE_EQ(c.link("pcie-gen4").bandwidth(false), 31.5e9);
  EXPECT_EQ(c.link("ib-hdr").latency, Time::from_ps(450000));
  EXPECT_EQ(c.link("efa-v2").link_class, LinkClass::NetworkAccess);
  EXPECT_EQ(c.link("upi-10.4").link_class, LinkClass::HostInterconnect);
  for (const char* l : {"nvlink2", "nvlink3", "nvlink4", "pcie-gen3", "pcie-gen4", "pcie-gen5", "efa-v1", "efa-v2", "ib-hdr", "ib-ndr",
                        "roce-200", "roce-400"})
    EXPECT_NE(c.find_link(l), nullptr) << l;
}

TEST(Catalog, EveryEntryCarriesSources) {
  const Catalog c = Catalog::embedded();
  for (const auto& [n, l] : c.links()) {
    EXPECT_FALSE(l.source.empty()) << n;
    EXPECT_FALSE(l.latency_source.empty()) << n;
    if (l.achievable_Bps) {
      EXPECT_FALSE(l.achievable_source.empty()) << n;
    }
  }
  for (const auto& [n, nic] : c.nics()) EXPECT_FALSE(nic.source.empty()) << n;
}

TEST(Catalog, NicKindsAggregatePorts) {
  const Catalog c = Catalog::embedded();
  EXPECT_EQ(c.nic("efa-v2-4x100g").ports, 4);
  EXPECT_EQ(c.nic("efa-v2-4x100g").transport, Transport::Efa);
  EXPECT_EQ(c.nic("cx7-ib-ndr").transport, Transport::InfiniBand);
  EXPECT_EQ(c.nic("cx7-roce-400g").transport, Transport::RoCE);
}

TEST(Catalog, AnEntryWithoutASourceIsRejectedAtItsPath) {
  const EmbeddedFile f{"mine", R"({"nics": {"x": {"link": "ib-hdr", "transport": "infiniband"}}})"};
  try {
    (void)Catalog::from_files(std::span<const EmbeddedFile>(&f, 1));
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.json_path(), "/nics/x/source");
  }
}

TEST(Catalog, UnknownNamesListTheKnownOnes) {
  const Catalog c = Catalog::embedded();
  try {
    (void)c.gpu("b200");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("h100-sxm"), std::string::npos) << e.what();
  }
}

// ---- NVLink SHARP (NVLS) capability ----

TEST(Catalog, OnlyTheThirdGenerationNVSwitchLinkKindSupportsNvls) {
  const Catalog c = Catalog::embedded();
  EXPECT_TRUE(c.link("nvlink4").nvls);
  EXPECT_FALSE(c.link("nvlink4").nvls_source.empty());
  EXPECT_FALSE(c.link("nvlink3").nvls);  // A100: NVSwitch gen2
  EXPECT_FALSE(c.link("nvlink2").nvls);
  EXPECT_FALSE(c.link("pcie-gen5").nvls);
}

namespace {
std::string nvls_error(const std::string& link_json) {
  const std::string text = R"({"links": {"x": )" + link_json + "}}";
  const EmbeddedFile f{"mine", text};
  try {
    (void)Catalog::from_files(std::span<const EmbeddedFile>(&f, 1));
  } catch (const ConfigError& e) {
    return e.json_path() + ": " + e.what();
  }
  return "";
}
constexpr const char* kNvlinkHead =
    R"({"class": "nvlink", "per_link_GBps": 25, "links_per_gpu": 18, "bandwidth_GBps": 450, "source": "s",
        "latency": {"latency_us": 0.2, "source": "s"}, )";
}  // namespace

TEST(Catalog, TheNvlsPropertyParsesAndBadValuesAreErrorsAtTheirPath) {
  const std::string ok = std::string(kNvlinkHead) + R"("nvls": {"supported": true, "source": "whitepaper"}})";
  EXPECT_EQ(nvls_error(ok), "");
  const std::string text = R"({"links": {"x": )" + ok + "}}";
  const EmbeddedFile f{"mine", text};
  EXPECT_TRUE(Catalog::from_files(std::span<const EmbeddedFile>(&f, 1)).link("x").nvls);

  const std::string not_bool = nvls_error(std::string(kNvlinkHead) + R"("nvls": {"supported": "yes", "source": "s"}})");
  EXPECT_NE(not_bool.find("/links/x/nvls/supported"), std::string::npos) << not_bool;
  const std::string no_source = nvls_error(std::string(kNvlinkHead) + R"("nvls": {"supported": true}})");
  EXPECT_NE(no_source.find("source"), std::string::npos) << no_source;
  const std::string unknown = nvls_error(std::string(kNvlinkHead) + R"("nvls": {"supported": true, "source": "s", "x": 1}})");
  EXPECT_NE(unknown.find("/links/x/nvls"), std::string::npos) << unknown;
  const std::string on_pcie = nvls_error(
      R"({"class": "pcie", "bandwidth_GBps": 63, "source": "s", "latency": {"latency_us": 0.5, "source": "s"},
          "nvls": {"supported": true, "source": "s"}})");
  EXPECT_NE(on_pcie.find("only NVLink link kinds"), std::string::npos) << on_pcie;
}
