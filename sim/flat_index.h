#pragma once
// A hash index from 64-bit keys to 32-bit values: open addressing with linear probing,
// power-of-two capacity, deletion by backward shift (no tombstones, so probe lengths stay
// short under the solver's steady insert/erase churn). One key is reserved as "empty".
// The max-min solver looks up its (group, constraint) edges here on every join and
// departure; std::unordered_map's node allocation and pointer chasing cost twice as much.
#include <bit>
#include <cstdint>
#include <vector>

namespace moesim {

class FlatIndex {
 public:
  static constexpr std::uint64_t kEmptyKey = ~std::uint64_t{0};  // may not be stored

  /// The value stored under `key`, inserting `value` first if absent; `inserted` says which.
  std::uint32_t& find_or_insert(std::uint64_t key, std::uint32_t value, bool& inserted) {
    if ((size_ + 1) * 4 > slots_.size() * 3) grow();
    std::size_t i = home(key);
    while (slots_[i].key != kEmptyKey) {
      if (slots_[i].key == key) {
        inserted = false;
        return slots_[i].value;
      }
      i = (i + 1) & mask_;
    }
    slots_[i] = Slot{key, value};
    ++size_;
    inserted = true;
    return slots_[i].value;
  }

  /// Pointer to the value under `key`, or nullptr.
  std::uint32_t* find(std::uint64_t key) {
    if (slots_.empty()) return nullptr;
    for (std::size_t i = home(key);; i = (i + 1) & mask_) {
      if (slots_[i].key == key) return &slots_[i].value;
      if (slots_[i].key == kEmptyKey) return nullptr;
    }
  }

  /// Removes `key`; returns whether it was there.
  bool erase(std::uint64_t key) {
    if (slots_.empty()) return false;
    std::size_t i = home(key);
    while (slots_[i].key != key) {
      if (slots_[i].key == kEmptyKey) return false;
      i = (i + 1) & mask_;
    }
    // Backward shift: move later entries of the run into the hole when their home allows.
    for (std::size_t j = (i + 1) & mask_;; j = (j + 1) & mask_) {
      if (slots_[j].key == kEmptyKey) break;
      const std::size_t h = home(slots_[j].key);
      // Entry j may fill hole i iff i lies cyclically in [h, j).
      if (((j - h) & mask_) >= ((j - i) & mask_)) {
        slots_[i] = slots_[j];
        i = j;
      }
    }
    slots_[i].key = kEmptyKey;
    --size_;
    return true;
  }

  std::size_t size() const { return size_; }

 private:
  struct Slot {
    std::uint64_t key = kEmptyKey;
    std::uint32_t value = 0;
  };
  std::size_t home(std::uint64_t key) const {
    // Fibonacci hashing: the high bits of key * 2^64/phi spread (g, c) pairs well.
    return static_cast<std::size_t>((key * 0x9E3779B97F4A7C15ULL) >> shift_);
  }
  void grow() {
    std::vector<Slot> old;
    old.swap(slots_);
    const std::size_t cap = old.empty() ? 64 : old.size() * 2;
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
    shift_ = 64 - std::countr_zero(cap);
    size_ = 0;
    for (const Slot& s : old)
      if (s.key != kEmptyKey) {
        std::size_t i = home(s.key);
        while (slots_[i].key != kEmptyKey) i = (i + 1) & mask_;
        slots_[i] = s;
        ++size_;
      }
  }

  std::vector<Slot> slots_;
  std::size_t size_ = 0;
  std::size_t mask_ = 0;
  int shift_ = 64;
};

}  // namespace moesim
