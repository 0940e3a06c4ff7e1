#include "models/random.h"

#include "sim/error.h"

namespace moesim {

AliasTable::AliasTable(std::span<const double> weights) {
  const std::size_t n = weights.size();
  MOESIM_CHECK(n > 0 && n <= 0xffffffffULL, "alias table over {} weights", n);
  double total = 0;
  for (double w : weights) {
    MOESIM_CHECK(w >= 0, "negative weight {}", w);
    total += w;
  }
  MOESIM_CHECK(total > 0, "alias table needs a positive weight");
  prob_.assign(n, 0.0);
  alias_.assign(n, 0);
  std::vector<double> scaled(n);
  std::vector<std::uint32_t> small, large;
  for (std::size_t i = 0; i < n; ++i) {
    scaled[i] = weights[i] * static_cast<double>(n) / total;
    (scaled[i] < 1.0 ? small : large).push_back(static_cast<std::uint32_t>(i));
  }
  while (!small.empty() && !large.empty()) {
    const std::uint32_t s = small.back();
    small.pop_back();
    const std::uint32_t l = large.back();
    prob_[s] = scaled[s];
    alias_[s] = l;
    scaled[l] = (scaled[l] + scaled[s]) - 1.0;
    if (scaled[l] < 1.0) {
      large.pop_back();
      small.push_back(l);
    }
  }
  // Leftovers are 1 up to rounding.
  for (std::uint32_t i : large) { prob_[i] = 1.0; alias_[i] = i; }
  for (std::uint32_t i : small) { prob_[i] = 1.0; alias_[i] = i; }
}

}  // namespace moesim
