// moesim sweep: output rows (CSV, JSON lines), reading sweep files back, and merging shard
// files (tools/sweep.h, docs/OUTPUTS.md "Sweep").
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <queue>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "sim/error.h"
#include "sim/link.h"
#include "tools/sweep.h"
#include "tools/sweep_file.h"

namespace moesim::sweep {

namespace {

// A cell: its text in CSV, and its JSON text in JSON lines (nullopt = empty / null).
struct Cell {
  std::string name;
  std::optional<std::string> text;
  std::optional<std::string> json;  // when it differs from text (strings)
};

std::string json_string(std::string_view s) {
  return nlohmann::json(std::string(s)).dump();
}

}  // namespace

std::vector<std::string> result_columns() {
  std::vector<std::string> c = {"status",
                                "error",
                                "gpus",
                                "iteration_time_s",
                                "tokens_per_s",
                                "speedup",
                                "compute_s",
                                "dispatch_s",
                                "combine_s",
                                "allreduce_s",
                                "exposed_communication_s",
                                "inter_node_bytes_per_gpu",
                                "dropped_fraction",
                                "rerouted_fraction"};
  for (LinkClass k : kAllLinkClasses) c.push_back(fmt::format("util_{}", to_string(k)));
  for (const char* n : {"tasks", "flows", "points_total", "grid"}) c.emplace_back(n);
  return c;
}

std::vector<std::string> columns(const Grid& grid) {
  std::vector<std::string> c = {"point", "key"};
  for (const auto& a : grid.axes()) c.push_back(a.name);
  for (auto& r : result_columns()) c.push_back(std::move(r));
  return c;
}

std::string csv_field(std::string_view text) {
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(text);
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::optional<std::vector<std::string>> split_csv_line(std::string_view line) {
  std::vector<std::string> fields;
  std::size_t i = 0;
  while (true) {
    std::string f;
    if (i < line.size() && line[i] == '"') {
      ++i;
      while (true) {
        if (i >= line.size()) return std::nullopt;  // unterminated quote
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            f += '"';
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        f += line[i++];
      }
      if (i < line.size() && line[i] != ',') return std::nullopt;  // text after the closing quote
    } else {
      const auto comma = line.find(',', i);
      const auto end = comma == std::string_view::npos ? line.size() : comma;
      f.assign(line.substr(i, end - i));
      if (f.find('"') != std::string::npos) return std::nullopt;
      i = end;
    }
    fields.push_back(std::move(f));
    if (i >= line.size()) break;
    ++i;  // the comma
    if (i == line.size()) {
      fields.emplace_back();
      break;
    }
  }
  return fields;
}

std::string csv_header(const Grid& grid) {
  std::string out;
  const auto cols = columns(grid);
  for (std::size_t i = 0; i < cols.size(); ++i) {
    if (i) out += ',';
    out += csv_field(cols[i]);
  }
  out += '\n';
  return out;
}

std::string format_row(const Grid& grid, Format format, const PointResult& r, std::optional<double> baseline_time_s) {
  std::vector<Cell> cells;
  cells.reserve(grid.axes().size() + 30);
  const auto num = [](double v) -> std::optional<std::string> {
    if (!std::isfinite(v)) return std::nullopt;
    return format_double(v);
  };
  cells.push_back({"point", std::to_string(r.point), std::nullopt});
  const std::string key = grid.key(r.point);
  cells.push_back({"key", key, json_string(key)});
  const auto idx = grid.indices(r.point);
  for (std::size_t a = 0; a < grid.axes().size(); ++a) {
    const auto& v = grid.axes()[a].values[idx[a]];
    cells.push_back({grid.axes()[a].name, v.text, v.json});
  }
  const bool ok = r.status == PointResult::Status::Ok;
  const std::string status(to_string(r.status));
  cells.push_back({"status", status, json_string(status)});
  if (ok)
    cells.push_back({"error", std::nullopt, std::nullopt});
  else
    cells.push_back({"error", r.error, json_string(r.error)});
  const TrainingStepResult& t = r.result;
  auto add = [&](const char* name, std::optional<std::string> text) {
    cells.push_back({name, ok ? std::move(text) : std::nullopt, std::nullopt});
  };
  add("gpus", std::to_string(t.gpus));
  add("iteration_time_s", num(t.iteration_time_s));
  add("tokens_per_s", num(t.tokens_per_s));
  add("speedup", baseline_time_s && t.iteration_time_s > 0 ? num(*baseline_time_s / t.iteration_time_s) : std::nullopt);
  add("compute_s", num(t.breakdown.compute_s));
  add("dispatch_s", num(t.breakdown.dispatch_s));
  add("combine_s", num(t.breakdown.combine_s));
  add("allreduce_s", num(t.breakdown.allreduce_s));
  add("exposed_communication_s", num(t.breakdown.exposed_communication_s));
  add("inter_node_bytes_per_gpu", num(t.inter_node_bytes_per_gpu));
  add("dropped_fraction", num(t.dropped_fraction));
  add("rerouted_fraction", num(t.rerouted_fraction));
  for (LinkClass k : kAllLinkClasses) {
    const auto it = t.link_utilization.find(std::string(to_string(k)));
    cells.push_back({fmt::format("util_{}", to_string(k)),
                     ok && it != t.link_utilization.end() ? num(it->second) : std::nullopt, std::nullopt});
  }
  add("tasks", std::to_string(t.tasks));
  add("flows", std::to_string(t.flows));
  cells.push_back({"points_total", std::to_string(grid.size()), std::nullopt});
  cells.push_back({"grid", grid.id(), json_string(grid.id())});

  std::string out;
  if (format == Format::Csv) {
    for (std::size_t i = 0; i < cells.size(); ++i) {
      if (i) out += ',';
      if (cells[i].text) out += csv_field(*cells[i].text);
    }
  } else {
    out += '{';
    for (std::size_t i = 0; i < cells.size(); ++i) {
      if (i) out += ',';
      out += json_string(cells[i].name);
      out += ':';
      if (!cells[i].text)
        out += "null";
      else
        out += cells[i].json ? *cells[i].json : *cells[i].text;
    }
    out += '}';
  }
  out += '\n';
  return out;
}

// ---- reading sweep files ------------------------------------------------------------------

OutputReader::OutputReader(const std::string& path) : path_(path), in_(path, std::ios::binary) {
  if (!in_) throw InputError(fmt::format("{}: cannot open", path));
  const int c = in_.peek();
  if (c == std::char_traits<char>::eof()) {
    empty_ = true;
    return;
  }
  format_ = c == '{' ? Format::Jsonl : Format::Csv;
  if (format_ == Format::Csv) {
    std::string line;
    if (!read_line(line)) return;  // an incomplete header: partial_last_line(), no rows
    header_ = line;
    const auto cols = split_csv_line(line);
    if (!cols) throw error(1, "the header is not a CSV line");
    columns_ = *cols;
    for (const char* need : {"point", "key", "status", "iteration_time_s", "points_total", "grid"}) {
      const auto it = std::find(columns_.begin(), columns_.end(), need);
      if (it == columns_.end()) throw error(1, fmt::format("not a moesim sweep file: no column \"{}\"", need));
      index_[need] = static_cast<std::size_t>(it - columns_.begin());
    }
  }
}

InputError OutputReader::error(std::size_t line, const std::string& message) const {
  return InputError(fmt::format("{}:{}: {}", path_, line, message));
}

// One line without its newline; false at the end or for an incomplete last line (then
// partial_last_line() is true).
bool OutputReader::read_line(std::string& line) {
  if (!std::getline(in_, line)) return false;
  ++line_;
  if (in_.eof()) {  // no newline after it: an interrupted write
    partial_ = true;
    partial_line_ = line_;
    return false;
  }
  complete_bytes_ += line.size() + 1;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return true;
}

bool OutputReader::next(RowInfo& row) {
  if (empty_ || partial_) return false;
  std::string line;
  while (true) {
    if (!read_line(line)) return false;
    if (!line.empty()) break;
    throw error(line_, "empty line");
  }
  row = RowInfo{};
  row.line = line_;
  row.text = line;
  auto read_index = [&](const std::string& text, const char* what) -> std::size_t {
    char* end = nullptr;
    const unsigned long long v = std::strtoull(text.c_str(), &end, 10);
    if (text.empty() || text.front() == '-' || end != text.c_str() + text.size())
      throw error(line_, fmt::format("{} \"{}\" is not an integer >= 0", what, text));
    return v;
  };
  if (format_ == Format::Csv) {
    const auto fields = split_csv_line(line);
    if (!fields) throw error(line_, "not a CSV line (unbalanced quotes)");
    if (fields->size() != columns_.size())
      throw error(line_, fmt::format("{} fields, the header has {}", fields->size(), columns_.size()));
    const auto get = [&](const char* name) -> const std::string& { return (*fields)[index_.at(name)]; };
    row.point = read_index(get("point"), "point");
    row.points_total = read_index(get("points_total"), "points_total");
    row.key = get("key");
    row.status = get("status");
    row.grid = get("grid");
    if (!get("iteration_time_s").empty()) row.iteration_time_s = std::strtod(get("iteration_time_s").c_str(), nullptr);
  } else {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) throw error(line_, "not a JSON object");
    auto str = [&](const char* name) -> std::string {
      if (!j.contains(name) || !j[name].is_string()) throw error(line_, fmt::format("no string \"{}\"", name));
      return j[name].get<std::string>();
    };
    auto idx = [&](const char* name) -> std::size_t {
      if (!j.contains(name) || !j[name].is_number_unsigned())
        throw error(line_, fmt::format("no integer \"{}\"", name));
      return j[name].get<std::size_t>();
    };
    row.point = idx("point");
    row.points_total = idx("points_total");
    row.key = str("key");
    row.status = str("status");
    row.grid = str("grid");
    if (j.contains("iteration_time_s") && j["iteration_time_s"].is_number())
      row.iteration_time_s = j["iteration_time_s"].get<double>();
    row.json_columns.reserve(j.size());
    for (auto it = j.begin(); it != j.end(); ++it) row.json_columns.push_back(it.key());
  }
  return true;
}

// ---- merge --------------------------------------------------------------------------------

MergeSummary merge_outputs(const std::vector<std::string>& inputs, const std::string& output) {
  if (inputs.empty()) throw InputError("merge: no input files");
  std::error_code ec;
  for (const auto& in : inputs)
    if (std::filesystem::exists(output, ec) && std::filesystem::equivalent(in, output, ec))
      throw InputError(fmt::format("merge: the output {} is also an input", output));

  std::vector<std::unique_ptr<OutputReader>> readers;
  std::optional<Format> format;
  std::size_t csv_first = inputs.size();
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    readers.push_back(std::make_unique<OutputReader>(inputs[i]));
    const auto& r = *readers.back();
    if (r.empty()) continue;
    if (r.partial_last_line())
      throw InputError(
          fmt::format("{}:1: the header line is incomplete (its sweep was interrupted at once): run that shard "
                      "again with --overwrite",
                      inputs[i]));
    if (format && *format != r.format())
      throw InputError(fmt::format("{}: {} but {} is {}", inputs[i], r.format() == Format::Csv ? "CSV" : "JSON lines",
                                   inputs[csv_first < inputs.size() ? csv_first : 0],
                                   *format == Format::Csv ? "CSV" : "JSON lines"));
    if (!format) {
      format = r.format();
      csv_first = i;
    } else if (r.format() == Format::Csv && r.header() != readers[csv_first]->header()) {
      throw InputError(fmt::format("{}:1: the header differs from {}'s: the files are not shards of one sweep",
                                   inputs[i], inputs[csv_first]));
    }
  }
  if (!format) throw InputError("merge: every input file is empty");

  struct Head {
    std::size_t point;
    std::size_t reader;
    bool operator>(const Head& o) const { return point != o.point ? point > o.point : reader > o.reader; }
  };
  std::vector<RowInfo> current(readers.size());
  std::priority_queue<Head, std::vector<Head>, std::greater<>> heap;
  std::optional<std::string> grid;
  std::optional<std::size_t> total;
  std::string grid_from;
  auto advance = [&](std::size_t i) {
    const std::size_t before = current[i].line ? current[i].point : 0;
    const bool had = current[i].line != 0;
    if (!readers[i]->next(current[i])) {
      if (readers[i]->partial_last_line())
        throw InputError(
            fmt::format("{}:{}: the last line is incomplete (its sweep was interrupted): run that shard again "
                        "with --resume, then merge",
                        inputs[i], readers[i]->partial_line()));
      return;
    }
    const RowInfo& row = current[i];
    const std::string where = fmt::format("{}:{}", inputs[i], row.line);
    if (!grid) {
      grid = row.grid;
      total = row.points_total;
      grid_from = where;
    } else if (row.grid != *grid || row.points_total != *total) {
      throw InputError(
          fmt::format("{}: grid {} with {} points, but {} has grid {} with {} points: the files are not shards "
                      "of one sweep",
                      where, row.grid, row.points_total, grid_from, *grid, *total));
    }
    if (row.point >= row.points_total)
      throw InputError(fmt::format("{}: point {} is outside the grid's {} points", where, row.point, row.points_total));
    if (had && row.point <= before)
      throw InputError(
          fmt::format("{}: point {} after point {}: the file is not in point order (not written by moesim sweep)",
                      where, row.point, before));
    heap.push({row.point, i});
  };
  for (std::size_t i = 0; i < readers.size(); ++i) advance(i);

  const std::string partial = output + ".partial";
  std::FILE* out = std::fopen(partial.c_str(), "wb");
  if (!out) throw InputError(fmt::format("{}: cannot open for writing", partial));
  MergeSummary summary{.rows = 0, .files = inputs.size(), .format = *format};
  try {
    if (*format == Format::Csv) fmt::print(out, "{}\n", readers[csv_first]->header());
    std::size_t next = 0;
    std::vector<std::size_t> missing;
    std::size_t missing_count = 0;
    std::string last_where;
    auto note_missing = [&](std::size_t from, std::size_t to) {
      for (std::size_t p = from; p < to; ++p) {
        if (missing.size() < 10) missing.push_back(p);
        ++missing_count;
      }
    };
    while (!heap.empty()) {
      const Head h = heap.top();
      heap.pop();
      const RowInfo& row = current[h.reader];
      const std::string where = fmt::format("{}:{}", inputs[h.reader], row.line);
      if (h.point < next)
        throw InputError(fmt::format("{}: point {} is doubled: also at {}", where, h.point, last_where));
      note_missing(next, h.point);
      if (std::fwrite(row.text.data(), 1, row.text.size(), out) != row.text.size() || std::fputc('\n', out) == EOF)
        throw InputError(fmt::format("{}: write failed", partial));
      ++summary.rows;
      next = h.point + 1;
      last_where = where;
      advance(h.reader);
    }
    if (total) note_missing(next, *total);
    if (missing_count > 0) {
      std::vector<std::string> shown;
      for (auto p : missing) shown.push_back(std::to_string(p));
      throw InputError(fmt::format(
          "merge: {} of the grid's {} points are in no file (points {}{}): run the shards that hold "
          "them (--resume continues an interrupted one), then merge again",
          missing_count, total.value_or(0), fmt::join(shown, ", "), missing_count > shown.size() ? ", ..." : ""));
    }
    if (std::fclose(out) != 0) {
      out = nullptr;
      throw InputError(fmt::format("{}: write failed", partial));
    }
    out = nullptr;
    std::filesystem::rename(partial, output);
  } catch (...) {
    if (out) std::fclose(out);
    std::remove(partial.c_str());
    throw;
  }
  return summary;
}

}  // namespace moesim::sweep
