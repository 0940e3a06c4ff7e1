#include "models/strategies/routing_util.h"

#include <algorithm>
#include <cmath>

#include "sim/error.h"

namespace moesim::routing {

int capacity(int k, int tokens, int experts, double capacity_factor) {
  // GShard: capacity = int(k * ceil(S / E) * cf); Python's int() truncates toward zero.
  const double per_expert = std::ceil(static_cast<double>(tokens) / static_cast<double>(experts));
  return static_cast<int>(std::floor(k * per_expert * capacity_factor));
}

Rng strategy_rng(const RoutingInput& in, std::string_view strategy, int gpu) {
  return Rng(stream_seed(in.gating.seed(), strategy, static_cast<std::uint64_t>(in.gating.layer()),
                         static_cast<std::uint64_t>(gpu)));
}

ExpertRange rank_experts(const ExpertLayout& layout, int group_rank) {
  return {group_rank * layout.experts_per_rank, (group_rank + 1) * layout.experts_per_rank};
}

ExpertRange node_experts(const ExpertLayout& layout, int group_node) {
  const int per_node = layout.group_shape().gpus_per_node * layout.experts_per_rank;
  return {group_node * per_node, (group_node + 1) * per_node};
}

Admission admit(std::span<const std::uint16_t> choices, int n_tokens, int k, Capacity capacity, int experts,
                std::vector<std::uint8_t>& keep) {
  const auto n = static_cast<std::size_t>(n_tokens) * static_cast<std::size_t>(k);
  MOESIM_CHECK(choices.size() >= n, "{} choices for {} x {}", choices.size(), n_tokens, k);
  MOESIM_CHECK(capacity.per_expert.empty() || static_cast<int>(capacity.per_expert.size()) == experts,
               "{} capacities for {} experts", capacity.per_expert.size(), experts);
  keep.assign(n, 1);
  Admission a;
  if (capacity.unlimited()) return a;
  // Remaining room per expert, counted down (one lookup per assignment).
  std::vector<int> room(static_cast<std::size_t>(experts));
  for (int e = 0; e < experts; ++e) room[static_cast<std::size_t>(e)] = capacity.of(e);
  std::size_t dropped = 0;
  for (int j = 0; j < k; ++j)
    for (std::size_t i = static_cast<std::size_t>(j); i < n; i += static_cast<std::size_t>(k)) {
      int& r = room[choices[i]];
      if (r > 0) --r;
      else {
        keep[i] = 0;
        ++dropped;
      }
    }
  a.dropped = static_cast<double>(dropped);
  if (k == 1) {
    a.tokens_fully_dropped = a.dropped;
    return a;
  }
  std::size_t fully = 0;
  for (std::size_t i = 0; i < n; i += static_cast<std::size_t>(k)) {
    bool any = false;
    for (std::size_t j = 0; j < static_cast<std::size_t>(k); ++j) any = any || keep[i + j];
    if (!any) ++fully;
  }
  a.tokens_fully_dropped = static_cast<double>(fully);
  return a;
}

void first_choices(const RoutingInput& in, int gpu, int k, std::span<std::uint16_t> out, Rng& rng) {
  const auto& g = in.gating;
  const int depth = g.depth();
  const int S = g.tokens_per_gpu();
  const auto all = g.choices(gpu);
  if (k == depth) {  // the sample's rows are the choices
    std::copy_n(all.begin(), static_cast<std::ptrdiff_t>(S) * k, out.begin());
    return;
  }
  if (k < depth) {
    for (int t = 0; t < S; ++t)
      std::copy_n(all.begin() + static_cast<std::ptrdiff_t>(t) * depth, k, out.begin() + static_cast<std::ptrdiff_t>(t) * k);
    return;
  }
  const ExpertRange everything[] = {{0, g.experts()}};
  for (int t = 0; t < S; ++t) {
    const int n = restricted_choices(g, gpu, t, everything, k, out.subspan(static_cast<std::size_t>(t) * static_cast<std::size_t>(k)), rng);
    MOESIM_CHECK(n == k, "token {} got {} of {} experts", t, n, k);
  }
}

bool same_experts(std::span<const std::uint16_t> a, std::span<const std::uint16_t> b) {
  if (a.size() != b.size()) return false;
  for (auto x : a)
    if (std::find(b.begin(), b.end(), x) == b.end()) return false;
  return true;
}

ByteMatrix RowCounts::to_bytes(double row_bytes) const {
  const int P = gpus();
  std::vector<std::uint32_t> row_begin(static_cast<std::size_t>(P) + 1, 0);
  std::vector<ByteMatrix::Entry> entries;
  for (int src = 0; src < P; ++src) {
    for_each_in_row(src, [&](int dst, double rows) {
      const double v = rows * row_bytes;
      if (v != 0) entries.push_back({static_cast<std::uint32_t>(dst), v});
    });
    row_begin[static_cast<std::size_t>(src) + 1] = static_cast<std::uint32_t>(entries.size());
  }
  return ByteMatrix::from_rows(P, std::move(row_begin), std::move(entries));
}

PlanBuilder::PlanBuilder(const RoutingInput& in, std::string_view strategy)
    : in_(in), strategy_(strategy), stats_(static_cast<std::size_t>(in.layout.cluster.gpus())),
      node_stamp_(static_cast<std::size_t>(in.layout.cluster.nodes), -1) {
  MOESIM_CHECK(in.gating.gpus() == in.layout.cluster.gpus() && in.gating.experts() == in.layout.num_experts &&
                   in.gating.tokens_per_gpu() == in.model.tokens_per_gpu,
               "gate sample ({} GPUs, {} experts, {} tokens) does not match the model and layout", in.gating.gpus(),
               in.gating.experts(), in.gating.tokens_per_gpu());
  add_part("routed", in.model.d_model, in.model.d_ff);
}

int PlanBuilder::add_phase(std::string name, ProcessGroup group, CommPattern pattern, int step, int row_elements) {
  Phase p;
  p.meta.name = std::move(name);
  p.meta.role = PhaseRole::Dispatch;
  p.meta.group = group;
  p.meta.pattern = pattern;
  p.meta.step = step;
  p.meta.bytes_per_element = bytes_per_element(in_.model.dispatch_dtype);
  p.row_elements = row_elements;
  p.rows = RowCounts(gpus());
  phases_.push_back(std::move(p));
  return static_cast<int>(phases_.size()) - 1;
}

void PlanBuilder::set_rows(int phase, RowCounts rows) {
  MOESIM_CHECK(rows.gpus() == gpus(), "rows for {} GPUs, the plan has {}", rows.gpus(), gpus());
  phases_[static_cast<std::size_t>(phase)].rows = std::move(rows);
}

int PlanBuilder::add_part(std::string name, int d_in, int d_ff) {
  const auto n = static_cast<std::size_t>(gpus()) * static_cast<std::size_t>(in_.layout.experts_per_rank);
  parts_.push_back({std::move(name), d_in, d_ff, std::vector<double>(n, 0.0), std::vector<double>(n, 0.0)});
  return static_cast<int>(parts_.size()) - 1;
}

void PlanBuilder::set_part(int part, std::string name, int d_in, int d_ff) {
  auto& p = parts_[static_cast<std::size_t>(part)];
  p.name = std::move(name);
  p.d_in = d_in;
  p.d_ff = d_ff;
}

void PlanBuilder::add_expert(int gpu, int expert, int part, double rows, double tokens) {
  const int local = expert - in_.layout.first_expert(gpu);
  MOESIM_CHECK(local >= 0 && local < in_.layout.experts_per_rank, "expert {} is not on GPU {}", expert, gpu);
  const auto i = static_cast<std::size_t>(gpu) * static_cast<std::size_t>(in_.layout.experts_per_rank) + static_cast<std::size_t>(local);
  auto& p = parts_[static_cast<std::size_t>(part)];
  p.rows[i] += rows;
  p.tokens[i] += tokens;
}

void PlanBuilder::count_nodes_reached(int nodes, double tokens) {
  if (nodes_reached_.size() <= static_cast<std::size_t>(nodes)) nodes_reached_.resize(static_cast<std::size_t>(nodes) + 1, 0.0);
  nodes_reached_[static_cast<std::size_t>(nodes)] += tokens;
}

void PlanBuilder::update_group(int gpu) {
  const auto& L = in_.layout;
  group_.base = L.group_base(gpu);
  group_.owner.resize(static_cast<std::size_t>(L.num_experts));
  group_.node.resize(static_cast<std::size_t>(L.num_experts));
  for (int e = 0; e < L.num_experts; ++e) {
    group_.owner[static_cast<std::size_t>(e)] = L.owner(gpu, e);
    group_.node[static_cast<std::size_t>(e)] = L.cluster.node_of(L.owner(gpu, e));
  }
}

int PlanBuilder::nodes_of(int gpu, std::span<const std::uint16_t> kept) {
  ++stamp_;
  int n = 0;
  const auto& g = group(gpu);
  for (auto e : kept) {
    const int node = g.node[e];
    if (node_stamp_[static_cast<std::size_t>(node)] != stamp_) {
      node_stamp_[static_cast<std::size_t>(node)] = stamp_;
      ++n;
    }
  }
  return n;
}

DispatchPlan PlanBuilder::finish() && {
  DispatchPlan plan;
  plan.strategy = strategy_;
  plan.layer = in_.gating.layer();
  plan.cluster = in_.layout.cluster;
  plan.ep_size = in_.layout.ep_size;
  const int P = gpus();
  std::vector<CommPhase> dispatch;
  for (auto& p : phases_) {
    const double row_bytes = p.row_elements * p.meta.bytes_per_element;
    p.meta.bytes = p.rows.to_bytes(row_bytes);
    p.rows = RowCounts();
    dispatch.push_back(std::move(p.meta));
  }
  auto combine = mirror_dispatch(dispatch, bytes_per_element(in_.model.dtype));
  plan.phases = std::move(dispatch);
  plan.phases.insert(plan.phases.end(), std::make_move_iterator(combine.begin()), std::make_move_iterator(combine.end()));

  const int shared_part = static_cast<int>(parts_.size());
  plan.expert_parts.clear();
  for (const auto& p : parts_) plan.expert_parts.push_back(p.name);
  if (in_.model.shared_experts > 0) plan.expert_parts.emplace_back("shared");
  plan.expert_work.resize(static_cast<std::size_t>(P));
  const int epr = in_.layout.experts_per_rank;
  const double S = in_.model.tokens_per_gpu;
  for (int gpu = 0; gpu < P; ++gpu) {
    auto& w = plan.expert_work[static_cast<std::size_t>(gpu)];
    for (std::size_t part = 0; part < parts_.size(); ++part) {
      const auto& p = parts_[part];
      for (int l = 0; l < epr; ++l) {
        const auto i = static_cast<std::size_t>(gpu) * static_cast<std::size_t>(epr) + static_cast<std::size_t>(l);
        w.push_back({.expert = in_.layout.first_expert(gpu) + l, .part = static_cast<int>(part), .rows = p.rows[i],
                     .tokens = p.tokens[i], .d_in = p.d_in, .d_ff = p.d_ff});
      }
    }
    for (int s = 0; s < in_.model.shared_experts; ++s)
      w.push_back({.expert = -1, .part = shared_part, .rows = S, .tokens = S, .d_in = in_.model.d_model,
                   .d_ff = in_.model.d_ff, .shared = true});
  }
  plan.token_stats = std::move(stats_);
  plan.tokens_by_nodes_reached = std::move(nodes_reached_);
  return plan;
}

void route_tokens(const RoutingInput& in, PlanBuilder& b, int k, const CapacityFn& capacity, bool padded_rows,
                  const ChooseFn& choose, const VisitFn& visit) {
  const int S = in.model.tokens_per_gpu;
  const int E = in.layout.num_experts;
  std::vector<std::uint16_t> choices(static_cast<std::size_t>(S) * static_cast<std::size_t>(k));
  std::vector<std::uint8_t> keep;
  std::vector<std::uint16_t> kept(static_cast<std::size_t>(k));
  // Tokens by the number of nodes their kept experts span (0..k), handed to the builder
  // once at the end: integer counts, so the sums are the same as token by token.
  std::vector<std::uint64_t> by_nodes(static_cast<std::size_t>(k) + 1, 0);
  for (int gpu = 0; gpu < b.gpus(); ++gpu) {
    const int base = b.group(gpu).base;
    const double rerouted = choose(gpu, choices);
    const auto a = admit(choices, S, k, capacity(gpu), E, keep);
    auto& st = b.stats(gpu);
    st.tokens += S;
    st.assignments += static_cast<double>(S) * k;
    st.dropped += a.dropped;
    st.tokens_fully_dropped += a.tokens_fully_dropped;
    st.rerouted_tokens += rerouted;
    for (int t = 0; t < S; ++t) {
      const std::size_t row = static_cast<std::size_t>(t) * static_cast<std::size_t>(k);
      std::size_t n = 0;
      for (std::size_t j = 0; j < static_cast<std::size_t>(k); ++j) {
        if (!keep[row + j]) continue;
        const std::uint16_t e = choices[row + j];
        kept[n++] = e;
        b.add_routed(base, e, 0, padded_rows ? 0.0 : 1.0, 1.0);
      }
      const std::span<const std::uint16_t> mine(kept.data(), n);
      ++by_nodes[n <= 1 ? n : static_cast<std::size_t>(b.nodes_of(gpu, mine))];
      if (visit) visit(gpu, t, mine);
    }
  }
  for (std::size_t nodes = 0; nodes < by_nodes.size(); ++nodes)
    if (by_nodes[nodes] > 0) b.count_nodes_reached(static_cast<int>(nodes), static_cast<double>(by_nodes[nodes]));
}

RowCounts flat_rows(const RoutingInput& in, PlanBuilder& b, int k, const ChooseFn& choose,
                    const CapacityFn& capacity_of) {
  const auto& L = in.layout;
  const int P = b.gpus();
  const bool padded = b.padded();
  const int C = capacity(k, in.model.tokens_per_gpu, L.num_experts, in.model.capacity_factor);
  const CapacityFn cap = !padded ? CapacityFn([](int) { return Capacity{}; })
                         : capacity_of ? capacity_of
                                    : CapacityFn([C](int) { return Capacity{.uniform = C}; });
  RowCounts rows(P);
  VisitFn count_rows;  // padded buffers: the rows are the capacities, added below
  if (!padded)
    count_rows = [&](int gpu, int, std::span<const std::uint16_t> kept) {
      const auto& owner = b.group(gpu).owner;
      for (auto e : kept) rows.add(gpu, owner[e], 1);
    };
  route_tokens(in, b, k, cap, padded, choose, count_rows);
  if (padded) {
    // Fixed buffers: every source sends C_e rows for every expert e of its group, full or not.
    for (int gpu = 0; gpu < P; ++gpu) {
      const Capacity c = cap(gpu);
      const auto& g = b.group(gpu);
      for (int e = 0; e < L.num_experts; ++e) {
        rows.add(gpu, g.owner[static_cast<std::size_t>(e)], c.of(e));
        b.add_routed(g.base, e, 0, c.of(e), 0.0);
      }
    }
  }
  return rows;
}

}  // namespace moesim::routing
