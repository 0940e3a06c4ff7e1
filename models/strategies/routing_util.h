#pragma once
// Pieces the strategy files share (private to models/): plan assembly, capacity admission,
// the flat gate loop. Not part of the public API.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "models/strategy.h"
#include "sim/block_rows.h"

namespace moesim::routing {

/// GShard's capacity per (source GPU, expert): C = int(k * ceil(S / E) * cf).
int capacity(int k, int tokens, int experts, double capacity_factor);

/// The strategy's random stream for one GPU at the sample's layer (restricted draws,
/// steering, tie-breaks): stream_seed(seed, strategy, layer, gpu).
Rng strategy_rng(const RoutingInput& in, std::string_view strategy, int gpu);

/// Expert ranges (group-local ids) of a group rank, and of a node inside the group.
ExpertRange rank_experts(const ExpertLayout& layout, int group_rank);
ExpertRange node_experts(const ExpertLayout& layout, int group_node);

/// Capacity of one source GPU's buffers: the same for every expert, or one per expert
/// (ta-moe sizes them to its target pattern).
struct Capacity {
  int uniform = -1;                 // < 0 and no per_expert: unlimited (dropless)
  std::span<const int> per_expert;  // E values (group-local expert ids) when given
  int of(int e) const { return per_expert.empty() ? uniform : per_expert[static_cast<std::size_t>(e)]; }
  bool unlimited() const { return per_expert.empty() && uniform < 0; }
};
using CapacityFn = std::function<Capacity(int gpu)>;

/// Token assignments in `choices` (n_tokens x k, token-major) admitted under `capacity` in
/// GShard order: every token's first choice in token order, then every token's second
/// choice, ... `keep` receives 1/0 per assignment.
struct Admission {
  double dropped = 0;
  double tokens_fully_dropped = 0;
};
Admission admit(std::span<const std::uint16_t> choices, int n_tokens, int k, Capacity capacity, int experts,
                std::vector<std::uint8_t>& keep);

/// The first k choices of every token of `gpu` (n_tokens x k): the stored ones when
/// k <= depth, extended by Plackett-Luce continuation otherwise.
void first_choices(const RoutingInput& in, int gpu, int k, std::span<std::uint16_t> out, Rng& rng);

/// True when a and b hold the same experts (any order). O(|a| |b|).
bool same_experts(std::span<const std::uint16_t> a, std::span<const std::uint16_t> b);

/// A GPUs x GPUs matrix of token rows that stores only the 64-wide blocks of each source's
/// row that something was added to (sim/block_rows.h): a dispatch inside expert-parallel
/// groups of G GPUs needs about P x G values instead of a dense P^2 matrix of doubles (8.6 GB
/// at 32,768 GPUs).
class RowCounts {
 public:
  explicit RowCounts(int gpus = 0) : table_(gpus, gpus, 0.0) {}
  int gpus() const { return table_.rows(); }
  void add(int src, int dst, double rows) {
    table_.slot(static_cast<std::size_t>(src), static_cast<std::size_t>(dst)) += rows;
  }
  /// 0 where nothing was added.
  double at(int src, int dst) const { return table_.at(static_cast<std::size_t>(src), static_cast<std::size_t>(dst)); }
  /// fn(dst, rows) for every entry of `src`'s row that is not 0, ascending dst.
  template <typename Fn>
  void for_each_in_row(int src, Fn&& fn) const {
    table_.for_each_in_row(static_cast<std::size_t>(src), [&fn](std::size_t dst, double v) {
      if (v != 0) fn(static_cast<int>(dst), v);
    });
  }
  /// rows x `row_bytes` as bytes, entries that come out 0 dropped.
  ByteMatrix to_bytes(double row_bytes) const;
  /// Values held (64 per block touched, zeros included): the matrix's memory besides its index.
  std::size_t stored_values() const { return table_.stored_values(); }

 private:
  BlockRows<double> table_;
};

/// Assembles a DispatchPlan: dispatch phases accumulated sparsely in token rows, expert work
/// per (GPU, local expert, part), token stats; finish() converts rows to bytes, adds the
/// combine phases (mirror, combine dtype) and the shared experts.
class PlanBuilder {
 public:
  PlanBuilder(const RoutingInput& in, std::string_view strategy);

  const ModelConfig& model() const { return in_.model; }
  const ExpertLayout& layout() const { return in_.layout; }
  int gpus() const { return in_.layout.cluster.gpus(); }
  bool padded() const { return in_.model.buffer_mode == BufferMode::Capacity; }
  /// AllToAll when buffers are padded, AllToAllV when dropless.
  CommPattern a2a_pattern() const { return padded() ? CommPattern::AllToAll : CommPattern::AllToAllV; }

  /// A dispatch phase whose rows carry `row_elements` elements (d_model or a slice width).
  int add_phase(std::string name, ProcessGroup group, CommPattern pattern, int step, int row_elements);
  void add_rows(int phase, int src, int dst, double rows) { phases_[static_cast<std::size_t>(phase)].rows.add(src, dst, rows); }
  /// Replaces a phase's rows matrix (gpus x gpus).
  void set_rows(int phase, RowCounts rows);

  /// Expert parts: part 0 is "routed" (d_model -> d_ff); others for scomoe's sub-MoEs/slices.
  int add_part(std::string name, int d_in, int d_ff);
  void set_part(int part, std::string name, int d_in, int d_ff);
  /// Adds rows/tokens to group-local `expert` hosted on `gpu`.
  void add_expert(int gpu, int expert, int part, double rows, double tokens);
  /// Owner GPU and node of every expert of one EP group, precomputed so hot loops do no
  /// integer divisions. Valid until the next call with a GPU of another group.
  struct GroupMap {
    int base = -1;
    std::vector<int> owner, node;
  };
  const GroupMap& group(int gpu) {
    if (group_.base < 0 || gpu < group_.base || gpu - group_.base >= in_.layout.ep_size) update_group(gpu);
    return group_;
  }
  /// add_expert for group-local `expert` of the group starting at GPU `base`.
  void add_routed(int base, int expert, int part, double rows, double tokens) {
    const auto i = static_cast<std::size_t>(base) * static_cast<std::size_t>(in_.layout.experts_per_rank) + static_cast<std::size_t>(expert);
    auto& p = parts_[static_cast<std::size_t>(part)];
    p.rows[i] += rows;
    p.tokens[i] += tokens;
  }
  GpuTokenStats& stats(int gpu) { return stats_[static_cast<std::size_t>(gpu)]; }
  /// Records `tokens` tokens whose kept experts span `nodes` distinct nodes.
  void count_nodes_reached(int nodes, double tokens = 1);
  /// Counts distinct nodes among the owners of `kept` (group-local ids) for tokens of `gpu`.
  int nodes_of(int gpu, std::span<const std::uint16_t> kept);

  DispatchPlan finish() &&;

 private:
  struct Phase {
    CommPhase meta;
    int row_elements;
    RowCounts rows;
  };
  struct Part {
    std::string name;
    int d_in, d_ff;
    std::vector<double> rows, tokens;  // [gpu][local expert]
  };
  void update_group(int gpu);
  const RoutingInput& in_;
  std::string strategy_;
  GroupMap group_;
  std::vector<Phase> phases_;
  std::vector<Part> parts_;
  std::vector<GpuTokenStats> stats_;
  std::vector<double> nodes_reached_;
  std::vector<int> node_stamp_;
  int stamp_ = 0;
};

/// Flat-gate routing shared by flat, hier-a2a, ta-moe and node-limited. For every GPU:
/// `choose(gpu, choices)` fills n_tokens x k experts and returns how many tokens it rerouted;
/// admission under `capacity(gpu)`; then token stats, nodes reached, expert work (part 0:
/// tokens, and rows = tokens unless `padded_rows`, where the caller adds padded rows), and
/// `visit(gpu, token, kept experts)` per token (when given).
using ChooseFn = std::function<double(int gpu, std::span<std::uint16_t> choices)>;
using VisitFn = std::function<void(int gpu, int token, std::span<const std::uint16_t> kept)>;
void route_tokens(const RoutingInput& in, PlanBuilder& b, int k, const CapacityFn& capacity, bool padded_rows,
                  const ChooseFn& choose, const VisitFn& visit);

/// The flat token-rows matrix (gpus x gpus) for the flat gate: exact counts when dropless;
/// in capacity mode padded buffers: each source sends C_e rows for every expert e of its
/// group (C_e = GShard's C unless `capacity_of` says otherwise), and every expert's GEMM runs on
/// the sum of its sources' C_e rows. Fills expert work and stats like route_tokens.
RowCounts flat_rows(const RoutingInput& in, PlanBuilder& b, int k, const ChooseFn& choose,
                    const CapacityFn& capacity_of = nullptr);

}  // namespace moesim::routing
