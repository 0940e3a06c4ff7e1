#pragma once
// A small deterministic random source for synthetic calibration data (tests only). Written
// here rather than using <random> distributions, whose outputs differ between standard
// libraries: SplitMix64 (Steele, Lea, Flood, "Fast splittable pseudorandom number generators",
// OOPSLA 2014) for 64-bit words, Box-Muller for normal deviates.
#include <cmath>
#include <cstdint>
#include <numbers>

namespace moesim::validation::testing {

class TestRng {
 public:
  explicit TestRng(std::uint64_t seed) : state_(seed) {}

  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  /// Uniform in (0, 1): 53 random bits, never exactly 0.
  double uniform() { return (static_cast<double>(next() >> 11) + 0.5) * 0x1.0p-53; }
  /// Standard normal (Box-Muller; the second deviate is discarded for simplicity).
  double normal() {
    const double u1 = uniform(), u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  }
  /// Multiplicative noise factor 1 + sigma * N(0, 1).
  double noise(double sigma) { return 1.0 + sigma * normal(); }

 private:
  std::uint64_t state_;
};

}  // namespace moesim::validation::testing
