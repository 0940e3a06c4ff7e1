#pragma once
// Test helper: runs one moesim subcommand in-process and returns what it printed to stdout.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

namespace moesim::testing_cli {

/// `add` registers the subcommand (e.g. moesim::cli::add_topo_command); `args` is the command
/// line after "moesim". Exceptions (moesim::Error, CLI::ParseError) propagate to the caller.
inline std::string run_cli(void (*add)(CLI::App&), const std::string& args) {
  CLI::App app{"moesim"};
  add(app);
  ::testing::internal::CaptureStdout();
  try {
    app.parse(args, false);
  } catch (...) {
    ::testing::internal::GetCapturedStdout();
    throw;
  }
  std::fflush(stdout);
  return ::testing::internal::GetCapturedStdout();
}

}  // namespace moesim::testing_cli
