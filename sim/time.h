#pragma once
// Simulated time: a strong type over int64 picoseconds.
//
// Units: picoseconds (1e-12 s). Range: about +/-106 days, far beyond any training step.
// Conversions from seconds round *up* to whole picoseconds (DESIGN.md: completion times are
// rounded up), so a transfer never finishes earlier than its exact fluid-model time.
#include <cmath>
#include <compare>
#include <cstdint>
#include <limits>

#include <fmt/format.h>

namespace moesim {

class Time {
 public:
  constexpr Time() = default;
  static constexpr Time from_ps(std::int64_t ps) { return Time(ps); }
  /// Seconds -> Time, rounded up to a whole picosecond (never early).
  static Time from_seconds_ceil(double s) {
    const double ps = std::ceil(s * 1e12 - 1e-6);  // tolerate float noise just above an integer
    return Time(static_cast<std::int64_t>(ps < 0 ? 0 : ps));
  }
  static constexpr Time zero() { return Time(0); }
  static constexpr Time max() { return Time(std::numeric_limits<std::int64_t>::max()); }

  constexpr std::int64_t ps() const { return ps_; }
  constexpr double seconds() const { return static_cast<double>(ps_) * 1e-12; }
  constexpr double us() const { return static_cast<double>(ps_) * 1e-6; }

  constexpr auto operator<=>(const Time&) const = default;
  constexpr Time operator+(Time o) const { return Time(ps_ + o.ps_); }
  constexpr Time operator-(Time o) const { return Time(ps_ - o.ps_); }
  constexpr Time& operator+=(Time o) { ps_ += o.ps_; return *this; }
  constexpr Time& operator-=(Time o) { ps_ -= o.ps_; return *this; }
  constexpr Time operator*(std::int64_t k) const { return Time(ps_ * k); }

 private:
  constexpr explicit Time(std::int64_t ps) : ps_(ps) {}
  std::int64_t ps_ = 0;
};

namespace time_literals {
constexpr Time operator""_ps(unsigned long long v) { return Time::from_ps(static_cast<std::int64_t>(v)); }
constexpr Time operator""_ns(unsigned long long v) { return Time::from_ps(static_cast<std::int64_t>(v) * 1000); }
constexpr Time operator""_us(unsigned long long v) { return Time::from_ps(static_cast<std::int64_t>(v) * 1000000); }
constexpr Time operator""_ms(unsigned long long v) { return Time::from_ps(static_cast<std::int64_t>(v) * 1000000000); }
constexpr Time operator""_s(unsigned long long v) { return Time::from_ps(static_cast<std::int64_t>(v) * 1000000000000); }
}  // namespace time_literals

}  // namespace moesim

/// Formats as the most readable unit: "12.500 us", "3.2 ms", "1.000000 s", "740 ps".
template <>
struct fmt::formatter<moesim::Time> : fmt::formatter<double> {
  template <typename Ctx>
  auto format(moesim::Time t, Ctx& ctx) const {
    const auto ps = t.ps();
    const auto a = ps < 0 ? -ps : ps;
    if (a < 1000) return fmt::format_to(ctx.out(), "{} ps", ps);
    if (a < 1000000) return fmt::format_to(ctx.out(), "{:.3f} ns", static_cast<double>(ps) * 1e-3);
    if (a < 1000000000) return fmt::format_to(ctx.out(), "{:.3f} us", static_cast<double>(ps) * 1e-6);
    if (a < 1000000000000) return fmt::format_to(ctx.out(), "{:.3f} ms", static_cast<double>(ps) * 1e-9);
    return fmt::format_to(ctx.out(), "{:.6f} s", static_cast<double>(ps) * 1e-12);
  }
};
