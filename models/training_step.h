#pragma once
// One training iteration of an MoE model on a cluster under one routing strategy: the task
// DAG of every GPU's compute and communication, replayed on the network (DESIGN.md
// "Training step").
//
// Per MoE layer, forward: attention -> gate + permute -> dispatch phases -> expert FFN ->
// combine phases -> un-permute; dense layers: attention -> FFN. Backward mirrors it in
// reverse layer order with backward compute times (about 2x forward) and the plan's phases
// transposed (models/dispatch_plan.h backward_phases). Each GPU runs its compute on one
// stream, in dependency order; a slow GPU kind or an overloaded expert makes a straggler that
// the others wait for at the next all-to-all.
//
// Gradients: each layer's dense parameters (attention, gate or dense FFN, shared experts)
// join a bucket as its backward finishes; a full bucket (bucket_bytes, PyTorch DDP's 25 MiB
// default) is all-reduced over the data-parallel group (all GPUs) while backward goes on;
// expert weights are all-reduced across expert-data-parallel replicas when EP < GPUs. Each
// all-reduce is NCCL's ring or double binary tree (allreduce_algorithm; Auto picks the faster
// by the fluid model for each bucket, sim/collectives/fluid.h), in both fidelities.
// Embeddings, optimizer step, pipeline/tensor parallelism are not modelled.
//
// Which bytes go where comes from the routing strategy's DispatchPlan (models/strategy.h);
// how they move from sim/collectives; how long from sim/network.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "models/compute_cost.h"
#include "models/model_config.h"
#include "models/strategy.h"
#include "sim/collectives/collectives.h"
#include "sim/cost_factors.h"
#include "topologies/catalog.h"
#include "topologies/topology.h"

namespace moesim {

struct TrainingTimeline;  // models/timeline.h

/// How communication is timed. Flow: every message is a flow on the max-min network
/// (sim/network.h), contention between overlapping collectives included: the reference.
/// Fluid: each collective phase is priced by the bottleneck model (sim/collectives/fluid.h)
/// on an idle network and repeated phases are priced once: orders of magnitude faster on
/// large clusters, without cross-collective contention (docs/PERFORMANCE.md gives the gap).
/// An all-to-all's ranks enter when their own chains get there (no barrier); one across node
/// kinds is replayed by the flow model (fluid_alltoall), at the flow model's cost.
enum class Fidelity : std::uint8_t { Flow, Fluid };
std::string_view to_string(Fidelity f);
std::optional<Fidelity> fidelity_from_string(std::string_view s);

struct TrainingStepOptions {
  std::string strategy = "switch";
  Fidelity fidelity = Fidelity::Flow;
  StrategyParams params;
  std::uint64_t seed = 1;
  double bucket_bytes = 25.0 * 1024 * 1024;  // PyTorch DDP bucket_cap_mb default (25 MiB)
  int allreduce_max_steps = 16;  // ring macro-steps (sim/collectives/collectives.h); 0 = every step
  /// Gradient all-reduces (dense buckets and expert replicas): ring, tree, or Auto (the faster
  /// of the two by the fluid model, as NCCL's tuner picks by its cost model).
  AllReduceAlgorithm allreduce_algorithm = AllReduceAlgorithm::Auto;
  /// Plan this many distinct MoE layers and reuse them cyclically (0 = plan every MoE layer).
  /// Planning a DeepSeek-V3 layer on 1,024 GPUs takes about a second.
  int distinct_layer_plans = 0;
  /// Threads that plan the distinct MoE layers (gating sample + routing; each layer's plan
  /// depends only on its layer and the seed, so the result is the same for any count).
  /// 0 = one per core, at most one per plan; 1 = on the calling thread. Callers that already
  /// run simulations in parallel (compare -j, sweeps) pass 1.
  int planning_threads = 0;
  /// GEMM / memory-bound efficiency curves (`--calibration FILE`'s compute section);
  /// nullopt = ComputeEfficiency::defaults().
  std::optional<ComputeEfficiency> compute_efficiency;
  /// If set, filled with every task's times and labels (models/timeline.h; `moesim run --trace`).
  /// Null: nothing is recorded and nothing is paid. Not owned; must outlive the call.
  TrainingTimeline* timeline = nullptr;
  /// Flow fidelity only: called once, when the task graph is built and before the replay
  /// starts, with the number of messages the replay will send: the all-to-alls' and the
  /// gradient all-reduces' transfers (on DeepSeek-V3 the tree's chunks are most of them). It
  /// lets a caller warn before a long run (`moesim run` at 1,024 GPUs replays tens of
  /// millions). Called on the calling thread.
  std::function<void(std::size_t messages)> on_replay_size;
  /// Either fidelity: called during the replay each time another 2^16 tasks have finished,
  /// and with done = total at the end (Executor::on_progress), on the calling thread. For a
  /// progress display; it must not throw.
  std::function<void(std::size_t done, std::size_t total)> on_replay_progress;
};

/// Seconds, each the mean over GPUs of the time that GPU had at least one task of that kind
/// running (a GPU's transfers count for its sender). exposed_communication = iteration time
/// minus the mean compute time: what communication adds on top of compute.
struct TrainingBreakdown {
  double compute_s = 0;
  double dispatch_s = 0;
  double combine_s = 0;
  double allreduce_s = 0;
  double exposed_communication_s = 0;
};

struct TrainingStepResult {
  std::string strategy;
  std::string model;
  std::string cluster;
  int gpus = 0;
  int nodes = 0;
  double iteration_time_s = 0;
  double tokens_per_s = 0;                 // tokens_per_gpu x GPUs / iteration time
  TrainingBreakdown breakdown;
  double inter_node_bytes_per_gpu = 0;     // all-to-all bytes a GPU sends off-node, fwd + bwd, all layers
  double dropped_fraction = 0;             // dropped assignments / assignments
  double rerouted_fraction = 0;            // tokens not given their unconstrained top-k / tokens
  std::map<std::string, double> link_utilization;  // link class -> bytes / (capacity x time), mean over links
  /// How many gradient all-reduces (dense buckets; the expert replicas' counts once) ran with
  /// each algorithm ("ring", "tree", "nvls"): what --allreduce-algorithm auto chose.
  std::map<std::string, int> allreduce_algorithms;
  std::size_t tasks = 0;
  /// Transfers simulated: every message at flow fidelity; at fluid fidelity those of the
  /// all-to-alls across node kinds it replays (sim/collectives/fluid.h, fluid_alltoall).
  std::uint64_t flows = 0;
  /// Fluid: distinct all-to-all steps across node kinds too large to replay, priced by the
  /// formula that leaves out NCCL's window (and so too fast there).
  int fluid_alltoalls_window_ignored = 0;
};

TrainingStepResult simulate_training_step(const Topology& topo, const CostFactors& costs, const ModelConfig& model,
                                          const TrainingStepOptions& options);

/// What the compute model needs of a catalog GPU kind: dense peak FLOP/s per dtype (bf16 falls
/// back to fp16 on GPUs without bf16, as frameworks run such models in fp16) and HBM bandwidth.
GpuComputeSpec compute_spec_of(const GpuKindSpec& gpu);

/// The cluster shape of a uniform topology (every node the same GPU count); InputError otherwise.
ClusterShape cluster_shape_of(const Topology& topo);

}  // namespace moesim
