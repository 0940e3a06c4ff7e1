#pragma once
// Chrome trace-event JSON of one simulated training iteration (`moesim run --trace FILE`):
// loads in ui.perfetto.dev and chrome://tracing. docs/TRACE.md describes every track, event
// and argument; this header says what is computed and how.
//
// Layout (JSON object form: {"traceEvents": [...], "displayTimeUnit": "ns", "otherData": {...}}):
//   process "cluster" (pid nodes + 1, sorted first): one X event per communication phase (tracks "phases", "phases 2", ...
//     for all-to-all phases, "allreduce", "allreduce 2", ... for gradient all-reduces) whose
//     args summarize the phase; counter tracks "<link class>" with the link class's
//     utilization per time bin.
//   process "node n" (pid n + 1): per GPU g of the node, track "gpu g" (its compute stream: one X event per
//     compute task, named after its part, e.g. "L3 fwd expert"), tracks "gpu g a2a" (one X
//     event per all-to-all phase: from g's first send to its last delivery, args bytes, peers,
//     flows) and "gpu g allreduce" (one X event per all-reduce bucket).
// Phases that overlap in time on one GPU (same-step phases of a hierarchical plan, all-reduce
// buckets still running when the next starts) go to extra tracks ("gpu g a2a 2", ...),
// assigned greedily in start order, so every track is a sequence of non-overlapping events.
//
// With --fidelity fluid (models/training_step.h) a collective is priced as a whole: each GPU's
// share is one delay task, so its phase events carry no bytes ({"fidelity": "fluid"}) and there
// are no counters (otherData.link_counters says so).
//
// Timestamps are microseconds printed exactly from integer picoseconds (6 decimals at most).
// Output is deterministic: same timeline -> byte-identical file.
//
// Link-class utilization (an approximation, docs/TRACE.md): each transfer's wire bytes
// (payload / protocol efficiency, the protocol chosen as TransferService does) are spread
// uniformly over its bandwidth phase [start + overhead, finish - path latency] on every link
// of its path (with PXN proxies as in sim/collectives/transfer.h), summed per link class,
// binned, and divided by the class's total capacity x bin width. That is the flow's mean rate
// over its lifetime, not its instantaneous max-min rate, so a bin can read slightly above 1
// when flows of very different lifetimes share a saturated class; the integral over the
// iteration is exact (equals the network's LinkStats wire bytes). Cost: O(transfers x path
// length + bins x link classes) time, O(bins x link classes) memory.
#include <cstdint>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "models/timeline.h"
#include "models/training_step.h"
#include "sim/cost_factors.h"
#include "topologies/topology.h"

namespace moesim {

/// Utilization of each link class present in the topology, per time bin of [0, end].
struct LinkClassUtilization {
  std::int64_t bin_ps = 0;  // bin width; the last bin may end past the iteration (it is divided by its covered width)
  int bins = 0;
  struct Series {
    std::string link_class;           // "nvlink", "pcie", "network_access", ...
    int links = 0;                    // directed links of the class
    double capacity_Bps = 0;          // their total capacity
    double wire_bytes = 0;            // bytes spread over the bins (sum of the bins' bytes)
    std::vector<double> utilization;  // per bin, wire bytes / (capacity x covered bin width)
  };
  std::vector<Series> classes;  // in LinkClass order, classes without links left out
};

/// `bins` >= 1 bins over [0, timeline.end_ps] (fewer when the iteration is shorter than `bins` ps).
LinkClassUtilization link_class_utilization(const TrainingTimeline& timeline, const Topology& topo,
                                            const CostFactors& costs, int bins);

struct ChromeTraceInput {
  const TrainingTimeline& timeline;
  const TrainingStepResult& result;  // run info for otherData
  const Topology& topology;
  const CostFactors& costs;  // the run's cost factors (protocol choice for wire bytes, PXN)
};

struct ChromeTraceOptions {
  int counter_bins = 200;  // time bins of the utilization counters (>= 1)
  /// Extra otherData entries (e.g. {"seed", "1"}, {"cost_factors", "defaults"}).
  std::vector<std::pair<std::string, std::string>> info;
};

struct ChromeTraceStats {
  std::size_t events = 0;          // all entries of traceEvents
  std::size_t compute_events = 0;  // X events of compute tasks
  std::size_t comm_events = 0;     // X events of per-GPU communication phases
  std::size_t phase_events = 0;    // X events of the cluster-wide phase summaries
  std::size_t counter_events = 0;  // C events
  std::size_t bytes = 0;           // size of the JSON text
};

/// Writes the trace to `out`. Throws InputError for counter_bins < 1.
ChromeTraceStats write_chrome_trace(std::ostream& out, const ChromeTraceInput& input,
                                    const ChromeTraceOptions& options = {});

/// Writes the trace to a file; InputError if it cannot be written.
ChromeTraceStats write_chrome_trace_file(const std::string& path, const ChromeTraceInput& input,
                                         const ChromeTraceOptions& options = {});

}  // namespace moesim
