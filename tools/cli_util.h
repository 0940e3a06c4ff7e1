#pragma once
// Small parsers shared by the CLI commands.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace moesim::cli {

/// "4096", "32K", "32M", "1G", "1.5G" (binary units as nccl-tests: K = 1024). "B" suffix allowed.
double parse_size(std::string_view text);
/// A comma-separated list of sizes or ranges "MIN:MAX" (doubling) or "MIN:MAX:FACTOR".
std::vector<double> parse_size_list(std::string_view text);
/// "42s", "3m07s", "2h05m" for a duration in seconds; "?" if negative or not finite.
std::string duration_text(double seconds);
/// "1.00 MiB"-style text for a byte count (nccl-tests prints raw bytes; tables use this).
std::string format_size(double bytes);

}  // namespace moesim::cli
