// Tests of the training-step timeline (models/timeline.h) and its Chrome trace (models/trace.h,
// `moesim run --trace`, docs/TRACE.md).
#include "models/trace.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <tuple>

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include "models/dispatch_plan.h"
#include "models/gating.h"
#include "models/timeline.h"
#include "models/training_step.h"
#include "sim/error.h"
#include "tests/cli_capture.h"
#include "tools/commands.h"
#include "topologies/cluster_loader.h"

using namespace moesim;
using nlohmann::json;

namespace {

// switch-base-128 shrunk to 4 layers (2 MoE) and 1024 tokens per GPU, on 2 p4d nodes (16 GPUs,
// 4 EFA NICs each): a run takes well under a second.
ModelConfig small_model() {
  ModelConfig m = load_model("switch-base-128");
  apply_overrides(m, std::vector<std::pair<std::string, std::string>>{{"layers", "4"}, {"tokens_per_gpu", "1024"}});
  return m;
}

struct Traced {
  TrainingTimeline timeline;
  TrainingStepResult result;
  std::string text;
  ChromeTraceStats stats;
  json trace;
};

Traced traced_run(const Topology& topo, const ModelConfig& m, const std::string& strategy,
                  const CostFactors& costs = CostFactors::defaults(), int bins = 200) {
  Traced t;
  TrainingStepOptions o;
  o.strategy = strategy;
  o.timeline = &t.timeline;
  t.result = simulate_training_step(topo, costs, m, o);
  std::ostringstream out;
  t.stats = write_chrome_trace(out, {.timeline = t.timeline, .result = t.result, .topology = topo, .costs = costs},
                               {.counter_bins = bins, .info = {{"seed", "1"}}});
  t.text = out.str();
  t.trace = json::parse(t.text);
  return t;
}

constexpr int kClusterPid = 3;  // the cluster process of a 2-node trace

std::int64_t ps_of(const json& us) {
  return std::llround(us.get<double>() * 1e6);
}

// Every (pid, tid) track: events sorted by start either end before the next begins or contain
// it (Chrome's nesting rule for complete events). Returns the tracks checked.
std::size_t expect_tracks_nest(const json& trace) {
  std::map<std::pair<int, int>, std::vector<std::pair<std::int64_t, std::int64_t>>> tracks;
  for (const auto& e : trace["traceEvents"]) {
    if (e["ph"] != "X") continue;
    const std::int64_t ts = ps_of(e["ts"]), dur = ps_of(e["dur"]);
    EXPECT_GE(ts, 0) << e.dump();
    EXPECT_GE(dur, 0) << e.dump();
    tracks[{e["pid"].get<int>(), e["tid"].get<int>()}].emplace_back(ts, ts + dur);
  }
  for (auto& [track, ev] : tracks) {
    std::sort(ev.begin(), ev.end(), [](const auto& a, const auto& b) {
      return a.first < b.first || (a.first == b.first && a.second > b.second);  // outer first
    });
    std::vector<std::int64_t> open;  // ends of the enclosing events
    for (const auto& [s, e] : ev) {
      while (!open.empty() && open.back() <= s) open.pop_back();
      if (!open.empty()) {
        EXPECT_LE(e, open.back()) << "pid " << track.first << " tid " << track.second << " at " << s;
      }
      open.push_back(e);
    }
  }
  return tracks.size();
}

// The sum of the off-diagonal bytes of every dispatch phase the plans hold, forward and backward
// (dispatch-grad), over the model's MoE layers: what the per-GPU dispatch events must add up to.
double plan_dispatch_bytes(const Topology& topo, const ModelConfig& m, const std::string& strategy) {
  const auto layout = make_expert_layout(m, cluster_shape_of(topo));
  const auto s = make_strategy(strategy, {});
  double total = 0;
  for (int layer : m.moe_layer_indices()) {
    const GatingSample g = sample_gating(m, layout, layer, 1);
    const DispatchPlan plan = s->plan({.model = m, .layout = layout, .gating = g});
    for (const CommPhase& ph : plan.dispatch_phases()) total += ph.bytes.total_off_diagonal();
    for (const CommPhase& ph : backward_phases(plan.phases, bytes_per_element(m.dtype)))
      if (ph.role == PhaseRole::DispatchGrad) total += ph.bytes.total_off_diagonal();
  }
  return total;
}

class TraceOfTwoNodes : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    topo_ = new Topology(load_cluster("p4d.24xlarge", 2));
    model_ = new ModelConfig(small_model());
    run_ = new Traced(traced_run(*topo_, *model_, "switch"));
  }
  static void TearDownTestSuite() {
    delete run_;
    delete model_;
    delete topo_;
  }
  static Topology* topo_;
  static ModelConfig* model_;
  static Traced* run_;
};
Topology* TraceOfTwoNodes::topo_ = nullptr;
ModelConfig* TraceOfTwoNodes::model_ = nullptr;
Traced* TraceOfTwoNodes::run_ = nullptr;

}  // namespace

TEST_F(TraceOfTwoNodes, ParsesAsJsonAndNamesEveryNodeAndGpuTrack) {
  const json& t = run_->trace;
  ASSERT_TRUE(t.contains("traceEvents"));
  EXPECT_EQ(t["displayTimeUnit"], "ns");
  EXPECT_EQ(t["otherData"]["model"], "switch-base-128");
  EXPECT_EQ(t["otherData"]["strategy"], "switch");
  EXPECT_EQ(t["otherData"]["gpus"], 16);
  EXPECT_EQ(t["otherData"]["seed"], "1");
  std::map<int, std::string> processes;
  std::map<std::pair<int, int>, std::string> threads;
  for (const auto& e : t["traceEvents"]) {
    if (e["ph"] != "M") continue;
    if (e["name"] == "process_name") processes[e["pid"]] = e["args"]["name"];
    if (e["name"] == "thread_name") threads[{e["pid"], e["tid"]}] = e["args"]["name"];
  }
  // Node n is pid n + 1, the cluster pid nodes + 1 (no pid 0: viewers treat it as idle).
  ASSERT_EQ(processes.size(), 3u);
  EXPECT_EQ(processes[1].rfind("node 0", 0), 0u) << processes[1];
  EXPECT_EQ(processes[2].rfind("node 1", 0), 0u) << processes[2];
  EXPECT_EQ(processes[kClusterPid], "cluster");
  // GPU 9 is node 1's local GPU 1: its compute track is tid 1 + 1 * 900 on pid 2, then 300
  // tids per track group (compute, a2a, allreduce).
  EXPECT_EQ(threads[std::make_pair(2, 901)], "gpu 9");
  EXPECT_EQ(threads[std::make_pair(2, 901 + 300)], "gpu 9 a2a");
  EXPECT_EQ(threads[std::make_pair(2, 901 + 600)], "gpu 9 allreduce");
  EXPECT_EQ(threads[std::make_pair(kClusterPid, 1 + 300)], "phases");
  EXPECT_EQ(threads[std::make_pair(kClusterPid, 1 + 600)], "allreduce");
  // Every event's track is named.
  for (const auto& e : t["traceEvents"])
    if (e["ph"] == "X") {
      EXPECT_TRUE(threads.contains({e["pid"], e["tid"]})) << e.dump();
    }
  EXPECT_EQ(run_->stats.events, t["traceEvents"].size());
  EXPECT_EQ(run_->stats.bytes, run_->text.size());
}

TEST_F(TraceOfTwoNodes, EveryEventHasNonNegativeTimesAndEveryTrackNests) {
  EXPECT_GT(expect_tracks_nest(run_->trace), 16u * 3);
}

TEST_F(TraceOfTwoNodes, LabelsComputeByLayerPassAndKindAndCommunicationByPhase) {
  std::map<std::string, int> names;
  for (const auto& e : run_->trace["traceEvents"])
    if (e["ph"] == "X") names[e["name"].get<std::string>() + " / " + e["cat"].get<std::string>()] += 1;
  // Layer 1 is the first MoE layer (moe_layer_interval 2); layer 0 is dense.
  for (const char* n : {"L0 fwd attention / compute", "L0 fwd ffn / compute", "L1 fwd gate+permute / compute",
                        "L1 fwd expert / compute", "L1 fwd unpermute / compute", "L1 bwd expert / compute",
                        "L0 bwd attention / compute"})
    EXPECT_EQ(names[n], 16) << n;  // one per GPU
  // Communication: one event per GPU and phase, plus the cluster-wide summary.
  for (const char* n : {"L1 fwd dispatch / dispatch", "L1 fwd combine / combine", "L3 bwd combine-grad / combine",
                        "L3 bwd dispatch-grad / dispatch"})
    EXPECT_EQ(names[n], 17) << n;
  EXPECT_GE(names["allreduce bucket 0 / allreduce"], 17);
}

TEST_F(TraceOfTwoNodes, DispatchBytesOfThePerGpuEventsAddUpToThePlansBytes) {
  double per_gpu = 0, phases = 0;
  for (const auto& e : run_->trace["traceEvents"]) {
    if (e["ph"] != "X" || e["cat"] != "dispatch") continue;
    if (e["pid"] == kClusterPid)
      phases += e["args"]["bytes"].get<double>();
    else
      per_gpu += e["args"]["bytes_sent"].get<double>();
  }
  const double expected = plan_dispatch_bytes(*topo_, *model_, "switch");
  EXPECT_GT(expected, 0);
  EXPECT_NEAR(per_gpu, expected, 1e-9 * expected);
  EXPECT_NEAR(phases, expected, 1e-9 * expected);
}

TEST_F(TraceOfTwoNodes, TheLastEventEndsAtTheIterationTime) {
  std::int64_t last = 0;
  for (const auto& e : run_->trace["traceEvents"])
    if (e["ph"] == "X") last = std::max(last, ps_of(e["ts"]) + ps_of(e["dur"]));
  EXPECT_EQ(last, run_->timeline.end_ps);
  EXPECT_EQ(last, std::llround(run_->result.iteration_time_s * 1e12));
  EXPECT_EQ(ps_of(run_->trace["otherData"]["iteration_time_us"]), last);
}

TEST_F(TraceOfTwoNodes, CountersAreUtilizationsBetweenZeroAndOne) {
  std::map<std::string, int> samples;
  double peak_network = 0;
  for (const auto& e : run_->trace["traceEvents"]) {
    if (e["ph"] != "C") continue;
    const double u = e["args"]["utilization"];
    EXPECT_GE(u, 0) << e.dump();
    // Each link moves at most its capacity per bin (models/trace.h), so a class never exceeds 1.
    EXPECT_LE(u, 1 + 1e-9) << e.dump();
    samples[e["name"]] += 1;
    if (e["name"] == "network_access") peak_network = std::max(peak_network, u);
  }
  // p4d: nvlink, pcie, network access and core links; 200 bins + the closing sample each.
  for (const char* c : {"nvlink", "pcie", "network_access"}) EXPECT_EQ(samples[c], 201) << c;
  EXPECT_GT(peak_network, 0.1);  // the all-to-alls load the NICs
}

TEST_F(TraceOfTwoNodes, SpreadWireBytesEqualTheNetworksLinkStatsPerClass) {
  // The counters route transfers as TransferService does (PXN included) and pick the same
  // protocol: the bytes they spread per link class must be the network's own totals.
  const auto u = link_class_utilization(run_->timeline, *topo_, CostFactors::defaults(), 50);
  ASSERT_FALSE(u.classes.empty());
  for (const auto& s : u.classes) {
    const double expected = run_->timeline.wire_bytes_by_link_class.at(s.link_class);
    EXPECT_NEAR(s.wire_bytes, expected, 1e-9 * std::max(1.0, expected)) << s.link_class;
    // The bins hold them all: sum of utilization x capacity x covered width.
    double binned = 0;
    for (int i = 0; i < u.bins; ++i) {
      const std::int64_t covered = std::min<std::int64_t>(run_->timeline.end_ps, (i + 1) * u.bin_ps) - i * u.bin_ps;
      binned += s.utilization[i] * s.capacity_Bps * static_cast<double>(covered) * 1e-12;
    }
    EXPECT_NEAR(binned, expected, 1e-6 * std::max(1.0, expected)) << s.link_class;
  }
}

TEST_F(TraceOfTwoNodes, TheSameRunGivesAByteIdenticalTrace) {
  const Traced again = traced_run(*topo_, *model_, "switch");
  EXPECT_EQ(again.text, run_->text);
}

TEST_F(TraceOfTwoNodes, RecordingATimelineDoesNotChangeTheResult) {
  TrainingStepOptions o;
  o.strategy = "switch";
  const auto plain = simulate_training_step(*topo_, CostFactors::defaults(), *model_, o);
  EXPECT_EQ(plain.iteration_time_s, run_->result.iteration_time_s);
  EXPECT_EQ(plain.flows, run_->result.flows);
  EXPECT_EQ(plain.breakdown.dispatch_s, run_->result.breakdown.dispatch_s);
}

TEST(Trace, TimelinePartsCoverEveryComputeTaskAndTransferOnce) {
  const Topology topo = load_cluster("p4d.24xlarge", 2);
  TrainingTimeline tl;
  TrainingStepOptions o;
  o.timeline = &tl;
  const auto r = simulate_training_step(topo, CostFactors::defaults(), small_model(), o);
  ASSERT_FALSE(tl.parts.empty());
  std::uint32_t next = tl.parts.front().first;
  std::size_t transfers = 0;
  for (const auto& p : tl.parts) {
    EXPECT_EQ(p.first, next) << p.name;  // contiguous, in graph order
    EXPECT_LT(p.first, p.end) << p.name;
    next = p.end;
    for (const auto& t : tl.tasks_of(p)) {
      EXPECT_EQ(t.transfer(), is_communication(p.kind)) << p.name;
      EXPECT_LE(t.start_ps, t.finish_ps);
      EXPECT_LE(t.finish_ps, tl.end_ps);
      transfers += t.transfer();
    }
  }
  EXPECT_EQ(next, tl.tasks.size());
  EXPECT_EQ(transfers, r.flows);  // every flow the network ran is a transfer of some part
}

TEST(Trace, HierarchicalAndNodeLimitedStrategiesStillGiveNestedTracks) {
  // Their same-step phases and NVLink forwarding overlap on one GPU: extra lanes keep every
  // track a proper sequence.
  const Topology topo = load_cluster("p4d.24xlarge", 2);
  for (const char* s : {"hier-a2a", "smile", "scomoe-seq", "node-limited"}) {
    SCOPED_TRACE(s);
    const Traced t = traced_run(topo, small_model(), s, CostFactors::defaults(), 20);
    expect_tracks_nest(t.trace);
  }
}

TEST(Trace, AFluidRunGivesPhaseEventsAndCountersFromTheFluidBytesAndStillNests) {
  // --fidelity fluid prices each collective as a whole: each GPU's share is one delay task, so
  // the trace has one event per GPU and phase, and counters spread each collective's wire
  // bytes over its span.
  const Topology topo = load_cluster("p4d.24xlarge", 2);
  Traced t;
  TrainingStepOptions o;
  o.fidelity = Fidelity::Fluid;
  o.timeline = &t.timeline;
  t.result = simulate_training_step(topo, CostFactors::defaults(), small_model(), o);
  std::ostringstream out;
  write_chrome_trace(out,
                     {.timeline = t.timeline, .result = t.result, .topology = topo, .costs = CostFactors::defaults()});
  const json trace = json::parse(out.str());
  expect_tracks_nest(trace);
  std::size_t dispatch = 0, counters = 0;
  std::int64_t last = 0;
  for (const auto& e : trace["traceEvents"]) {
    if (e["ph"] == "C") {
      ++counters;
      const double u = e["args"]["utilization"];
      EXPECT_GE(u, 0.0);
      EXPECT_LE(u, 1.0 + 1e-9);
    }
    if (e["ph"] != "X") continue;
    last = std::max(last, ps_of(e["ts"]) + ps_of(e["dur"]));
    if (e["name"] == "L1 fwd dispatch" && e["pid"] != kClusterPid) {
      ++dispatch;
      EXPECT_EQ(e["args"]["fidelity"], "fluid");
    }
  }
  EXPECT_EQ(dispatch, 16u);
  EXPECT_GT(counters, 0u);
  EXPECT_TRUE(trace["otherData"].contains("link_counters"));
  EXPECT_EQ(last, t.timeline.end_ps);
  // The spread bytes are the fluid model's bytes, class by class (the run's utilization uses
  // the same bytes).
  const auto util = link_class_utilization(t.timeline, topo, CostFactors::defaults(), 200);
  ASSERT_FALSE(util.classes.empty());
  for (const auto& c : util.classes) {
    const double expect = t.timeline.wire_bytes_by_link_class.at(c.link_class);
    double total = 0;
    for (std::size_t i = 0; i < c.utilization.size(); ++i) {
      const double covered = static_cast<double>(std::min<std::int64_t>(t.timeline.end_ps, (static_cast<std::int64_t>(i) + 1) * util.bin_ps) -
                                                 static_cast<std::int64_t>(i) * util.bin_ps);
      total += c.utilization[i] * c.capacity_Bps * covered * 1e-12;
    }
    EXPECT_NEAR(total, expect, 1e-6 * expect + 1) << c.link_class;
    EXPECT_NEAR(c.wire_bytes, expect, 1e-6 * expect + 1) << c.link_class;
  }
}

TEST(Trace, ZeroCounterBinsAreAnInputError) {
  const Topology topo = load_cluster("p4d.24xlarge", 1);
  EXPECT_THROW(traced_run(topo, small_model(), "switch", CostFactors::defaults(), 0), InputError);
}

TEST(TraceCommand, RunWithTraceWritesAParseableFileAndSaysWhereOnStderr) {
  const std::string path = ::testing::TempDir() + "moesim_trace_test.json";
  std::remove(path.c_str());
  ::testing::internal::CaptureStderr();
  const std::string out = moesim::testing_cli::run_cli(
      moesim::cli::add_run_command,
      "run --nodes 2 --model switch-base-128 --set layers=4 --set tokens_per_gpu=1024 --trace-bins 10 --trace " + path);
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(out.find("iteration time"), std::string::npos) << out;
  EXPECT_NE(err.find("trace written to " + path), std::string::npos) << err;
  std::ifstream f(path);
  ASSERT_TRUE(f.good());
  const json t = json::parse(f);
  EXPECT_EQ(t["otherData"]["counter_bins"], 10);
  EXPECT_EQ(t["otherData"]["nodes"], 2);
  expect_tracks_nest(t);
  std::remove(path.c_str());
}
