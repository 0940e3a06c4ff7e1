#pragma once
// moesim's own memory limit: a run that needs more memory than the machine has ends with a
// clear "out of memory" error (exit status 1) instead of being killed by the kernel's OOM
// killer, or swapping for hours, after it has taken the machine's memory from everything
// else. Flow-level replays keep every message in memory (about 100-150 bytes each,
// docs/PERFORMANCE.md) and a flat all-to-all has a message per GPU pair, so the memory a run
// needs grows with the square of the GPUs: `moesim run --nodes 2048` (16,384 GPUs) takes
// about 9 GB at fluid fidelity, and a 1 MB ring all-reduce on 2,048 nodes asked for more
// than 19 GB before this limit existed.
//
// The limit is the address space (RLIMIT_AS) the process may map: by default the memory
// available when moesim starts (MemAvailable in /proc/meminfo) plus what the process has
// mapped by then, so that allocations past it throw std::bad_alloc, which the commands
// report. MOESIM_MEMORY_LIMIT_GB=G sets G GB (10^9 bytes) instead; 0 sets none. A lower limit
// that is already in place (ulimit -v) is kept. Builds with AddressSanitizer set none (its
// shadow memory is a huge mapping).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace moesim::cli {

/// The limit that apply_memory_limit would set, in bytes (nullopt: none). `env` is the value
/// of MOESIM_MEMORY_LIMIT_GB (nullptr if unset), `meminfo` the text of /proc/meminfo and
/// `mapped_bytes` the process's current address-space size. Throws InputError for a
/// malformed `env`.
std::optional<std::uint64_t> memory_limit_bytes(const char* env, std::string_view meminfo, std::uint64_t mapped_bytes);

/// Sets the process's address-space limit as described above (from the environment and
/// /proc); returns the limit now in force (nullopt: none). Call once, first thing in main.
std::optional<std::uint64_t> apply_memory_limit();

/// The message for a std::bad_alloc: the limit in force (read back from the process) and
/// what makes a run smaller.
std::string out_of_memory_message();

}  // namespace moesim::cli
