#pragma once
// DispatchPlan: which bytes go where for one MoE layer (routing-strategies.md).
//
// A plan holds ordered communication phases, each a GPU->GPU byte matrix over all GPUs of the
// cluster with the process group it runs on, plus per-GPU expert compute and token accounting.
// Forward phases are the strategy's dispatch phases followed by its combine phases (combine
// = the mirror of dispatch: reverse order, transposed, in the combine dtype).
// backward_phases() mirrors the forward phases once more for the backward pass.
//
// Units: bytes (double; fractional bytes never arise but sums stay exact up to 2^53).
// Matrix convention: bytes(src, dst); the diagonal holds bytes that stay on the GPU (a local
// copy, no link). Memory: a ByteMatrix stores only non-zero entries (16 bytes each), so a
// dense 1024-GPU phase takes 16 MiB and a hierarchical phase (P x G or P x N non-zeros) far
// less.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "models/model_config.h"

namespace moesim {

/// A square byte matrix in compressed-row form. Immutable once built.
class ByteMatrix {
 public:
  struct Entry {
    std::uint32_t dst;
    double bytes;
    bool operator==(const Entry&) const = default;
  };

  ByteMatrix() = default;
  /// An all-zero matrix over `ranks` GPUs.
  explicit ByteMatrix(int ranks);
  /// From a dense row-major ranks x ranks array; zeros are dropped. O(ranks^2).
  static ByteMatrix from_dense(int ranks, std::span<const double> dense);
  /// From rows already in this form: row i is entries[row_begin[i] .. row_begin[i + 1]),
  /// ascending dst < ranks, every entry > 0. O(entries).
  static ByteMatrix from_rows(int ranks, std::vector<std::uint32_t> row_begin, std::vector<Entry> entries);

  int ranks() const { return ranks_; }
  /// Non-zero entries of row `src`, ascending `dst`.
  std::span<const Entry> row(int src) const;
  /// O(log nnz(row)).
  double at(int src, int dst) const;
  double row_sum(int src) const;
  std::vector<double> column_sums() const;
  double total() const;
  /// Sum of off-diagonal entries (bytes that leave their GPU).
  double total_off_diagonal() const;
  std::size_t nonzeros() const { return entries_.size(); }
  ByteMatrix transposed() const;
  ByteMatrix scaled(double factor) const;
  std::vector<double> to_dense() const;
  bool operator==(const ByteMatrix&) const = default;

 private:
  int ranks_ = 0;
  std::vector<std::uint32_t> row_begin_ = {0};  // ranks_ + 1 offsets into entries_
  std::vector<Entry> entries_;
};

/// What a phase does in the training step.
enum class PhaseRole : std::uint8_t { Dispatch, Combine, CombineGrad, DispatchGrad };
/// The process group a phase's collective runs on.
///   Global: all ranks of the expert-parallel group (the whole cluster when EP = all GPUs).
///   IntraNode: the GPUs of one node (inside the EP group).
///   InterNodeSameLocal: the GPUs with the same local index on every node of the EP group
///     (rail-aligned).
///   Custom: anything else (point-to-point kernels such as DeepEP's).
enum class ProcessGroup : std::uint8_t { Global, IntraNode, InterNodeSameLocal, Custom };
/// AllToAll: every pair exchanges the same amount (padded capacity buffers).
/// AllToAllV: per-pair sizes differ (dropless, exact counts).
/// PointToPoint: custom sends (e.g. DeepEP dispatch/forwarding kernels), not a collective.
enum class CommPattern : std::uint8_t { AllToAll, AllToAllV, PointToPoint };
std::string_view to_string(PhaseRole r);
std::string_view to_string(ProcessGroup g);
std::string_view to_string(CommPattern p);

struct CommPhase {
  std::string name;  // "dispatch", "dispatch-inter", "combine-intra", "dispatch-global-grad", ...
  PhaseRole role = PhaseRole::Dispatch;
  ProcessGroup group = ProcessGroup::Global;
  CommPattern pattern = CommPattern::AllToAllV;
  /// Phases with the same step within a role are independent of each other (may overlap);
  /// steps run in increasing order.
  int step = 0;
  double bytes_per_element = 2;  // element size the bytes were counted in
  ByteMatrix bytes;
};

/// One expert GEMM job on a GPU: `rows` token rows through an FFN of input width `d_in` and
/// hidden width `d_ff` (2 GEMMs, 3 when the model's FFN is gated).
struct ExpertWork {
  int expert = 0;        // group-local expert id; -1 for a shared expert
  int part = 0;          // index into DispatchPlan::expert_parts (e.g. scomoe's local/node/global)
  double rows = 0;       // rows the GEMMs process (capacity mode: the padded buffer)
  double tokens = 0;     // real tokens among them
  int d_in = 0;
  int d_ff = 0;
  bool shared = false;
};

/// Token accounting for the tokens that start on one GPU.
struct GpuTokenStats {
  double tokens = 0;            // S
  double assignments = 0;       // (token, expert) assignments the strategy made
  double dropped = 0;           // assignments dropped by capacity
  double tokens_fully_dropped = 0;  // tokens all of whose assignments were dropped
  /// Tokens whose experts differ from the first k of their unconstrained gate ranking, k =
  /// the number of experts the strategy gives a token (node limits, local-first, steering).
  double rerouted_tokens = 0;
};

struct DispatchPlan {
  std::string strategy;
  int layer = 0;
  ClusterShape cluster;
  int ep_size = 1;                  // EP groups are blocks of ep_size consecutive GPUs
  std::vector<CommPhase> phases;    // forward: dispatch phases, then combine phases
  std::vector<std::string> expert_parts = {"routed"};
  std::vector<std::vector<ExpertWork>> expert_work;  // [gpu]
  std::vector<GpuTokenStats> token_stats;            // [gpu]
  /// [n] = tokens whose kept assignments reach n distinct nodes (index 0: fully dropped).
  std::vector<double> tokens_by_nodes_reached;

  std::span<const CommPhase> dispatch_phases() const;
  std::span<const CommPhase> combine_phases() const;
  /// Bytes each GPU sends to GPUs on other nodes in the forward phases (dispatch + combine).
  std::vector<double> inter_node_bytes_per_gpu() const;
  double inter_node_bytes() const;
  double dropped_assignments() const;
  double rerouted_tokens() const;
};

/// Bytes of `m` that cross nodes.
double inter_node_bytes(const ByteMatrix& m, ClusterShape cluster);

/// Combine phases from dispatch phases: reverse order, each matrix transposed and rescaled
/// from its bytes_per_element to `bytes_per_element` (the combine dtype), Dispatch ->
/// Combine ("dispatch-x" -> "combine-x"), steps reversed.
std::vector<CommPhase> mirror_dispatch(std::span<const CommPhase> dispatch, double bytes_per_element);

/// Backward phases from forward ones: reverse order, transposed, rescaled to the gradient
/// element size; Combine -> CombineGrad ("combine-x" -> "combine-x-grad") first, then
/// Dispatch -> DispatchGrad. Expert backward runs between the two roles.
std::vector<CommPhase> backward_phases(std::span<const CommPhase> forward, double grad_bytes_per_element);

}  // namespace moesim
