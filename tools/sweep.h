#pragma once
// moesim sweep / moesim merge: a grid of training-step simulations (models/training_step.h),
// run in parallel, one simulation per point, streamed in point order to CSV or JSON lines.
// Pure logic without the CLI (tools/cmd_sweep.cpp and tools/cmd_merge.cpp are thin); every
// column and file rule is documented in docs/OUTPUTS.md ("Sweep").
//
// Grid. Axes are named lists of values; the points are their cartesian product in a fixed
// axis order (the first axis varies slowest):
//   cluster, nodes, gpus_per_node, nics_per_node, cluster/<JSON pointer>... (by name),
//   model, <model key>... (by name, e.g. num_experts, gating.params.exponent),
//   seed, strategy, strategy.<param>... (by name).
// cluster, model, seed and strategy are always axes (defaults p4d.24xlarge, switch-base-128,
// 1, all); the others only when given. The baseline strategy is moved to the front of the
// strategy axis, so a point's baseline (same values but the strategy) always comes earlier.
// Point i has stable indices (mixed radix of i, last axis fastest) and a key
// "axis=value;axis=value;..." that identifies it in the output. A comparison group is the
// block of consecutive points that differ only in strategy and strategy.* values.
//
// Output. One line per point, in point order, each line written whole by one write(2) on a
// file opened O_APPEND, so an interrupted sweep (Ctrl-C, kill, crash) leaves a prefix of the
// complete file, at worst plus one incomplete last line that --resume drops. Every row
// carries the grid's size and a hash of the whole grid description (axes, fixed overrides,
// cluster and model contents, cost factors), so resume and merge reject rows of another grid.
// A point that fails is a row with status "error" (a moesim input error, e.g. more GPUs than
// experts can be spread over) or "internal_error" (a broken invariant or another exception):
// the sweep goes on.
//
// Threads. Grid::run is const and thread-safe: each point builds its own Topology, model and
// engine; the embedded catalog and the cost factors are loaded once and shared read-only.
// The output is byte-identical whatever the number of jobs.
//
// Sharding. Shard K/N (1-based) runs the comparison groups g with g % N == K-1, so every
// shard can compute its speedups; merge_outputs joins the shard files (checking headers and
// grid, no point missing or doubled) into the file one unsharded sweep writes.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/model_config.h"
#include "models/training_step.h"
#include "sim/cost_factors.h"
#include "topologies/catalog.h"

namespace moesim::sweep {

// ---- Grid description --------------------------------------------------------------------

/// What the user asked for (command line or grid file), before validation.
struct GridSpec {
  /// Axis name -> values (JSON scalars; arrays and objects for model keys such as moe_layers).
  /// Names: cluster, nodes, gpus_per_node, nics_per_node, cluster/<JSON pointer into the
  /// cluster description>, model, seed, strategy (a value "all" expands to every strategy),
  /// strategy.<param>, or any model key apply_overrides accepts.
  std::vector<std::pair<std::string, std::vector<nlohmann::json>>> axes;
  /// Fixed overrides applied to every point: model keys and strategy.<param> (as --set).
  std::vector<std::pair<std::string, std::string>> fixed;
  std::string baseline = "switch";
  int distinct_layer_plans = 0;
  /// "flow" or "fluid" (TrainingStepOptions::fidelity).
  std::string fidelity = "flow";
  /// Cost factors: ideal, else the calibration file over the defaults, else the defaults.
  bool ideal = false;
  std::string calibration;
  /// Relative cluster and model file names resolve against this directory (a grid file's).
  std::string base_dir;
};

/// A grid file (strict JSON, docs/OUTPUTS.md "Grid files"); errors are ConfigErrors naming
/// the file and the JSON path.
GridSpec load_grid_file(const std::string& path);
GridSpec parse_grid(const nlohmann::json& root, const std::string& file_label);

/// A command-line list: "8,16,32", or "MIN:MAX" for powers of two times MIN (8:64 = 8,16,32,64).
/// Each item becomes a JSON number when it reads as one, else a string.
std::vector<nlohmann::json> parse_value_list(const std::string& text, const std::string& option);

enum class AxisKind : std::uint8_t {
  Cluster,
  Nodes,
  GpusPerNode,
  NicsPerNode,
  ClusterPointer,
  Model,
  ModelKey,
  Seed,
  Strategy,
  StrategyParam
};

struct AxisValue {
  std::string text;  // canonical text: numbers in shortest round-trip form, strings raw, else compact JSON
  std::string json;  // the JSON form (written in JSON lines)
};

struct Axis {
  std::string name;
  AxisKind kind = AxisKind::ModelKey;
  std::vector<AxisValue> values;
};

/// The result of one point.
struct PointResult {
  enum class Status : std::uint8_t { Ok, Error, InternalError };
  std::size_t point = 0;
  Status status = Status::Ok;
  std::string error;          // one line; empty when ok
  TrainingStepResult result;  // when ok
};
std::string_view to_string(PointResult::Status s);

/// A validated grid: presets, files and cost factors loaded once, shared by all points.
class Grid {
 public:
  /// Validates the spec (axis names and values, duplicates, strategy names, presets and files);
  /// InputError / ConfigError otherwise. Values that only fail in combination (an expert count
  /// that does not divide over the GPUs) are not errors here: those points fail when run.
  static Grid plan(const GridSpec& spec);

  std::size_t size() const { return size_; }
  const std::vector<Axis>& axes() const { return axes_; }
  /// Value index per axis of `point` (< size()).
  std::vector<std::size_t> indices(std::size_t point) const;
  /// "name=value;..." over every axis; '%', ';' and '=' in names and values are %-escaped.
  std::string key(std::size_t point) const;
  /// Points per comparison group (product of the strategy and strategy.* axis sizes).
  std::size_t group_size() const { return group_size_; }
  /// The point with the same values but the baseline strategy (<= point), if the baseline is
  /// in the strategy axis.
  std::optional<std::size_t> baseline_of(std::size_t point) const;
  const std::string& baseline() const { return baseline_; }
  /// 16 hex digits: FNV-1a 64 of the canonical grid description.
  const std::string& id() const { return id_; }

  /// Simulates one point. Thread-safe; never throws for a failing point (the failure is the
  /// result's status and error).
  PointResult run(std::size_t point) const;

 private:
  struct ClusterSource {
    std::string label;  // "preset NAME" or the path
    nlohmann::json description;
  };
  struct ModelSource {
    ModelConfig config;
  };

  std::vector<Axis> axes_;
  std::size_t size_ = 1;
  std::size_t group_size_ = 1;
  std::size_t strategy_axis_ = 0;
  std::size_t strategy_stride_ = 1;
  bool baseline_in_axis_ = false;
  std::string baseline_;
  std::vector<std::pair<std::string, std::string>> fixed_model_;
  std::vector<std::pair<std::string, std::string>> fixed_strategy_;
  int distinct_layer_plans_ = 0;
  Fidelity fidelity_ = Fidelity::Flow;
  ComputeEfficiency compute_ = ComputeEfficiency::defaults();  // the calibration's compute section
  std::vector<ClusterSource> clusters_;  // per value of the cluster axis
  std::vector<ModelSource> models_;      // per value of the model axis
  Catalog catalog_;
  CostFactors costs_;
  std::string id_;
};

// ---- Output rows -------------------------------------------------------------------------

enum class Format : std::uint8_t { Csv, Jsonl };

/// The columns after point, key and the axes, in order (docs/OUTPUTS.md).
std::vector<std::string> result_columns();
/// Every column, in order: point, key, the axes, then the result columns (docs/OUTPUTS.md).
std::vector<std::string> columns(const Grid& grid);
/// The CSV header line (with its newline).
std::string csv_header(const Grid& grid);
/// One output line (with its newline). `baseline_time_s`: the iteration time of the point's
/// baseline when it succeeded (speedup = baseline_time_s / iteration time).
std::string format_row(const Grid& grid, Format format, const PointResult& r, std::optional<double> baseline_time_s);
/// RFC 4180 field: quoted when it holds a comma, quote, CR or LF (quotes doubled).
std::string csv_field(std::string_view text);
/// Splits one CSV line (no newline) into fields; nullopt when malformed (unbalanced quotes).
std::optional<std::vector<std::string>> split_csv_line(std::string_view line);
/// The shortest text that reads back as the same double ("0.1", "1.5e-05").
std::string format_double(double v);

// ---- Running -----------------------------------------------------------------------------

/// Shard K of N (1-based).
struct Shard {
  std::size_t index = 1;
  std::size_t count = 1;
};
/// "K/N" with 1 <= K <= N; InputError otherwise.
Shard parse_shard(const std::string& text);
/// Points of the shard, in order: the comparison groups g with g % N == K-1.
std::size_t shard_point_count(const Grid& grid, Shard shard);
std::size_t shard_point(const Grid& grid, Shard shard, std::size_t j);

struct Progress {
  std::size_t done = 0;     // rows in the file (resumed ones included)
  std::size_t total = 0;    // points of this shard
  std::size_t resumed = 0;  // rows that were already in the file
  std::size_t failed = 0;   // error or internal_error rows written by this run
  double elapsed_s = 0;     // since this run started
  bool finished = false;    // last call
};

/// Progress on a stream: a one-line bar redrawn with '\r' (a terminal: done/total, points/s,
/// ETA) or a plain line every `line_interval_s` (a log file).
class ProgressPrinter {
 public:
  enum class Style : std::uint8_t { Bar, Lines };
  ProgressPrinter(std::FILE* out, Style style, double line_interval_s = 10.0)
      : out_(out), style_(style), interval_s_(line_interval_s) {}
  void operator()(const Progress& p);
  static std::string bar_text(const Progress& p, int width = 30);
  static std::string line_text(const Progress& p);

 private:
  std::FILE* out_;
  Style style_;
  double interval_s_;
  double last_s_ = -1;
  std::size_t width_ = 0;  // longest bar drawn (shorter ones are padded to clear it)
};

struct RunOptions {
  std::string output;  // file; empty = standard output (no resume)
  Format format = Format::Csv;
  unsigned jobs = 0;       // worker threads; 0 = std::thread::hardware_concurrency()
  bool resume = false;     // keep the rows already in `output` and run the rest
  bool overwrite = false;  // start `output` again (else an existing non-empty file is an error)
  Shard shard;
  bool fsync = false;                             // fsync after each write
  std::size_t max_points = 0;                     // start at most this many new points, then stop (0 = all)
  const std::atomic<bool>* stop = nullptr;        // set (e.g. by a signal handler): start no new point
  std::function<void(const Progress&)> progress;  // called by the writing thread
};

struct SweepSummary {
  std::size_t total = 0;                  // points in the grid
  std::size_t shard_points = 0;           // points of this shard
  std::size_t resumed = 0;                // rows already in the file
  std::size_t run = 0;                    // points simulated now
  std::size_t failed = 0;                 // of those: status error
  std::size_t internal_errors = 0;        // of those: status internal_error
  std::size_t dropped_partial_bytes = 0;  // an incomplete last line removed on resume
  bool complete = false;                  // every point of the shard is in the file
  bool stopped = false;                   // stopped by `stop` or max_points
  double wall_s = 0;
  double points_s = 0;      // sum of the wall times of the points simulated (busy = points_s / wall_s / jobs)
  unsigned jobs = 0;        // worker threads used
  std::string first_error;  // "point N (key): message" of the first failed row, if any
  /// Fluid all-to-alls across node kinds too large to replay, summed over the points run
  /// (TrainingStepResult::fluid_alltoalls_window_ignored).
  int fluid_alltoalls_window_ignored = 0;
};

/// Runs the shard's points not yet in the output with `jobs` threads, writing rows in point
/// order as soon as all earlier ones are written. Errors in files (unreadable output, a header
/// or grid that does not match on --resume) are InputErrors naming the file and line.
SweepSummary run_sweep(const Grid& grid, const RunOptions& options);

// ---- Merge -------------------------------------------------------------------------------

struct MergeSummary {
  std::size_t rows = 0;
  std::size_t files = 0;
  Format format = Format::Csv;
};

/// Joins shard files into `output` (written to "<output>.partial", then renamed): the same
/// format and CSV header, the same grid and size in every row, each point exactly once, all
/// points present; rows in point order, copied verbatim. InputError naming the file and line
/// otherwise (nothing is written then).
MergeSummary merge_outputs(const std::vector<std::string>& inputs, const std::string& output);

}  // namespace moesim::sweep
