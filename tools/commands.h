#pragma once
// Each `moesim` subcommand lives in its own tools/cmd_<name>.cpp and registers itself here.
// Contract: a command prints results to stdout (fmt::print), diagnostics to stderr, and
// signals failure by throwing a moesim::Error subclass (ConfigError for files, InputError
// for command-line values); main() prints "moesim: error: <what()>" and exits 1.
// Nothing below tools/ calls exit().
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace moesim::cli {

void add_collective_command(CLI::App& app);
void add_topo_command(CLI::App& app);
void add_run_command(CLI::App& app);
void add_compare_command(CLI::App& app);
void add_strategies_command(CLI::App& app);
void add_validate_command(CLI::App& app);
void add_replay_command(CLI::App& app);
void add_calibrate_command(CLI::App& app);
void add_sweep_command(CLI::App& app);
void add_merge_command(CLI::App& app);

/// Thrown by a command that has printed its own diagnostics and must end with this exit
/// status (moesim sweep: 1 or 3 when points failed, 128 + signal when interrupted).
struct ExitCode {
  int code;
};

/// What `moesim` with no arguments runs (the README's main command).
std::vector<std::string> default_arguments();

}  // namespace moesim::cli
