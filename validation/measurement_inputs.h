#pragma once
// The measurement files `moesim calibrate --from` and `moesim validate --measurements` take:
// each is either a moesim-measurements JSON (validation/measurements.h) or an nccl-tests text
// log (validation/nccl_tests_log.h), told apart by content, and all are merged into one set
// that remembers which file every row came from.
//
// Detection: a file whose first non-blank character is '{' is read as JSON (strictly: a bad
// key is a ConfigError naming the file and JSON pointer); a file with an nccl-tests header or
// trailer line ("# nThread ...", "# Collective test starting", "# Avg bus bandwidth") is read
// as a log (LogFormatError "file:line: ..." on a truncated or malformed table); anything else
// is an InputError naming the file. A missing or unreadable file is an InputError naming it.
#include <map>
#include <span>
#include <string>
#include <tuple>
#include <string_view>
#include <vector>

#include "validation/measurements.h"
#include "validation/nccl_tests_log.h"

namespace moesim::validation {

enum class MeasurementFileKind { MeasurementsJson, NcclTestsLog };
std::string_view to_string(MeasurementFileKind k);  // "moesim-measurements", "nccl-tests log"

struct MeasurementFile {
  std::string path;
  MeasurementFileKind kind = MeasurementFileKind::MeasurementsJson;
  MeasurementSet set;
};

/// Every file as read, and their rows merged in file order. `*_file[i]` is the index in
/// `files` of merged row i.
struct MeasurementInputs {
  std::vector<MeasurementFile> files;
  MeasurementSet merged;  // hardware/source of the first file; notes prefixed with their file
  std::vector<int> collective_file;
  std::vector<int> gemm_file;
  std::vector<int> kernel_file;

  /// The file names, in order.
  std::vector<std::string> paths() const;
};

/// What `text` looks like; InputError naming `path` when it is neither kind.
MeasurementFileKind detect_measurement_file_kind(std::string_view text, const std::string& path);
/// `log_options` apply to nccl-tests logs (op / ranks of tables whose log does not say).
MeasurementFile read_measurement_file(const std::string& path, const NcclTestsImportOptions& log_options = {});
/// InputError when `paths` is empty.
MeasurementInputs read_measurement_files(std::span<const std::string> paths,
                                         const NcclTestsImportOptions& log_options = {});

/// Rows left out of a calibration or validation, counted per (file, what, why) in first-seen
/// order: "FILE: 28 alltoall rows (16 ranks on 2 nodes)<verb>: why".
class RowTally {
 public:
  void add(const std::string& file, const std::string& what, const std::string& why);
  /// One line per (file, what, why); `verb` follows "rows" (e.g. " skipped", or "").
  std::vector<std::string> lines(std::string_view verb = {}) const;

 private:
  struct Entry {
    std::string file, what, why;
    int count = 0;
  };
  std::map<std::tuple<std::string, std::string, std::string>, std::size_t> index_;
  std::vector<Entry> entries_;
};

}  // namespace moesim::validation
