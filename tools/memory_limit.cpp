#include "tools/memory_limit.h"

#include <sys/resource.h>

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "sim/error.h"

namespace moesim::cli {

namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

/// The value in kB of `key` ("MemAvailable") in /proc/meminfo or /proc/self/status text.
std::optional<std::uint64_t> kib_field(std::string_view text, std::string_view key) {
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t end = std::min(text.find('\n', at), text.size());
    std::string_view line = text.substr(at, end - at);
    at = end + 1;
    if (!line.starts_with(key) || line.size() <= key.size() || line[key.size()] != ':') continue;
    line.remove_prefix(key.size() + 1);
    while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    std::uint64_t kib = 0;
    const auto [p, ec] = std::from_chars(line.data(), line.data() + line.size(), kib);
    if (ec != std::errc()) return std::nullopt;
    return kib * 1024;
  }
  return std::nullopt;
}

std::string read_file(const char* path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string gb_text(std::uint64_t bytes) { return fmt::format("{:.1f} GB", static_cast<double>(bytes) / 1e9); }

}  // namespace

std::optional<std::uint64_t> memory_limit_bytes(const char* env, std::string_view meminfo, std::uint64_t mapped_bytes) {
  if (env != nullptr) {
    const std::string_view text(env);
    double gb = 0;
    const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), gb);
    if (text.empty() || ec != std::errc() || p != text.data() + text.size() || !std::isfinite(gb) || gb < 0)
      throw InputError(fmt::format(
          "MOESIM_MEMORY_LIMIT_GB=\"{}\": expected a number of GB (10^9 bytes) >= 0, 0 for no limit", text));
    if (gb == 0) return std::nullopt;
    return static_cast<std::uint64_t>(gb * 1e9);
  }
  const auto available = kib_field(meminfo, "MemAvailable");
  if (!available) return std::nullopt;  // not Linux, or a kernel older than 3.14: no limit
  return *available + mapped_bytes;
}

std::optional<std::uint64_t> apply_memory_limit() {
  if (kSanitized) return std::nullopt;
  rlimit current{};
  if (getrlimit(RLIMIT_AS, &current) != 0) return std::nullopt;
  const std::uint64_t mapped = kib_field(read_file("/proc/self/status"), "VmSize").value_or(0);
  const auto wanted = memory_limit_bytes(std::getenv("MOESIM_MEMORY_LIMIT_GB"), read_file("/proc/meminfo"), mapped);
  if (wanted && (current.rlim_cur == RLIM_INFINITY || *wanted < current.rlim_cur)) {
    rlimit next = current;
    next.rlim_cur = static_cast<rlim_t>(*wanted);
    if (current.rlim_max != RLIM_INFINITY && next.rlim_cur > current.rlim_max) next.rlim_cur = current.rlim_max;
    if (setrlimit(RLIMIT_AS, &next) == 0) current = next;
  }
  if (current.rlim_cur == RLIM_INFINITY) return std::nullopt;
  return static_cast<std::uint64_t>(current.rlim_cur);
}

std::string out_of_memory_message() {
  rlimit current{};
  const bool limited = getrlimit(RLIMIT_AS, &current) == 0 && current.rlim_cur != RLIM_INFINITY;
  return fmt::format(
      "out of memory{}: this run needs more. Flow fidelity keeps every message in memory (about 100-150 bytes "
      "each) and a flat all-to-all has one per GPU pair, so memory grows with the square of the GPUs: try --fidelity "
      "fluid, fewer nodes or smaller sizes (MOESIM_MEMORY_LIMIT_GB=G sets moesim's limit, 0 none; docs/OUTPUTS.md)",
      limited ? fmt::format(" (moesim's limit: {} of address space)", gb_text(current.rlim_cur)) : "");
}

}  // namespace moesim::cli
