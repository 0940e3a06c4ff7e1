#include "models/dispatch_plan.h"

#include <algorithm>

#include "sim/error.h"

namespace moesim {

ByteMatrix::ByteMatrix(int ranks) : ranks_(ranks), row_begin_(static_cast<std::size_t>(ranks) + 1, 0) {
  MOESIM_CHECK(ranks >= 0, "ranks {}", ranks);
}

ByteMatrix ByteMatrix::from_dense(int ranks, std::span<const double> dense) {
  const auto n = static_cast<std::size_t>(ranks);
  MOESIM_CHECK(dense.size() == n * n, "dense matrix of {} entries for {} ranks", dense.size(), ranks);
  ByteMatrix m(ranks);
  std::size_t nnz = 0;
  for (double v : dense) nnz += v != 0 ? 1 : 0;
  m.entries_.reserve(nnz);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      const double v = dense[i * n + j];
      MOESIM_CHECK(v >= 0, "negative bytes {} at ({}, {})", v, i, j);
      if (v != 0) m.entries_.push_back({static_cast<std::uint32_t>(j), v});
    }
    m.row_begin_[i + 1] = static_cast<std::uint32_t>(m.entries_.size());
  }
  return m;
}

ByteMatrix ByteMatrix::from_rows(int ranks, std::vector<std::uint32_t> row_begin, std::vector<Entry> entries) {
  ByteMatrix m(ranks);
  MOESIM_CHECK(row_begin.size() == m.row_begin_.size() && row_begin.front() == 0 && row_begin.back() == entries.size(),
               "row offsets for {} ranks and {} entries", ranks, entries.size());
  for (std::size_t i = 0; i < static_cast<std::size_t>(ranks); ++i) {
    MOESIM_CHECK(row_begin[i] <= row_begin[i + 1], "row {} ends before it begins", i);
    for (std::uint32_t k = row_begin[i]; k < row_begin[i + 1]; ++k) {
      MOESIM_CHECK(entries[k].dst < static_cast<std::uint32_t>(ranks) && (k == row_begin[i] || entries[k - 1].dst < entries[k].dst),
                   "row {}: destination {} out of order or range", i, entries[k].dst);
      MOESIM_CHECK(entries[k].bytes > 0, "bytes {} at ({}, {})", entries[k].bytes, i, entries[k].dst);
    }
  }
  m.row_begin_ = std::move(row_begin);
  m.entries_ = std::move(entries);
  return m;
}

std::span<const ByteMatrix::Entry> ByteMatrix::row(int src) const {
  const auto i = static_cast<std::size_t>(src);
  return std::span<const Entry>(entries_).subspan(row_begin_[i], row_begin_[i + 1] - row_begin_[i]);
}

double ByteMatrix::at(int src, int dst) const {
  const auto r = row(src);
  const auto it = std::lower_bound(r.begin(), r.end(), static_cast<std::uint32_t>(dst),
                                   [](const Entry& e, std::uint32_t d) { return e.dst < d; });
  return it != r.end() && it->dst == static_cast<std::uint32_t>(dst) ? it->bytes : 0.0;
}

double ByteMatrix::row_sum(int src) const {
  double s = 0;
  for (const auto& e : row(src)) s += e.bytes;
  return s;
}

std::vector<double> ByteMatrix::column_sums() const {
  std::vector<double> c(static_cast<std::size_t>(ranks_), 0.0);
  for (const auto& e : entries_) c[e.dst] += e.bytes;
  return c;
}

double ByteMatrix::total() const {
  double s = 0;
  for (const auto& e : entries_) s += e.bytes;
  return s;
}

double ByteMatrix::total_off_diagonal() const {
  double s = 0;
  for (int i = 0; i < ranks_; ++i)
    for (const auto& e : row(i))
      if (e.dst != static_cast<std::uint32_t>(i)) s += e.bytes;
  return s;
}

ByteMatrix ByteMatrix::transposed() const {
  ByteMatrix t(ranks_);
  t.entries_.resize(entries_.size());
  std::vector<std::uint32_t> count(static_cast<std::size_t>(ranks_) + 1, 0);
  for (const auto& e : entries_) ++count[e.dst + 1];
  for (std::size_t j = 0; j < static_cast<std::size_t>(ranks_); ++j) count[j + 1] += count[j];
  t.row_begin_ = count;
  // Rows are visited in ascending src, so each transposed row comes out sorted by dst.
  for (int i = 0; i < ranks_; ++i)
    for (const auto& e : row(i)) t.entries_[count[e.dst]++] = {static_cast<std::uint32_t>(i), e.bytes};
  return t;
}

ByteMatrix ByteMatrix::scaled(double factor) const {
  MOESIM_CHECK(factor > 0, "scale factor {}", factor);
  ByteMatrix s = *this;
  for (auto& e : s.entries_) e.bytes *= factor;
  return s;
}

std::vector<double> ByteMatrix::to_dense() const {
  const auto n = static_cast<std::size_t>(ranks_);
  std::vector<double> d(n * n, 0.0);
  for (std::size_t i = 0; i < n; ++i)
    for (const auto& e : row(static_cast<int>(i))) d[i * n + e.dst] = e.bytes;
  return d;
}

std::string_view to_string(PhaseRole r) {
  switch (r) {
    case PhaseRole::Dispatch: return "dispatch";
    case PhaseRole::Combine: return "combine";
    case PhaseRole::CombineGrad: return "combine-grad";
    case PhaseRole::DispatchGrad: return "dispatch-grad";
  }
  return "?";
}

std::string_view to_string(ProcessGroup g) {
  switch (g) {
    case ProcessGroup::Global: return "global";
    case ProcessGroup::IntraNode: return "intra-node";
    case ProcessGroup::InterNodeSameLocal: return "inter-node-same-local";
    case ProcessGroup::Custom: return "custom";
  }
  return "?";
}

std::string_view to_string(CommPattern p) {
  switch (p) {
    case CommPattern::AllToAll: return "all-to-all";
    case CommPattern::AllToAllV: return "all-to-all-v";
    case CommPattern::PointToPoint: return "point-to-point";
  }
  return "?";
}

namespace {

std::span<const CommPhase> phases_with_role(const std::vector<CommPhase>& phases, PhaseRole role) {
  const auto first = std::find_if(phases.begin(), phases.end(), [&](const CommPhase& p) { return p.role == role; });
  const auto last = std::find_if(first, phases.end(), [&](const CommPhase& p) { return p.role != role; });
  return {first, last};
}

// Reverse order, transpose, rescale, new role and name; steps reversed within the set.
std::vector<CommPhase> mirror(std::span<const CommPhase> phases, double bytes_per_element,
                              PhaseRole (*role_of)(PhaseRole), std::string (*name_of)(const std::string&)) {
  MOESIM_CHECK(bytes_per_element > 0, "bytes per element {}", bytes_per_element);
  int max_step = 0;
  for (const auto& p : phases) max_step = std::max(max_step, p.step);
  std::vector<CommPhase> out;
  out.reserve(phases.size());
  for (auto it = phases.rbegin(); it != phases.rend(); ++it) {
    CommPhase m;
    m.name = name_of(it->name);
    m.role = role_of(it->role);
    m.group = it->group;
    m.pattern = it->pattern;
    m.step = max_step - it->step;
    m.bytes_per_element = bytes_per_element;
    const double f = bytes_per_element / it->bytes_per_element;
    m.bytes = f == 1.0 ? it->bytes.transposed() : it->bytes.transposed().scaled(f);
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace

std::span<const CommPhase> DispatchPlan::dispatch_phases() const { return phases_with_role(phases, PhaseRole::Dispatch); }
std::span<const CommPhase> DispatchPlan::combine_phases() const { return phases_with_role(phases, PhaseRole::Combine); }

double inter_node_bytes(const ByteMatrix& m, ClusterShape cluster) {
  double s = 0;
  for (int i = 0; i < m.ranks(); ++i)
    for (const auto& e : m.row(i))
      if (cluster.node_of(static_cast<int>(e.dst)) != cluster.node_of(i)) s += e.bytes;
  return s;
}

std::vector<double> DispatchPlan::inter_node_bytes_per_gpu() const {
  std::vector<double> out(static_cast<std::size_t>(cluster.gpus()), 0.0);
  for (const auto& p : phases)
    for (int i = 0; i < p.bytes.ranks(); ++i)
      for (const auto& e : p.bytes.row(i))
        if (cluster.node_of(static_cast<int>(e.dst)) != cluster.node_of(i)) out[static_cast<std::size_t>(i)] += e.bytes;
  return out;
}

double DispatchPlan::inter_node_bytes() const {
  double s = 0;
  for (const auto& p : phases) s += moesim::inter_node_bytes(p.bytes, cluster);
  return s;
}

double DispatchPlan::dropped_assignments() const {
  double s = 0;
  for (const auto& t : token_stats) s += t.dropped;
  return s;
}

double DispatchPlan::rerouted_tokens() const {
  double s = 0;
  for (const auto& t : token_stats) s += t.rerouted_tokens;
  return s;
}

std::vector<CommPhase> mirror_dispatch(std::span<const CommPhase> dispatch, double bytes_per_element) {
  for (const auto& p : dispatch) MOESIM_CHECK(p.role == PhaseRole::Dispatch, "phase {} is not a dispatch phase", p.name);
  return mirror(
      dispatch, bytes_per_element, [](PhaseRole) { return PhaseRole::Combine; },
      [](const std::string& n) { return n.starts_with("dispatch") ? "combine" + n.substr(8) : n + "-combine"; });
}

std::vector<CommPhase> backward_phases(std::span<const CommPhase> forward, double grad_bytes_per_element) {
  // Forward is [dispatch..., combine...]; each role is mirrored on its own so steps reverse
  // within the role, and the combine gradients come first.
  const auto split = std::find_if(forward.begin(), forward.end(), [](const CommPhase& p) { return p.role != PhaseRole::Dispatch; });
  const std::span<const CommPhase> dispatch(forward.begin(), split);
  const std::span<const CommPhase> combine(split, forward.end());
  for (const auto& p : combine) MOESIM_CHECK(p.role == PhaseRole::Combine, "phase {} is not a forward phase", p.name);
  const auto grad_name = [](const std::string& n) { return n + "-grad"; };
  auto out = mirror(combine, grad_bytes_per_element, [](PhaseRole) { return PhaseRole::CombineGrad; }, grad_name);
  auto d = mirror(dispatch, grad_bytes_per_element, [](PhaseRole) { return PhaseRole::DispatchGrad; }, grad_name);
  out.insert(out.end(), std::make_move_iterator(d.begin()), std::make_move_iterator(d.end()));
  return out;
}

}  // namespace moesim
