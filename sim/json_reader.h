#pragma once
// Strict JSON reading for every moesim configuration file (clusters, models, catalog,
// cost factors, calibration, measurements).
//
// DESIGN.md rule 6: unknown keys and out-of-range values are errors that name the file and
// the JSON path (RFC 6901 pointer, e.g. "/node_kinds/0/gpus_per_node") and the expected form.
// Documentation keys "source", "sources", "notes" and "$comment" are accepted anywhere.
//
// Usage:
//   auto root = JsonReader::parse_file(path);          // throws ConfigError on bad JSON
//   JsonReader r(root, path);                          // must be an object
//   int n = r.integer("gpus_per_node", {.min = 1, .max = 1024});
//   double bw = r.number("bandwidth_GBps", {.min = 0, .min_exclusive = true});
//   std::string kind = r.string_one_of("kind", {"nvswitch", "pcie_tree"});
//   for (JsonReader n : r.objects("nodes")) { ... n.finish(); }
//   r.finish();                                        // unknown keys -> ConfigError
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/error.h"

namespace moesim {

struct NumberRange {
  std::optional<double> min;
  std::optional<double> max;
  bool min_exclusive = false;  // true: value must be > min
};

class JsonReader {
 public:
  /// Reads and parses a file; a parse error names the file, line and column.
  static nlohmann::json parse_file(const std::string& path);
  /// Parses text; `file_label` names it in errors (e.g. "preset dgx-h100").
  static nlohmann::json parse_text(std::string_view text, const std::string& file_label);

  /// A reader over `value`, which must be a JSON object (else ConfigError at `path`).
  JsonReader(const nlohmann::json& value, std::string file, std::string path = "");

  const std::string& file() const { return file_; }
  const std::string& path() const { return path_; }
  /// "<path>/<key>" as a JSON pointer.
  std::string path_of(std::string_view key) const;
  const nlohmann::json& raw() const { return *value_; }

  bool has(std::string_view key) const;
  /// Marks a key as known without reading it (the caller reads raw()).
  void accept(std::string_view key);

  double number(std::string_view key, NumberRange range = {});
  double number_or(std::string_view key, double fallback, NumberRange range = {});
  std::int64_t integer(std::string_view key, NumberRange range = {});
  std::int64_t integer_or(std::string_view key, std::int64_t fallback, NumberRange range = {});
  bool boolean(std::string_view key);
  bool boolean_or(std::string_view key, bool fallback);
  std::string string(std::string_view key);
  std::string string_or(std::string_view key, std::string fallback);
  std::string string_one_of(std::string_view key, const std::vector<std::string>& allowed);
  std::string string_one_of_or(std::string_view key, const std::vector<std::string>& allowed,
                               std::string fallback);
  std::vector<double> numbers(std::string_view key, NumberRange range = {});

  JsonReader object(std::string_view key);
  std::optional<JsonReader> object_if(std::string_view key);
  /// Every element of the array at `key` must be an object.
  std::vector<JsonReader> objects(std::string_view key);
  /// Members of the object at `key` as (name, reader) pairs, in file order of nlohmann (sorted).
  std::vector<std::pair<std::string, JsonReader>> members(std::string_view key);

  /// Throws ConfigError if the object has a key nobody read or accepted.
  void finish() const;

  /// A ConfigError at this object's key.
  [[nodiscard]] ConfigError error(std::string_view key, const std::string& message) const;
  [[nodiscard]] ConfigError error_here(const std::string& message) const;

 private:
  const nlohmann::json& get(std::string_view key);
  void check_range(std::string_view key, double v, const NumberRange& range) const;

  const nlohmann::json* value_;
  std::string file_;
  std::string path_;
  std::set<std::string, std::less<>> seen_;
};

/// Escapes a key for a JSON pointer ("~" -> "~0", "/" -> "~1").
std::string json_pointer_escape(std::string_view key);

}  // namespace moesim
