#pragma once
// Strong integer ids (DESIGN.md rule 4): GpuId, LinkId, ... cannot be mixed up.
#include <compare>
#include <cstdint>
#include <functional>

#include <fmt/format.h>

namespace moesim {

template <typename Tag>
class StrongId {
 public:
  using value_type = std::uint32_t;
  constexpr StrongId() = default;
  constexpr explicit StrongId(value_type v) : v_(v) {}
  template <typename I>
  static constexpr StrongId from(I i) { return StrongId(static_cast<value_type>(i)); }
  constexpr value_type value() const { return v_; }
  /// For indexing std::vector.
  constexpr std::size_t index() const { return v_; }
  constexpr auto operator<=>(const StrongId&) const = default;

 private:
  value_type v_ = 0;
};

using GpuId = StrongId<struct GpuTag>;      // global GPU index = node * gpus_per_node + local (uniform clusters)
using LinkId = StrongId<struct LinkTag>;    // a directed link
using VertexId = StrongId<struct VertexTag>;  // any device in the topology graph

}  // namespace moesim

template <typename Tag>
struct std::hash<moesim::StrongId<Tag>> {
  std::size_t operator()(moesim::StrongId<Tag> id) const noexcept { return std::hash<std::uint32_t>{}(id.value()); }
};

template <typename Tag>
struct fmt::formatter<moesim::StrongId<Tag>> : fmt::formatter<std::uint32_t> {
  template <typename Ctx>
  auto format(moesim::StrongId<Tag> id, Ctx& ctx) const { return fmt::formatter<std::uint32_t>::format(id.value(), ctx); }
};
