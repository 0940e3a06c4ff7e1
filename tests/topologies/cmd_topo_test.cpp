// Tests of `moesim topo` (tools/cmd_topo.cpp) through CLI11, as main() runs it.
#include <gtest/gtest.h>

#include <string>

#include "sim/error.h"
#include "tests/cli_capture.h"
#include "tools/commands.h"
#include "topologies/cluster_loader.h"

namespace {

std::string run(const std::string& args) { return moesim::testing_cli::run_cli(moesim::cli::add_topo_command, args); }

}  // namespace

TEST(TopoCommand, CheckPrintsOkWithTheCounts) {
  const auto out = run("topo check --cluster p4d.24xlarge --nodes 2");
  EXPECT_EQ(out.rfind("ok: p4d.24xlarge: 2 nodes, 16 GPUs", 0), 0u) << out;
  EXPECT_NE(out.find("nvlink 112, efa 128"), std::string::npos) << out;  // 2 x 8 x 7 intra, 16 x 8 inter
}

TEST(TopoCommand, ShowSummarizesGpusLinksAndBandwidths) {
  const auto out = run("topo show --cluster mixed-a100-v100");
  EXPECT_NE(out.find("v100-sxm2-32gb"), std::string::npos) << out;
  EXPECT_NE(out.find("nvlink2"), std::string::npos) << out;
  EXPECT_NE(out.find("network bisection"), std::string::npos) << out;
  EXPECT_NE(out.find("per-GPU network bandwidth"), std::string::npos) << out;
}

TEST(TopoCommand, DotPrintsAGraphvizDigraph) {
  const auto out = run("topo dot --cluster p3dn.24xlarge --nodes 1");
  EXPECT_EQ(out.rfind("digraph", 0), 0u);
  EXPECT_NE(out.find("subgraph cluster_n0"), std::string::npos);
  EXPECT_NE(out.find("dir=both"), std::string::npos);
}

TEST(TopoCommand, ListAndCatalogPrintEveryPresetAndKind) {
  EXPECT_NE(run("topo list").find("mixed-a100-v100"), std::string::npos);
  EXPECT_NE(run("topo catalog").find("rtx-a6000"), std::string::npos);
}

TEST(TopoCommand, AnUnknownClusterIsAnInputError) {
  EXPECT_THROW(run("topo check --cluster nope"), moesim::InputError);
}

TEST(TopoCommand, ClusterIsRequired) {
  EXPECT_THROW(run("topo show"), CLI::RequiredError);
}

TEST(TopoCommand, ExportPrintsAPresetThatLoadsBackUnchanged) {
  const auto out = run("topo export --preset p4d.24xlarge");
  EXPECT_NE(out.find("\"node_kinds\""), std::string::npos);
  const moesim::Topology t = moesim::load_cluster_text(out, "exported.json");
  EXPECT_EQ(t.gpu_count(), moesim::load_cluster("p4d.24xlarge").gpu_count());
  EXPECT_THROW(run("topo export --preset nope"), moesim::InputError);
}
