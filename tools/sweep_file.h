#pragma once
// Reading a sweep output file back (resume and merge), line by line. Internal to
// tools/sweep_*.cpp; the format is in docs/OUTPUTS.md ("Sweep").
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sim/error.h"
#include "tools/sweep.h"

namespace moesim::sweep {

/// The fields of one row that resume and merge need, and its text (without the newline).
struct RowInfo {
  std::size_t line = 0;  // 1-based line number in the file; 0 = none yet
  std::string text;
  std::size_t point = 0;
  std::size_t points_total = 0;
  std::string key;
  std::string status;
  std::string grid;
  std::optional<double> iteration_time_s;
  std::vector<std::string> json_columns;  // JSON lines: the object's keys (sorted)
};

/// Streams the rows of a CSV (header, then rows) or JSON-lines file (format from its first
/// byte). Memory: one line at a time.
class OutputReader {
 public:
  explicit OutputReader(const std::string& path);

  bool empty() const { return empty_; }
  Format format() const { return format_; }
  /// CSV: the header line (without newline).
  const std::string& header() const { return header_; }
  /// The next row; false at the end of the file or at an incomplete last line. Malformed rows
  /// are InputErrors naming the file and line.
  bool next(RowInfo& row);
  /// After next() returned false (or, for a CSV header, after construction): whether the file
  /// ended with an incomplete line, its number, and the bytes of the complete lines before it
  /// (header included).
  bool partial_last_line() const { return partial_; }
  std::size_t partial_line() const { return partial_line_; }
  std::uint64_t complete_bytes() const { return complete_bytes_; }

  [[nodiscard]] InputError error(std::size_t line, const std::string& message) const;

 private:
  bool read_line(std::string& line);

  std::string path_;
  std::ifstream in_;
  bool empty_ = false;
  Format format_ = Format::Csv;
  std::string header_;
  std::vector<std::string> columns_;
  std::map<std::string, std::size_t, std::less<>> index_;
  std::size_t line_ = 0;
  bool partial_ = false;
  std::size_t partial_line_ = 0;
  std::uint64_t complete_bytes_ = 0;
};

}  // namespace moesim::sweep
