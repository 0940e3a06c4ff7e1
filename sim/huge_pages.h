#pragma once
// Transparent huge pages for the simulator's large arrays.
//
// A run fills tens of MB of fresh arrays (a 16 x 8 GPU training step: 30 MB of tasks and
// 13 MB of edges). Where the kernel's transparent huge pages are set to "madvise" (Debian's
// default, and this machine's), each 4 KiB page of them costs a page fault on first touch:
// about 7,500 per switch-base-128 step on 16 x 8 GPUs, which made that step 12% slower
// (docs/PERFORMANCE.md). Advising the arrays lets the kernel back them with 2 MiB pages.
// The memory and the results are the same; only the faults go.
#include <cstddef>

namespace moesim {

/// Asks the kernel (Linux madvise MADV_HUGEPAGE) to back the whole 2 MiB-aligned blocks inside
/// [p, p + bytes) with huge pages, before they are first touched. Ranges without such a block,
/// other systems and a kernel that refuses are left as they are. O(1).
void advise_huge_pages(const void* p, std::size_t bytes) noexcept;

/// The same for a vector's whole capacity (call it after reserve / assign, before filling).
template <class Vector>
void advise_huge_pages(const Vector& v) noexcept {
  advise_huge_pages(v.data(), v.capacity() * sizeof(typename Vector::value_type));
}

}  // namespace moesim
