#pragma once
// Files compiled into the binary (presets, catalogs, default cost factors); see cmake/Embed.cmake.
#include <span>
#include <string_view>

namespace moesim {
struct EmbeddedFile {
  std::string_view name;      // file stem, e.g. "dgx-h100"
  std::string_view contents;  // the file's text
};
}  // namespace moesim
