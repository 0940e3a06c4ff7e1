#pragma once
// Importer of nccl-tests text output (https://github.com/NVIDIA/nccl-tests: all_reduce_perf,
// all_gather_perf, alltoall_perf, reduce_scatter_perf, sendrecv_perf, broadcast_perf,
// reduce_perf) into CollectiveMeasurements.
//
// Accepts logs as clusters produce them:
//  - launcher prefixes, stripped and used to keep interleaved processes apart:
//    `srun -l` ("0: ", "12: ") and Open MPI `--tag-output` ("[1,0]<stdout>:");
//  - NCCL_DEBUG=INFO/WARN/TRACE lines anywhere (ignored, except "NCCL version ...");
//  - the header ("# nThread 1 nGpus 1 ...", "#  Rank  0 Group  0 Pid ... on HOST device 0
//    [0x..] GPU NAME"): ranks = number of rank lines, nodes = distinct hosts;
//  - out-of-place and in-place column groups (both kept, flagged `in_place`), "N/A" cells
//    (an N/A time drops that group's measurement; an N/A #wrong leaves `wrong` unset), old
//    logs whose last column is "error" instead of "#wrong";
//  - the "# Out of bounds values" / "# Avg bus bandwidth" trailer, which closes a table;
//  - several tests in one file.
//
// Which collective a table measures is taken, in this order, from the log's
// "# Collective test starting: X_perf" line, from the last command line that names one test
// binary (e.g. "+ srun ./build/alltoall_perf -b 8 -e 1G"), from `options.op`, or from the
// data when only one collective fits (busbw/algbw = nccl-tests' factor for the rank count,
// root column >= 0 only for broadcast/reduce, redop "none" never for a reduction). When the
// op is known, the busbw/algbw ratio is still checked against it.
//
// Errors: a truncated table (no "# Avg bus bandwidth" trailer before the next test or the end
// of the file), a malformed row, an op or rank count that cannot be determined: LogFormatError
// with the file and the 1-based line number ("file:line: message").
//
// Cost: linear in the file size.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sim/error.h"
#include "validation/measurements.h"

namespace moesim::validation {

/// An nccl-tests log that cannot be read. what() = "<file>:<line>: <message>".
class LogFormatError : public InputError {
 public:
  LogFormatError(std::string file, int line, const std::string& message);
  const std::string& file() const { return file_; }
  int line() const { return line_; }

 private:
  std::string file_;
  int line_ = 0;
};

struct NcclTestsImportOptions {
  std::optional<CollectiveOp> op;  // for tables whose collective the log does not name
  std::optional<int> ranks;        // for tables with no "#  Rank" lines before them
  std::optional<int> nodes;        // likewise, for the node count
};

/// One imported table (one nccl-tests run).
struct NcclTestsTable {
  CollectiveOp op = CollectiveOp::AllReduce;
  std::string op_source;           // "collective-test line", "command line", "option", "data"
  int ranks = 0;
  std::optional<int> nodes;
  std::vector<std::string> hosts;  // distinct, in order of first rank
  std::string gpu_name;            // "" if no rank lines; "A + B" if mixed
  int header_line = 0;             // line of the "#  size  count ..." header
  int last_line = 0;               // line of the "# Avg bus bandwidth" trailer
  std::size_t measurements = 0;    // CollectiveMeasurements it produced
  std::optional<double> avg_busbw_GBps;  // the trailer's value
};

struct NcclTestsImport {
  /// collectives in file order; hardware.gpu_name / gpu_count / hostname / nccl_version as far
  /// as the log tells; source = {"nccl-tests[ version]", file}; notes for skipped tables
  /// (scatter_perf, gather_perf, hypercube_perf are recognised but not imported).
  MeasurementSet measurements;
  std::vector<NcclTestsTable> tables;
};

NcclTestsImport import_nccl_tests_log_file(const std::string& path, const NcclTestsImportOptions& options = {});
NcclTestsImport import_nccl_tests_log_text(std::string_view text, const std::string& label,
                                           const NcclTestsImportOptions& options = {});

}  // namespace moesim::validation
