#include "tools/cli_util.h"

#include <cctype>
#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

#include "sim/error.h"

namespace moesim::cli {

double parse_size(std::string_view text) {
  std::string s(text);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.erase(s.begin());
  if (s.empty()) throw InputError("empty size");
  std::string num = s;
  double mult = 1;
  if (num.back() == 'B' || num.back() == 'b') num.pop_back();
  if (!num.empty()) {
    switch (std::toupper(static_cast<unsigned char>(num.back()))) {
      case 'K': mult = 1024.0; num.pop_back(); break;
      case 'M': mult = 1024.0 * 1024; num.pop_back(); break;
      case 'G': mult = 1024.0 * 1024 * 1024; num.pop_back(); break;
      case 'T': mult = 1024.0 * 1024 * 1024 * 1024; num.pop_back(); break;
      default: break;
    }
  }
  char* end = nullptr;
  const double v = std::strtod(num.c_str(), &end);
  if (num.empty() || end != num.c_str() + num.size() || !std::isfinite(v))
    throw InputError(fmt::format("cannot read size \"{}\": expected a number with an optional K, M, G or T suffix (e.g. 32M, 1G)", s));
  if (v <= 0) throw InputError(fmt::format("size \"{}\" must be > 0", s));
  return v * mult;
}

std::vector<double> parse_size_list(std::string_view text) {
  std::vector<double> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto comma = text.find(',', start);
    const auto item = text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    const auto c1 = item.find(':');
    if (c1 == std::string_view::npos) {
      out.push_back(parse_size(item));
    } else {
      const auto c2 = item.find(':', c1 + 1);
      const double lo = parse_size(item.substr(0, c1));
      const double hi = parse_size(item.substr(c1 + 1, c2 == std::string_view::npos ? std::string_view::npos : c2 - c1 - 1));
      double factor = 2;
      if (c2 != std::string_view::npos) {
        const std::string f(item.substr(c2 + 1));
        char* end = nullptr;
        factor = std::strtod(f.c_str(), &end);
        if (f.empty() || end != f.c_str() + f.size() || !(factor > 1))
          throw InputError(fmt::format("range \"{}\": the factor must be a number > 1", item));
      }
      if (hi < lo) throw InputError(fmt::format("range \"{}\": the end is smaller than the start", item));
      for (double v = lo; v <= hi * (1 + 1e-12); v *= factor) {
        out.push_back(v);
        if (out.size() > 10000) throw InputError(fmt::format("range \"{}\" has more than 10000 sizes", item));
      }
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

std::string duration_text(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  const auto t = static_cast<long long>(s + 0.5);
  if (t < 60) return fmt::format("{}s", t);
  if (t < 3600) return fmt::format("{}m{:02}s", t / 60, t % 60);
  return fmt::format("{}h{:02}m", t / 3600, (t % 3600) / 60);
}

std::string format_size(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) {
    bytes /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{:.0f} {}", bytes, units[u]) : fmt::format("{:.2f} {}", bytes, units[u]);
}

}  // namespace moesim::cli
