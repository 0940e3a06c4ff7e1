// moesim: the command-line interface (composition root). The only place that turns errors
// into exit codes: 0 ok, 1 a moesim error (bad input, failed check), 2 a usage error,
// 3 an unexpected internal error; a command may end with its own status (cli::ExitCode:
// moesim sweep exits 128 + signal when interrupted). Running out of memory (moesim's own
// limit, tools/memory_limit.h) is an error of status 1 that says how to make the run smaller.
#include <cstdio>
#include <iostream>
#include <new>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "sim/error.h"
#include "tools/commands.h"
#include "tools/memory_limit.h"

int main(int argc, char** argv) {
  CLI::App app{"moesim: predicts how fast a Mixture-of-Experts model trains on a GPU cluster, and how much each "
               "token-routing strategy helps.\nRun with no arguments for the default comparison.",
               "moesim"};
  app.set_version_flag("--version", "moesim 0.1.0");
  moesim::cli::add_collective_command(app);
  moesim::cli::add_topo_command(app);
  moesim::cli::add_run_command(app);
  moesim::cli::add_compare_command(app);
  moesim::cli::add_strategies_command(app);
  moesim::cli::add_validate_command(app);
  moesim::cli::add_replay_command(app);
  moesim::cli::add_calibrate_command(app);
  moesim::cli::add_sweep_command(app);
  moesim::cli::add_merge_command(app);

  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    // The embedded default run (README's first command).
    args = moesim::cli::default_arguments();
    fmt::print(stderr, "moesim: no arguments: running the default `moesim {}`\n", fmt::join(args, " "));
  }
  std::reverse(args.begin(), args.end());  // CLI11 takes the vector reversed
  try {
    moesim::cli::apply_memory_limit();
    app.parse(args);
  } catch (const moesim::cli::ExitCode& e) {
    return e.code;
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  } catch (const moesim::Error& e) {
    fmt::print(stderr, "moesim: error: {}\n", e.what());
    return dynamic_cast<const moesim::InvariantError*>(&e) ? 3 : 1;
  } catch (const std::bad_alloc&) {
    fmt::print(stderr, "moesim: error: {}\n", moesim::cli::out_of_memory_message());
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "moesim: internal error: {}\n", e.what());
    return 3;
  }
  if (app.get_subcommands().empty()) {
    fmt::print(stderr, "{}", app.help());
    return 2;
  }
  return 0;
}
