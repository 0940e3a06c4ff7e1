#pragma once
// Seeded random streams for the models layer (DESIGN.md rule 12: one seed, one named stream
// per component).
//
// Everything here is written out by hand so that the same seed gives byte-identical results
// with every compiler and standard library: std::*_distribution is never used (its outputs
// differ between libstdc++, libc++ and MSVC).
//
//   - splitmix64 (Steele, Lea, Flood 2014): seeds and stream derivation.
//   - xoshiro256** 1.0 (Blackman & Vigna 2018, https://prng.di.unimi.it/): the generator.
//   - uniform(): 53 random bits -> double in [0, 1).
//   - below(n): Lemire's multiply-shift with rejection (arXiv 1805.10941), exact for n < 2^32.
//   - AliasTable: Vose's alias method, O(n) build, O(1) sample.
//
// Stream derivation: stream_seed(seed, "gating", layer, gpu) hashes the stream name with
// FNV-1a 64 and mixes it with the seed and the indices through splitmix64, so every
// (component, layer, gpu) draws from its own independent stream and results do not depend on
// the order in which streams are used.
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace moesim {

/// One splitmix64 step: advances `state` and returns the next output.
constexpr std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/// FNV-1a 64-bit hash of a stream name.
constexpr std::uint64_t fnv1a64(std::string_view s) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : s) {
    h ^= static_cast<std::uint8_t>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

/// Seed of the named stream `name` with indices (a, b) under the run seed `seed`.
constexpr std::uint64_t stream_seed(std::uint64_t seed, std::string_view name, std::uint64_t a = 0,
                                    std::uint64_t b = 0) {
  std::uint64_t s = seed ^ fnv1a64(name);
  std::uint64_t h = splitmix64(s);
  s = h ^ a;
  h = splitmix64(s);
  s = h ^ b;
  return splitmix64(s);
}

/// xoshiro256** seeded through splitmix64. Not cryptographic. 32 bytes of state.
class Rng {
 public:
  explicit constexpr Rng(std::uint64_t seed) {
    for (auto& w : s_) w = splitmix64(seed);
  }
  constexpr std::uint64_t next() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  /// Uniform double in [0, 1) with 53 random bits.
  constexpr double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  /// Uniform integer in [0, n), n >= 1, without bias.
  constexpr std::uint32_t below(std::uint32_t n) {
    std::uint64_t m = (next() >> 32) * n;
    auto low = static_cast<std::uint32_t>(m);
    if (low < n) {
      const std::uint32_t threshold = static_cast<std::uint32_t>(-n) % n;
      while (low < threshold) {
        m = (next() >> 32) * n;
        low = static_cast<std::uint32_t>(m);
      }
    }
    return static_cast<std::uint32_t>(m >> 32);
  }

 private:
  static constexpr std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4]{};
};

/// Vose's alias method over non-negative weights (at least one positive). O(n) build, O(1) sample.
class AliasTable {
 public:
  AliasTable() = default;
  explicit AliasTable(std::span<const double> weights);
  std::uint32_t sample(Rng& rng) const {
    const std::uint32_t i = rng.below(static_cast<std::uint32_t>(prob_.size()));
    return rng.uniform() < prob_[i] ? i : alias_[i];
  }
  std::size_t size() const { return prob_.size(); }

 private:
  std::vector<double> prob_;
  std::vector<std::uint32_t> alias_;
};

}  // namespace moesim
