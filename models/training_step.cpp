#include "models/training_step.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <numeric>
#include <optional>

#include "models/compute_cost.h"
#include "models/dispatch_plan.h"
#include "models/gating.h"
#include "models/timeline.h"
#include "sim/collectives/collectives.h"
#include "sim/collectives/fluid.h"
#include "sim/error.h"
#include "sim/parallel_for.h"
#include "topologies/catalog.h"

namespace moesim {
namespace {

enum Category : std::uint8_t { kCompute = 0, kDispatch = 1, kCombine = 2, kAllReduce = 3, kMarker = 4, kCategories = 5 };

Category category_of(PhaseRole r) {
  return (r == PhaseRole::Dispatch || r == PhaseRole::DispatchGrad) ? kDispatch : kCombine;
}

std::string_view dtype_key(DType t) {
  switch (t) {
    case DType::Fp32: return "fp32";
    case DType::Bf16: return "bf16";
    case DType::Fp16: return "fp16";
    case DType::Fp8: return "fp8";
  }
  return "bf16";
}

Time seconds(double s) { return Time::from_seconds_ceil(s); }

}  // namespace

// GPU kind -> compute spec from the catalog. bf16 falls back to fp16 on GPUs without bf16
// (V100), as frameworks run such models in fp16 there.
GpuComputeSpec compute_spec_of(const GpuKindSpec& g) {
  GpuComputeSpec spec;
  spec.kind = g.name;
  for (DType t : {DType::Fp32, DType::Bf16, DType::Fp16, DType::Fp8}) {
    auto p = g.peak_flops(dtype_key(t));
    if (!p && t == DType::Bf16) p = g.peak_flops("fp16");
    spec.peak_flops_per_s[static_cast<std::size_t>(t)] = p.value_or(0);
  }
  spec.hbm_bytes_per_s = g.memory_bandwidth_Bps;
  return spec;
}

std::string_view to_string(Fidelity f) { return f == Fidelity::Fluid ? "fluid" : "flow"; }

std::optional<Fidelity> fidelity_from_string(std::string_view s) {
  if (s == "flow") return Fidelity::Flow;
  if (s == "fluid") return Fidelity::Fluid;
  return std::nullopt;
}

ClusterShape cluster_shape_of(const Topology& topo) {
  const int g = topo.node(0).gpu_count;
  for (int n = 0; n < topo.node_count(); ++n)
    if (topo.node(n).gpu_count != g)
      throw InputError(fmt::format("cluster {}: node {} has {} GPUs but node 0 has {}; the training step needs the same GPU "
                                   "count on every node",
                                   topo.name(), n, topo.node(n).gpu_count, g));
  return ClusterShape{.nodes = topo.node_count(), .gpus_per_node = g};
}

TrainingStepResult simulate_training_step(const Topology& topo, const CostFactors& costs, const ModelConfig& model,
                                          const TrainingStepOptions& options) {
  const ClusterShape shape = cluster_shape_of(topo);
  const ExpertLayout layout = make_expert_layout(model, shape);
  const int P = shape.gpus();
  auto strategy = make_strategy(options.strategy, options.params);

  // Compute models per GPU kind.
  const Catalog catalog = Catalog::embedded();
  std::map<std::string, std::unique_ptr<ComputeCostModel>> by_kind;
  std::vector<const ComputeCostModel*> cm(P);
  for (int g = 0; g < P; ++g) {
    const std::string& kind = topo.gpu(GpuId::from(g)).kind;
    auto& slot = by_kind[kind];
    if (!slot)
      slot = std::make_unique<ComputeCostModel>(
          compute_spec_of(catalog.gpu(kind)), options.compute_efficiency ? *options.compute_efficiency : ComputeEfficiency::defaults());
    cm[g] = slot.get();
  }

  // Engine pieces (the TransferService also prices ta-moe's per-pair costs).
  Engine engine;
  Network network(engine, topo.links(), {.completion_window = costs.network().completion_window});
  // The phases send the same pairs (cache), over PCIe links their NICs dominate (declared
  // before the replay, below).
  TransferService transfers(engine, network, topo, costs, {.cache_routes = true});

  std::vector<double> cost_per_byte;
  if (strategy->needs_costs()) {
    // Seconds per byte of a 1 MiB message alone on the path: overhead, protocol efficiency,
    // bottleneck bandwidth and latency, as the network would charge it.
    const double probe = 1024.0 * 1024;
    cost_per_byte.assign(static_cast<std::size_t>(P) * P, 0);
    for (int s = 0; s < P; ++s)
      for (int d = 0; d < P; ++d)
        if (s != d) cost_per_byte[static_cast<std::size_t>(s) * P + d] =
                        transfers.isolated_time(GpuId::from(s), GpuId::from(d), probe).seconds() / probe;
  }

  // Plans per MoE layer.
  const auto moe_layers = model.moe_layer_indices();
  const int distinct = options.distinct_layer_plans > 0
                           ? std::min<int>(options.distinct_layer_plans, static_cast<int>(moe_layers.size()))
                           : static_cast<int>(moe_layers.size());
  std::vector<DispatchPlan> plans(static_cast<std::size_t>(distinct));
  {
    // Plan i depends only on its layer and the seed: any number of threads gives the same
    // plans. A failure is reported as the serial loop would: the lowest layer's (parallel_for).
    const std::size_t threads = thread_count(static_cast<std::size_t>(std::max(0, options.planning_threads)), plans.size());
    parallel_for(plans.size(), threads, [&](std::size_t i) {
      const GatingSample gating = sample_gating(model, layout, moe_layers[i], options.seed);
      plans[i] = strategy->plan(
          RoutingInput{.model = model, .layout = layout, .gating = gating, .cost_s_per_byte = cost_per_byte});
    });
  }
  std::map<int, int> plan_of_layer;
  for (std::size_t i = 0; i < moe_layers.size(); ++i) plan_of_layer[moe_layers[i]] = static_cast<int>(i % plans.size());
  const double grad_bytes = bytes_per_element(model.dtype);
  std::vector<std::vector<CommPhase>> backward(plans.size());
  for (std::size_t i = 0; i < plans.size(); ++i) backward[i] = backward_phases(plans[i].phases, grad_bytes);

  // ---- the task graph --------------------------------------------------------------------
  const bool fluid = options.fidelity == Fidelity::Fluid;
  TaskGraph graph;
  {
    // Reserve (a reallocation copies the whole graph and touches twice its memory): one
    // transfer per non-zero pair of every phase, forward and backward, and per phase and GPU
    // two markers (phase done, step done); compute tasks per GPU and layer; about 3.5 edges
    // per task. The all-reduces' tasks depend on the algorithm and bucket sizes: a quarter
    // more is kept for them (capacity never written costs address space, not memory).
    std::size_t n_transfers = 0, phases = 0;
    for (std::size_t i = 0; i < moe_layers.size(); ++i)
      for (const CommPhase& ph : plans[i % plans.size()].phases) {
        if (!fluid) n_transfers += 2 * ph.bytes.nonzeros();
        phases += 2;
      }
    const std::size_t per_gpu = static_cast<std::size_t>(model.layers) * 24 + 2 * phases;
    const std::size_t tasks = (n_transfers + static_cast<std::size_t>(P) * per_gpu) * 5 / 4;
    graph.reserve(tasks, 4 * tasks);
  }
  std::vector<GpuId> all(P);
  for (int g = 0; g < P; ++g) all[g] = GpuId::from(g);
  std::vector<TaskId> last(P);
  for (int g = 0; g < P; ++g) last[g] = graph.add_marker(kMarker);
  TimelineRecorder rec(options.timeline, graph);  // labels task ranges for --trace: O(parts); no-op when null

  // Fluid: when each GPU's chain (its compute and all-to-alls, one after another) reaches
  // its end so far, as the executor will replay it: the all-to-alls' entry times.
  std::vector<Time> clock(fluid ? P : 0, Time::zero());
  auto compute = [&](int g, double s) {
    const TaskId t = graph.add_compute(GpuId::from(g), seconds(s), kCompute);
    graph.depend(last[g], t);
    last[g] = t;
    if (fluid) clock[g] += graph.task(t).duration;
  };
  const int max_peers = costs.collective().alltoall_max_peers_in_flight;
  // Fluid mode: wire bytes per link of every priced collective, and for each distinct step
  // of phases (plans are reused across layers; spans point into them) how it is priced
  // (fluid_alltoall_pricing): the formula's per-message times, kept while plans are reused
  // and applied to each visit's entry times, or the replays, one per distinct entry times.
  std::vector<double> fluid_wire(fluid ? topo.links().size() : 0, 0.0);
  struct FluidStep {
    FluidAllToAllPricing pricing = FluidAllToAllPricing::Formula;
    std::optional<FluidAllToAllTimes> times;
    std::map<std::vector<Time>, FluidResult> replays;
  };
  std::map<const CommPhase*, FluidStep> fluid_steps;
  const bool plans_reused = plans.size() < moe_layers.size();
  std::uint64_t replayed_flows = 0;  // of the fluid all-to-alls replayed (fluid_alltoall)
  int window_ignored = 0;
  auto add_fluid_wire = [&](const FluidResult& r) {
    for (const auto& [l, b] : r.link_wire_bytes) fluid_wire[l.index()] += b;
    rec.fluid_bytes(r.link_wire_bytes);  // the current part's (--trace counters)
  };
  // Fluid: the group's collective starts when its last rank is ready (a barrier), and rank k
  // is done finish[k] later.
  auto fluid_delays = [&](std::span<const int> members, std::span<const Time> finish, std::span<const TaskId> after,
                          std::uint8_t category, std::vector<TaskId>* done) {
    const TaskId barrier = graph.add_marker(kMarker);
    for (TaskId t : after) graph.depend(t, barrier);
    for (std::size_t k = 0; k < members.size(); ++k) {
      const TaskId t = graph.add_delay(GpuId::from(members[k]), finish[k], category);
      graph.depend(barrier, t);
      if (done) (*done)[k] = t;
    }
  };
  std::vector<int> all_index(P);
  std::iota(all_index.begin(), all_index.end(), 0);
  auto run_phases = [&](std::span<const CommPhase> phases) {
    // Phases with the same step overlap; steps run in order.
    std::size_t i = 0;
    while (i < phases.size()) {
      std::size_t j = i;
      std::vector<TaskId> step_done(P);
      for (int g = 0; g < P; ++g) step_done[g] = graph.add_marker(kMarker);
      if (fluid) {
        // The step's overlapping phases as one set of messages.
        while (j < phases.size() && phases[j].step == phases[i].step && phases[j].role == phases[i].role) ++j;
        rec.part(category_of(phases[i].role) == kDispatch ? TimelinePartKind::Dispatch : TimelinePartKind::Combine,
                 phases[i].name);
        // Each rank enters when its chain gets here; its sends leave then (fluid_alltoallv).
        const Time first = *std::min_element(clock.begin(), clock.end());
        std::vector<Time> entry(P);
        for (int g = 0; g < P; ++g) entry[g] = clock[g] - first;
        auto messages = [&] {
          std::vector<FluidTransfer> msgs;
          for (std::size_t k = i; k < j; ++k)
            for (int src = 0; src < P; ++src)
              for (const auto& e : phases[k].bytes.row(src))
                msgs.push_back({src, static_cast<int>(e.dst), e.bytes});
          return msgs;
        };
        auto [it, first_visit] = fluid_steps.try_emplace(&phases[i]);
        FluidStep& step = it->second;
        std::vector<FluidTransfer> msgs;  // this visit's, built once
        if (first_visit) {
          msgs = messages();
          step.pricing = fluid_alltoall_pricing(topo, all, msgs, max_peers);
          window_ignored += step.pricing == FluidAllToAllPricing::FormulaWindowIgnored;
          if (step.pricing != FluidAllToAllPricing::Replay)
            step.times = fluid_alltoallv_times(transfers, all, msgs, max_peers);
        }
        std::optional<FluidResult> priced;  // this visit's, unless a replay's is kept
        const FluidResult* result = nullptr;
        if (step.pricing == FluidAllToAllPricing::Replay) {
          auto r = step.replays.find(entry);
          if (r == step.replays.end()) {
            if (msgs.empty()) msgs = messages();
            FluidResult replayed = replay_alltoallv(transfers, all, msgs, max_peers, entry);
            replayed_flows += replayed.messages;
            r = step.replays.emplace(entry, std::move(replayed)).first;
          }
          result = &r->second;
        } else {
          MOESIM_CHECK(step.times.has_value(), "fluid phase {} priced again after its times were dropped", phases[i].name);
          priced = step.times->finish(entry);
          result = &*priced;
          if (!plans_reused) step.times.reset();  // each phase is visited once
        }
        add_fluid_wire(*result);
        // Rank g is done finish[g] after the first rank entered: that less its own entry
        // after its own chain (no barrier: early ranks' sends go ahead, as in the flow model).
        const std::uint8_t category = category_of(phases[i].role);
        for (int g = 0; g < P; ++g) {
          const Time d = std::max(result->finish[g], entry[g]) - entry[g];
          const TaskId t = graph.add_delay(GpuId::from(g), d, category);
          graph.depend(last[g], t);
          step_done[g] = t;
          clock[g] += d;
        }
        last = step_done;
        i = j;
        continue;
      }
      while (j < phases.size() && phases[j].step == phases[i].step && phases[j].role == phases[i].role) {
        const CommPhase& ph = phases[j];
        rec.part(category_of(ph.role) == kDispatch ? TimelinePartKind::Dispatch : TimelinePartKind::Combine, ph.name);
        // The collective asks for every pair: a dense copy answers in O(1) (P^2 doubles, freed per phase).
        const std::vector<double> dense = ph.bytes.to_dense();
        const auto h = append_alltoallv(
            graph, topo, all,
            [&](int s, int d) { return dense[static_cast<std::size_t>(s) * static_cast<std::size_t>(P) + static_cast<std::size_t>(d)]; },
            AllToAllAlgorithm::Direct, max_peers, last, category_of(ph.role));
        for (int g = 0; g < P; ++g) graph.depend(h.done[g], step_done[g]);
        ++j;
      }
      last = step_done;
      i = j;
    }
  };

  // Dense parameters per layer (their gradients are all-reduced over all GPUs).
  const double d = model.d_model;
  const double attn_params = 4 * d * d;
  const double ffn_mats = model.gated_ffn ? 3 : 2;
  auto dense_params = [&](int layer) {
    if (model.is_moe_layer(layer))
      return attn_params + d * model.num_experts + model.shared_experts * ffn_mats * d * model.d_ff;
    return attn_params + ffn_mats * d * model.dense_d_ff;
  };
  const double expert_params_per_gpu = layout.experts_per_rank * ffn_mats * d * model.d_ff;

  const double permute_rows = static_cast<double>(model.tokens_per_gpu) * model.top_k;
  // Forward.
  for (int layer = 0; layer < model.layers; ++layer) {
    rec.layer(layer, TimelinePass::Forward);
    rec.part(TimelinePartKind::Attention);
    for (int g = 0; g < P; ++g) compute(g, cm[g]->attention_forward_seconds(model));
    if (!model.is_moe_layer(layer)) {
      rec.part(TimelinePartKind::Ffn);
      for (int g = 0; g < P; ++g) compute(g, cm[g]->dense_ffn_forward_seconds(model));
      continue;
    }
    const DispatchPlan& plan = plans[plan_of_layer.at(layer)];
    rec.part(TimelinePartKind::GatePermute);
    for (int g = 0; g < P; ++g)
      compute(g, cm[g]->gating_forward_seconds(model) + cm[g]->permute_seconds(permute_rows, model.d_model, model.dtype));
    run_phases(plan.dispatch_phases());
    rec.part(TimelinePartKind::Expert);
    for (int g = 0; g < P; ++g) compute(g, cm[g]->expert_forward_seconds(plan.expert_work[g], model.gated_ffn, model.dtype));
    run_phases(plan.combine_phases());
    rec.part(TimelinePartKind::Unpermute);
    for (int g = 0; g < P; ++g) compute(g, cm[g]->permute_seconds(permute_rows, model.d_model, model.dtype));
  }

  // Backward with bucketed gradient all-reduce.
  const int channels = default_ring_channels(topo, all);
  const TreePipeline tree_pipeline = TreePipeline::from(costs.collective());
  // The all-reduces of `groups`, all at once. Fluid fidelity prices them (fluid: finish per
  // group); flow fidelity appends group q's to the graph after after(q) (done: per group).
  struct AllReduces {
    std::optional<FluidResult> fluid;
    std::vector<CollectiveHandles> done;
  };
  std::map<std::string, int> algorithms_used;
  auto allreduce = [&](std::span<const std::vector<GpuId>> groups, double bytes, std::span<const int> group_channels,
                       auto after) {
    AllReduces out;
    AllReduceAlgorithm alg = options.allreduce_algorithm;
    std::optional<FluidAllReduce> priced;
    if (fluid || alg == AllReduceAlgorithm::Auto) {
      priced = fluid_allreduce(transfers, groups, bytes, group_channels, alg);
      alg = priced->algorithm;
    }
    ++algorithms_used[std::string(to_string(alg))];
    if (fluid) {
      out.fluid = std::move(priced->result);
      return out;
    }
    for (std::size_t q = 0; q < groups.size(); ++q) {
      const std::vector<TaskId> start = after(q);
      out.done.push_back(append_allreduce(graph, topo, groups[q], bytes, alg, group_channels[q], tree_pipeline, start,
                                          kAllReduce, options.allreduce_max_steps));
    }
    return out;
  };
  double bucket = 0;
  // All-reduces hang off the backward chain without joining it (they overlap the rest of
  // backward); the executor runs every task, so the iteration ends when the last one does.
  // They run one after another, as DDP issues them in order on one NCCL stream: a bucket's
  // all-reduce starts on a GPU when that GPU's backward has reached it and the previous
  // bucket's all-reduce is done there.
  std::vector<TaskId> allreduce_done;  // per GPU, the previous bucket's (empty: none yet)
  auto flush = [&](double bytes) {
    if (bytes <= 0 || P == 1) return;
    rec.part(TimelinePartKind::AllReduce);
    std::vector<TaskId> after = last;
    if (!allreduce_done.empty())
      for (int g = 0; g < P; ++g) {
        after[g] = graph.add_marker(kMarker);
        graph.depend(last[g], after[g]);
        graph.depend(allreduce_done[g], after[g]);
      }
    const std::vector<std::vector<GpuId>> groups{all};
    AllReduces r = allreduce(groups, bytes, std::span<const int>(&channels, 1), [&](std::size_t) { return after; });
    if (!r.fluid) {
      allreduce_done = std::move(r.done.front().done);
      return;
    }
    add_fluid_wire(*r.fluid);
    const std::vector<Time> finish(P, r.fluid->finish[0]);
    allreduce_done.assign(P, TaskId{});
    fluid_delays(all_index, finish, after, kAllReduce, &allreduce_done);
  };
  for (int layer = model.layers - 1; layer >= 0; --layer) {
    rec.layer(layer, TimelinePass::Backward);
    if (model.is_moe_layer(layer)) {
      const int pi = plan_of_layer.at(layer);
      const DispatchPlan& plan = plans[pi];
      const auto& bw = backward[pi];
      const auto split = static_cast<std::size_t>(
          std::find_if(bw.begin(), bw.end(), [](const CommPhase& p) { return p.role == PhaseRole::DispatchGrad; }) - bw.begin());
      rec.part(TimelinePartKind::Unpermute);
      for (int g = 0; g < P; ++g) compute(g, cm[g]->permute_seconds(permute_rows, model.d_model, model.dtype));
      run_phases(std::span<const CommPhase>(bw).subspan(0, split));
      rec.part(TimelinePartKind::Expert);
      for (int g = 0; g < P; ++g) compute(g, cm[g]->expert_backward_seconds(plan.expert_work[g], model.gated_ffn, model.dtype));
      run_phases(std::span<const CommPhase>(bw).subspan(split));
      rec.part(TimelinePartKind::GatePermute);
      for (int g = 0; g < P; ++g)
        compute(g, 2 * cm[g]->gating_forward_seconds(model) + cm[g]->permute_seconds(permute_rows, model.d_model, model.dtype));
    } else {
      rec.part(TimelinePartKind::Ffn);
      for (int g = 0; g < P; ++g) compute(g, cm[g]->dense_ffn_backward_seconds(model));
    }
    rec.part(TimelinePartKind::Attention);
    for (int g = 0; g < P; ++g) compute(g, cm[g]->attention_backward_seconds(model));
    bucket += dense_params(layer) * grad_bytes;
    if (bucket >= options.bucket_bytes) {
      flush(bucket);
      bucket = 0;
    }
  }
  flush(bucket);
  // Expert gradients across expert-data-parallel replicas (same group rank in every EP group).
  if (layout.groups() > 1 && !moe_layers.empty()) {
    rec.part(TimelinePartKind::ExpertAllReduce);
    const double bytes = expert_params_per_gpu * grad_bytes * static_cast<double>(moe_layers.size());
    // Every replica group (same group rank r in every EP group) at once, sharing links.
    std::vector<std::vector<GpuId>> groups(layout.ep_size);
    std::vector<std::vector<int>> members(layout.ep_size);
    std::vector<int> group_channels(layout.ep_size);
    for (int r = 0; r < layout.ep_size; ++r) {
      for (int grp = 0; grp < layout.groups(); ++grp) {
        members[r].push_back(grp * layout.ep_size + r);
        groups[r].push_back(GpuId::from(members[r].back()));
      }
      group_channels[r] = default_ring_channels(topo, groups[r]);
    }
    auto after = [&](std::size_t r) {
      std::vector<TaskId> a;
      for (int g : members[r]) a.push_back(last[g]);
      return a;
    };
    const AllReduces ar = allreduce(groups, bytes, group_channels, after);
    if (ar.fluid) {
      add_fluid_wire(*ar.fluid);
      for (int r = 0; r < layout.ep_size; ++r) {
        const std::vector<Time> finish(members[r].size(), ar.fluid->finish[r]);
        fluid_delays(members[r], finish, after(r), kAllReduce, nullptr);
      }
    }
  }

  if (!fluid && options.on_replay_size) options.on_replay_size(graph.transfer_count());
  if (!fluid) transfers.declare_dominated_links();  // O(GPUs^2): after planning and the note
  Executor exec(transfers);
  exec.track_busy(kCategories);  // the breakdown: per GPU and category, the union of its tasks' intervals
  if (options.on_replay_progress) exec.on_progress(options.on_replay_progress, std::size_t{1} << 16);
  const Time end = exec.run(graph);
  rec.finish(end, network.link_stats(), topo);

  // ---- results ------------------------------------------------------------------------
  TrainingStepResult res;
  res.strategy = options.strategy;
  res.model = model.name;
  res.cluster = std::string(topo.name());
  res.gpus = P;
  res.nodes = shape.nodes;
  res.iteration_time_s = end.seconds();
  res.tokens_per_s = res.iteration_time_s > 0 ? static_cast<double>(model.tokens_per_gpu) * P / res.iteration_time_s : 0;
  res.allreduce_algorithms = std::move(algorithms_used);
  res.tasks = graph.size();
  res.flows = network.flows_completed() + replayed_flows;
  res.fluid_alltoalls_window_ignored = window_ignored;

  std::array<double, kCategories> mean{};
  for (int g = 0; g < P; ++g)
    for (int c = 0; c < kCategories; ++c) mean[c] += exec.busy(GpuId::from(g), c).seconds() / P;
  res.breakdown.compute_s = mean[kCompute];
  res.breakdown.dispatch_s = mean[kDispatch];
  res.breakdown.combine_s = mean[kCombine];
  res.breakdown.allreduce_s = mean[kAllReduce];
  res.breakdown.exposed_communication_s = std::max(0.0, res.iteration_time_s - mean[kCompute]);

  double assignments = 0, dropped = 0, tokens = 0, rerouted = 0, inter = 0;
  for (std::size_t i = 0; i < moe_layers.size(); ++i) {
    const DispatchPlan& plan = plans[i % plans.size()];
    for (const auto& ts : plan.token_stats) {
      assignments += ts.assignments;
      dropped += ts.dropped;
      tokens += ts.tokens;
      rerouted += ts.rerouted_tokens;
    }
    // Forward phases plus their backward mirror (same byte counts in the gradient dtype).
    for (const CommPhase& ph : plan.phases) inter += inter_node_bytes(ph.bytes, shape);
    for (const CommPhase& ph : backward[i % plans.size()]) inter += inter_node_bytes(ph.bytes, shape);
  }
  res.inter_node_bytes_per_gpu = inter / P;
  res.dropped_fraction = assignments > 0 ? dropped / assignments : 0;
  res.rerouted_fraction = tokens > 0 ? rerouted / tokens : 0;

  std::map<std::string, std::pair<double, int>> util;
  const auto stats = network.link_stats();
  for (std::size_t l = 0; l < stats.size(); ++l) {
    const LinkSpec& spec = topo.link(LinkId::from(l));
    auto& u = util[std::string(to_string(spec.link_class))];
    const double wire = stats[l].wire_bytes + (fluid ? fluid_wire[l] : 0.0);
    u.first += res.iteration_time_s > 0 ? wire / (spec.capacity_Bps * res.iteration_time_s) : 0;
    u.second += 1;
  }
  for (const auto& [k, v] : util) res.link_utilization[k] = v.first / v.second;
  return res;
}

}  // namespace moesim
