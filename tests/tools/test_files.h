#pragma once
// Files for the sweep and merge tests: fresh temporary paths and whole-file reads.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <unistd.h>

#include <gtest/gtest.h>

namespace moesim::testing_files {

/// A fresh path `name` in a directory of its own per process and `tag`: CTest runs each test
/// in its own process, several at once. Any file already there is removed.
inline std::string temp_path(const std::string& tag, const std::string& name) {
  const auto dir = std::filesystem::path(::testing::TempDir()) / (tag + "." + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto p = dir / name;
  std::filesystem::remove(p);
  return p.string();
}

inline std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

inline bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace moesim::testing_files
