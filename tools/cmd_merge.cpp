// moesim merge: joins the files of a sharded sweep (moesim sweep --shard K/N) into the file
// one unsharded sweep writes, checking that every point is there exactly once (tools/sweep.h,
// docs/OUTPUTS.md "Merging shards").
//   moesim merge SHARD_FILE... -o OUT [--overwrite]
#include <filesystem>
#include <memory>

#include <fmt/format.h>

#include "sim/error.h"
#include "tools/commands.h"
#include "tools/sweep.h"

namespace moesim::cli {

namespace {

struct MergeArgs {
  std::vector<std::string> inputs;
  std::string output;
  bool overwrite = false;
  bool quiet = false;
};

void run_merge(const MergeArgs& a) {
  std::error_code ec;
  if (std::filesystem::exists(a.output, ec) && !a.overwrite)
    throw InputError(fmt::format("{} exists: --overwrite replaces it", a.output));
  const auto s = sweep::merge_outputs(a.inputs, a.output);
  if (!a.quiet)
    fmt::print(stderr, "moesim merge: {} rows from {} files into {} ({})\n", s.rows, s.files, a.output,
               s.format == sweep::Format::Csv ? "CSV" : "JSON lines");
}

}  // namespace

void add_merge_command(CLI::App& app) {
  auto a = std::make_shared<MergeArgs>();
  auto* cmd = app.add_subcommand("merge",
                                 "Join the shard files of a sweep (--shard K/N) into one, in point order; checks that "
                                 "no point is missing or doubled");
  cmd->add_option("files", a->inputs, "Shard files (CSV or JSON lines, as moesim sweep wrote them)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("-o,--output", a->output, "The merged file")->required();
  cmd->add_flag("--overwrite", a->overwrite, "Replace --output if it exists");
  cmd->add_flag("-q,--quiet", a->quiet, "No summary on stderr");
  cmd->callback([a] { run_merge(*a); });
}

}  // namespace moesim::cli
