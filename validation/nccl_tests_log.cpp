#include "validation/nccl_tests_log.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace moesim::validation {

LogFormatError::LogFormatError(std::string file, int line, const std::string& message)
    : InputError(fmt::format("{}:{}: {}", file, line, message)), file_(std::move(file)), line_(line) {}

namespace {

// ---------------------------------------------------------------------------------------------
// Small text helpers.

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_word(char c) { return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> tokens(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && is_space(s[i])) ++i;
    const std::size_t b = i;
    while (i < s.size() && !is_space(s[i])) ++i;
    if (i > b) out.push_back(s.substr(b, i - b));
  }
  return out;
}

std::optional<std::int64_t> parse_int(std::string_view s) {
  std::int64_t v = 0;
  const auto* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, v);
  if (ec != std::errc() || p != end) return std::nullopt;
  return v;
}

std::optional<double> parse_double(std::string_view s) {
  // std::from_chars for double is in GCC 11+; accept what nccl-tests prints (fixed or exponent).
  double v = 0;
  const auto* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, v);
  if (ec != std::errc() || p != end || !std::isfinite(v)) return std::nullopt;
  return v;
}

bool is_na(std::string_view s) { return s == "N/A" || s == "n/a"; }

// ---------------------------------------------------------------------------------------------
// Launcher prefixes. Returns the line without them and a stream key ("" = unprefixed).

struct Stripped {
  std::string_view text;
  std::string stream;
};

Stripped strip_prefixes(std::string_view line) {
  Stripped out{line, ""};
  for (bool again = true; again;) {
    again = false;
    const std::string_view s = out.text;
    std::size_t i = 0;
    while (i < s.size() && s[i] == ' ') ++i;
    // srun -l: "<digits>: " (task ids are right-aligned with spaces when there are many).
    std::size_t j = i;
    while (j < s.size() && is_digit(s[j])) ++j;
    if (j > i && j < s.size() && s[j] == ':' && (j + 1 == s.size() || s[j + 1] == ' ')) {
      out.stream += fmt::format("task{}|", s.substr(i, j - i));
      out.text = s.substr(std::min(j + 2, s.size()));
      again = true;
      continue;
    }
    // Open MPI --tag-output: "[<jobid>,<rank>]<stdout>:" (or <stderr>, <stddiag>).
    if (i < s.size() && s[i] == '[') {
      const auto close = s.find(']', i);
      if (close == std::string_view::npos) continue;
      const auto inner = s.substr(i + 1, close - i - 1);
      const auto comma = inner.find(',');
      if (comma == std::string_view::npos || !parse_int(inner.substr(0, comma)) || !parse_int(inner.substr(comma + 1)))
        continue;
      const auto rest = s.substr(close + 1);
      for (std::string_view tag : {"<stdout>:", "<stderr>:", "<stddiag>:"}) {
        if (!rest.starts_with(tag)) continue;
        out.stream += fmt::format("mpi{}|", inner);
        out.text = rest.substr(tag.size());
        if (!out.text.empty() && out.text.front() == ' ') out.text.remove_prefix(1);
        again = true;
        break;
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Test binaries.

struct TestName {
  std::optional<CollectiveOp> op;  // nullopt: a test moesim does not import
  std::string binary;
  std::string source;              // how the log named it
};

std::optional<TestName> test_from_binary(std::string_view word) {
  if (word.ends_with("_mpi")) word.remove_suffix(4);
  static const std::map<std::string, std::optional<CollectiveOp>, std::less<>> known = {
      {"all_reduce_perf", CollectiveOp::AllReduce},
      {"all_gather_perf", CollectiveOp::AllGather},
      {"alltoall_perf", CollectiveOp::AllToAll},
      {"all_to_all_perf", CollectiveOp::AllToAll},
      {"reduce_scatter_perf", CollectiveOp::ReduceScatter},
      {"sendrecv_perf", CollectiveOp::SendRecv},
      {"broadcast_perf", CollectiveOp::Broadcast},
      {"reduce_perf", CollectiveOp::Reduce},
      {"scatter_perf", std::nullopt},
      {"gather_perf", std::nullopt},
      {"hypercube_perf", std::nullopt},
  };
  auto it = known.find(word);
  if (it == known.end()) return std::nullopt;
  return TestName{it->second, std::string(word), ""};
}

/// The one nccl-tests binary a line names (nullopt if none or several different ones).
std::optional<TestName> test_named_in(std::string_view line) {
  std::optional<TestName> found;
  std::size_t pos = 0;
  while ((pos = line.find("_perf", pos)) != std::string_view::npos) {
    std::size_t b = pos, e = pos + 5;
    while (b > 0 && is_word(line[b - 1])) --b;
    while (e < line.size() && is_word(line[e])) ++e;
    pos = e;
    auto t = test_from_binary(line.substr(b, e - b));
    if (!t) continue;
    if (found && found->binary != t->binary) return std::nullopt;  // e.g. a shell loop over tests
    found = t;
  }
  return found;
}

// ---------------------------------------------------------------------------------------------
// Parse state.

struct RankInfo {
  std::string host;
  std::string gpu;
};

struct Block {
  std::optional<TestName> test;
  std::map<int, RankInfo> ranks;
};

struct Cell {
  bool present = false;  // false: the group's time was N/A
  double time_us = 0;
  double algbw = 0;
  double busbw = 0;
  std::optional<std::int64_t> wrong;
};

struct Row {
  int line = 0;
  std::int64_t size = 0;
  std::int64_t count = 0;
  std::string type;
  std::string redop = "none";
  std::optional<int> root;
  std::vector<Cell> cells;  // one per column group
};

struct Table {
  int header_line = 0;
  std::size_t columns = 0;          // tokens per data row
  bool has_redop = false;
  bool has_root = false;
  std::vector<bool> group_in_place;
  std::vector<bool> group_counts_wrong;  // "#wrong" column (else the old "error" column)
  std::vector<Row> rows;
};

struct Stream {
  std::optional<TestName> pending_marker;  // "# Collective test starting: ..."
  std::optional<Block> block;
  std::optional<Table> table;
  std::vector<bool> place_labels;          // from the "out-of-place  in-place" line
  int last_line = 0;
};

struct Echo {
  TestName test;
  std::set<std::string> used_by;  // streams whose table already took it
};

class Parser {
 public:
  /// `last_content_line`: the last non-blank line, so a short row there reads as truncation.
  Parser(std::string file, const NcclTestsImportOptions& options, int last_content_line)
      : file_(std::move(file)), options_(options), last_content_line_(last_content_line) {}

  void line(int number, std::string_view raw) {
    if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
    auto [text, key] = strip_prefixes(raw);
    const auto t = trim(text);
    last_line_ = number;
    if (t.empty()) return;
    if (t.find("NCCL INFO") != std::string_view::npos || t.find("NCCL WARN") != std::string_view::npos ||
        t.find("NCCL TRACE") != std::string_view::npos) {
      note_nccl_version(t);
      return;
    }
    Stream& s = streams_[key];
    s.last_line = number;
    if (t.front() == '#') {
      comment(number, t.substr(1), s, key);
    } else if (s.table && is_digit(t.front())) {
      data_row(number, t, s);
    } else if (auto test = test_named_in(t)) {
      test->source = "command line";
      echo_ = Echo{*test, {}};
    }
  }

  NcclTestsImport finish() {
    for (auto& [key, s] : streams_) {
      if (s.table)
        throw error(s.last_line, fmt::format("the table that starts at line {} has no \"# Avg bus bandwidth\" "
                                             "trailer: the log is truncated (test aborted or file cut short)",
                                             s.table->header_line));
    }
    if (result_.tables.empty() && result_.measurements.notes.empty())
      throw error(last_line_, "no nccl-tests result table found (expected a \"#  size  count  type ...\" header)");
    auto& hw = result_.measurements.hardware;
    hw.gpu_name = fmt::format("{}", fmt::join(gpu_names_, " + "));
    hw.hostname = fmt::format("{}", fmt::join(hosts_, ","));
    hw.gpu_count = max_ranks_;
    hw.nccl_version = nccl_version_;
    result_.measurements.source.tool = tests_version_.empty() ? "nccl-tests" : "nccl-tests " + tests_version_;
    result_.measurements.source.file = file_;
    return std::move(result_);
  }

 private:
  LogFormatError error(int line, const std::string& message) const { return LogFormatError(file_, line, message); }

  void note_nccl_version(std::string_view t) {
    // "host:pid:tid [0] NCCL INFO NCCL version 2.18.5+cuda12.2"
    const auto p = t.find("NCCL version ");
    if (p == std::string_view::npos || !nccl_version_.empty()) return;
    const auto v = tokens(t.substr(p + 13));
    if (!v.empty()) nccl_version_ = std::string(v.front());
  }

  std::optional<TestName> take_echo(const std::string& key) {
    if (!echo_ || echo_->used_by.contains(key)) return std::nullopt;
    echo_->used_by.insert(key);
    return echo_->test;
  }

  void start_block(Stream& s, const std::string& key) {
    s.block = Block{};
    if (s.pending_marker) {
      s.block->test = std::move(s.pending_marker);
      s.pending_marker.reset();
      take_echo(key);  // the echo that launched this test, if any, is consumed too
    } else {
      s.block->test = take_echo(key);
    }
  }

  void comment(int number, std::string_view body, Stream& s, const std::string& key) {
    const auto b = trim(body);
    const auto tk = tokens(b);
    if (b.starts_with("Collective test starting:")) {
      if (s.table) truncated_before(number, s);
      auto t = tk.size() >= 4 ? test_from_binary(tk[3]) : std::nullopt;
      if (t) {
        t->source = "collective-test line";
        s.pending_marker = t;
      }
      return;
    }
    if (b.starts_with("nccl-tests version")) {
      // "# nccl-tests version 2.17.1 nccl-headers=22807 nccl-library=22807"
      if (tk.size() >= 3) tests_version_ = std::string(tk[2]);
      for (auto x : tk)
        if (x.starts_with("nccl-library=") && nccl_version_.empty())
          if (auto code = parse_int(x.substr(13)); code && *code >= 20900)
            nccl_version_ = fmt::format("{}.{}.{}", *code / 10000, (*code / 100) % 100, *code % 100);
      return;
    }
    if (b.starts_with("nThread")) {
      if (s.table) truncated_before(number, s);
      start_block(s, key);
      return;
    }
    if (!tk.empty() && tk[0] == "Rank" && tk.size() >= 2 && parse_int(tk[1])) {
      if (s.table) truncated_before(number, s);
      rank_line(number, tk, s, key);
      return;
    }
    if (!tk.empty() && tk[0] == "size") {
      if (s.table) truncated_before(number, s);
      header(number, tk, s, key);
      return;
    }
    if (b.starts_with("Avg bus bandwidth")) {
      if (!s.table) throw error(number, "\"# Avg bus bandwidth\" with no result table before it");
      std::optional<double> avg;
      if (auto colon = b.find(':'); colon != std::string_view::npos) {
        const auto v = tokens(b.substr(colon + 1));
        if (!v.empty()) avg = parse_double(v.front());
      }
      close_table(number, s, avg);
      return;
    }
    if (std::find(tk.begin(), tk.end(), "out-of-place") != tk.end() ||
        std::find(tk.begin(), tk.end(), "in-place") != tk.end()) {
      s.place_labels.clear();
      for (auto x : tk) {
        if (x == "out-of-place") s.place_labels.push_back(false);
        if (x == "in-place") s.place_labels.push_back(true);
      }
    }
    // Anything else ("# Using devices", units line, "# Out of bounds values", "#") is ignored.
  }

  [[noreturn]] void truncated_before(int number, const Stream& s) const {
    throw error(number, fmt::format("a new test starts here but the table that starts at line {} has no "
                                    "\"# Avg bus bandwidth\" trailer: the log is truncated (test aborted?)",
                                    s.table->header_line));
  }

  void rank_line(int number, const std::vector<std::string_view>& tk, Stream& s, const std::string& key) {
    // "Rank  0 Group  0 Pid 1234 on host-1 device  0 [0x1b] NVIDIA H100 80GB HBM3"
    if (!s.block) start_block(s, key);
    const int rank = static_cast<int>(*parse_int(tk[1]));
    RankInfo info;
    std::size_t i = 2;
    while (i < tk.size() && tk[i] != "on") ++i;
    if (i + 1 >= tk.size())
      throw error(number, "cannot read this rank line: expected \"Rank <r> ... on <host> device <d> ...\"");
    info.host = std::string(tk[i + 1]);
    while (i < tk.size() && tk[i] != "device") ++i;
    i += 2;  // "device", index
    if (i < tk.size() && tk[i].starts_with("[")) {
      while (i < tk.size() && !tk[i].ends_with("]")) ++i;
      ++i;
    }
    std::vector<std::string_view> name(tk.begin() + static_cast<std::ptrdiff_t>(std::min(i, tk.size())), tk.end());
    info.gpu = fmt::format("{}", fmt::join(name, " "));
    if (!s.block->ranks.emplace(rank, std::move(info)).second)
      throw error(number, fmt::format("rank {} is listed twice in this test's header", rank));
  }

  void header(int number, const std::vector<std::string_view>& tk, Stream& s, const std::string& key) {
    if (!s.block) start_block(s, key);
    Table t;
    t.header_line = number;
    t.columns = tk.size();
    std::size_t i = 0;
    const std::vector<std::string_view> keys_required = {"size", "count", "type"};
    for (auto k : keys_required) {
      if (i >= tk.size() || tk[i] != k)
        throw error(number, fmt::format("unrecognised table header: expected column \"{}\" at position {}", k, i + 1));
      ++i;
    }
    if (i < tk.size() && tk[i] == "redop") { t.has_redop = true; ++i; }
    if (i < tk.size() && tk[i] == "root") { t.has_root = true; ++i; }
    while (i < tk.size()) {
      if (i + 4 > tk.size() || tk[i] != "time" || tk[i + 1] != "algbw" || tk[i + 2] != "busbw" ||
          (tk[i + 3] != "#wrong" && tk[i + 3] != "error"))
        throw error(number, fmt::format("unrecognised table header at column {} (\"{}\"): expected groups of "
                                        "\"time algbw busbw #wrong\"", i + 1, tk[i]));
      t.group_counts_wrong.push_back(tk[i + 3] == "#wrong");
      i += 4;
    }
    if (t.group_counts_wrong.empty()) throw error(number, "table header has no \"time algbw busbw\" columns");
    const auto groups = t.group_counts_wrong.size();
    if (groups > 2) throw error(number, fmt::format("table header has {} column groups; nccl-tests prints 1 or 2", groups));
    if (s.place_labels.size() == groups) {
      t.group_in_place = s.place_labels;
    } else {
      for (std::size_t g = 0; g < groups; ++g) t.group_in_place.push_back(g == 1);
    }
    s.place_labels.clear();
    s.table = std::move(t);
  }

  void data_row(int number, std::string_view text, Stream& s) {
    Table& t = *s.table;
    const auto tk = tokens(text);
    if (tk.size() != t.columns) {
      const bool at_end = number >= last_content_line_;
      throw error(number, fmt::format("result row has {} columns, the table header at line {} has {}{}", tk.size(),
                                      t.header_line, t.columns,
                                      at_end ? " (the file ends here: truncated?)" : ""));
    }
    Row r;
    r.line = number;
    std::size_t i = 0;
    auto need_int = [&](std::string_view what) {
      auto v = parse_int(tk[i]);
      if (!v || *v < (what == "root" ? -1 : 0))
        throw error(number, fmt::format("column {} ({}): \"{}\" is not a valid value", i + 1, what, tk[i]));
      ++i;
      return *v;
    };
    r.size = need_int("size");
    r.count = need_int("count");
    r.type = std::string(tk[i++]);
    if (t.has_redop) r.redop = std::string(tk[i++]);
    if (t.has_root) r.root = static_cast<int>(need_int("root"));
    for (std::size_t g = 0; g < t.group_counts_wrong.size(); ++g) {
      Cell c;
      auto number_or_na = [&](std::string_view what) -> std::optional<double> {
        const auto cell = tk[i++];
        if (is_na(cell)) return std::nullopt;
        auto v = parse_double(cell);
        if (!v || *v < 0)
          throw error(number, fmt::format("column {} ({}): \"{}\" is not a number or N/A", i, what, cell));
        return v;
      };
      const auto time = number_or_na("time");
      const auto algbw = number_or_na("algbw");
      const auto busbw = number_or_na("busbw");
      const auto wrong_cell = tk[i++];
      if (t.group_counts_wrong[g] && !is_na(wrong_cell)) {
        auto w = parse_int(wrong_cell);
        if (!w || *w < 0)
          throw error(number, fmt::format("column {} (#wrong): \"{}\" is not a count or N/A", i, wrong_cell));
        c.wrong = *w;
      }
      if (time && algbw && busbw) {
        c.present = true;
        c.time_us = *time;
        c.algbw = *algbw;
        c.busbw = *busbw;
      } else if (time && (!algbw || !busbw)) {
        throw error(number, fmt::format("column group {} has a time but N/A bandwidth", g + 1));
      }
      r.cells.push_back(c);
    }
    t.rows.push_back(std::move(r));
  }

  /// Is `busbw = factor * algbw` within what printing both with two decimals allows (+1%)?
  static bool ratio_fits(double factor, const Cell& c) {
    return std::abs(c.busbw - factor * c.algbw) <= 0.005 * (1 + factor) + 0.01 * factor * c.algbw + 1e-12;
  }

  /// The first row (line) whose busbw/algbw contradicts `op` at `ranks`, if any.
  static std::optional<int> ratio_mismatch(const Table& t, CollectiveOp op, int ranks) {
    const double f = busbw_factor(op, ranks);
    for (const auto& r : t.rows)
      for (const auto& c : r.cells)
        if (c.present && !ratio_fits(f, c)) return r.line;
    return std::nullopt;
  }

  std::vector<CollectiveOp> candidates(const Table& t, int ranks) const {
    std::vector<CollectiveOp> out;
    for (auto op : kAllCollectiveOps) {
      if (ratio_mismatch(t, op, ranks)) continue;
      const bool rooted = op == CollectiveOp::Broadcast || op == CollectiveOp::Reduce;
      const bool reduces = op == CollectiveOp::AllReduce || op == CollectiveOp::ReduceScatter || op == CollectiveOp::Reduce;
      bool ok = true;
      for (const auto& r : t.rows) {
        if (r.root && (*r.root >= 0) != rooted) ok = false;
        if (t.has_redop && reduces && r.redop == "none") ok = false;
      }
      if (ok) out.push_back(op);
    }
    return out;
  }

  void close_table(int number, Stream& s, std::optional<double> avg) {
    Table t = std::move(*s.table);
    s.table.reset();
    Block block = s.block ? std::move(*s.block) : Block{};
    s.block.reset();

    if (block.test && !block.test->op) {
      result_.measurements.notes.push_back(fmt::format("{}: lines {}-{}: skipped a {} table (not a collective moesim "
                                                       "imports)", file_, t.header_line, number, block.test->binary));
      return;
    }

    NcclTestsTable info;
    info.header_line = t.header_line;
    info.last_line = number;
    info.avg_busbw_GBps = avg;

    // Ranks and nodes.
    if (!block.ranks.empty()) {
      info.ranks = static_cast<int>(block.ranks.size());
      if (block.ranks.rbegin()->first != info.ranks - 1 || block.ranks.begin()->first != 0)
        throw error(t.header_line, fmt::format("the rank lines before this table list {} ranks numbered {}..{}: "
                                               "expected 0..{}", info.ranks, block.ranks.begin()->first,
                                               block.ranks.rbegin()->first, info.ranks - 1));
      std::set<std::string> gpu_set;
      std::vector<std::string> gpus;
      for (const auto& [rank, ri] : block.ranks) {
        if (std::find(info.hosts.begin(), info.hosts.end(), ri.host) == info.hosts.end()) info.hosts.push_back(ri.host);
        if (!ri.gpu.empty() && gpu_set.insert(ri.gpu).second) gpus.push_back(ri.gpu);
      }
      info.nodes = static_cast<int>(info.hosts.size());
      info.gpu_name = fmt::format("{}", fmt::join(gpus, " + "));
      for (const auto& g : gpus)
        if (std::find(gpu_names_.begin(), gpu_names_.end(), g) == gpu_names_.end()) gpu_names_.push_back(g);
      for (const auto& h : info.hosts)
        if (std::find(hosts_.begin(), hosts_.end(), h) == hosts_.end()) hosts_.push_back(h);
    } else if (options_.ranks) {
      info.ranks = *options_.ranks;
      info.nodes = options_.nodes;
    } else {
      throw error(t.header_line, "no \"#  Rank ...\" lines before this table, so the number of ranks is unknown: "
                                 "give it explicitly (import option ranks)");
    }
    if (info.ranks < 1) throw error(t.header_line, fmt::format("invalid rank count {}", info.ranks));
    if (info.nodes && (*info.nodes < 1 || *info.nodes > info.ranks))
      throw error(t.header_line, fmt::format("{} nodes cannot hold {} ranks", *info.nodes, info.ranks));

    // Which collective.
    if (block.test) {
      info.op = *block.test->op;
      info.op_source = block.test->source;
    } else if (options_.op) {
      info.op = *options_.op;
      info.op_source = "option";
    } else {
      const auto c = candidates(t, info.ranks);
      if (c.size() != 1) {
        std::vector<std::string_view> names;
        for (auto op : c) names.push_back(to_string(op));
        throw error(t.header_line,
                    fmt::format("cannot tell which collective this table measures (the log names no *_perf test "
                                "before it; the data fit: {}): give the op explicitly (import option op)",
                                names.empty() ? std::string("none") : fmt::format("{}", fmt::join(names, ", "))));
      }
      info.op = c.front();
      info.op_source = "data";
    }
    if (auto bad = ratio_mismatch(t, info.op, info.ranks))
      throw error(*bad, fmt::format("busbw/algbw on this row does not match {} on {} ranks (nccl-tests factor {:.4g}), "
                                    "as the {} says: wrong op or rank count?", to_string(info.op), info.ranks,
                                    busbw_factor(info.op, info.ranks), info.op_source));

    // Measurements: per row, out-of-place group then in-place group.
    for (const auto& r : t.rows) {
      for (std::size_t g = 0; g < r.cells.size(); ++g) {
        const auto& c = r.cells[g];
        if (!c.present) continue;
        CollectiveMeasurement m;
        m.op = info.op;
        m.ranks = info.ranks;
        m.nodes = info.nodes;
        m.bytes = r.size;
        m.count = r.count;
        m.dtype = r.type;
        m.redop = r.redop;
        m.root = r.root;
        m.in_place = t.group_in_place[g];
        m.time_us = c.time_us;
        m.algbw_GBps = c.algbw;
        m.busbw_GBps = c.busbw;
        m.wrong = c.wrong;
        result_.measurements.collectives.push_back(std::move(m));
        ++info.measurements;
      }
    }
    max_ranks_ = std::max(max_ranks_, info.ranks);
    result_.tables.push_back(std::move(info));
  }

 private:
  std::string file_;
  NcclTestsImportOptions options_;
  int last_content_line_ = 0;
  std::map<std::string, Stream> streams_;
  std::optional<Echo> echo_;
  std::string nccl_version_;
  std::string tests_version_;
  std::vector<std::string> gpu_names_;
  std::vector<std::string> hosts_;
  int max_ranks_ = 0;
  int last_line_ = 0;
  NcclTestsImport result_;
};

}  // namespace

NcclTestsImport import_nccl_tests_log_text(std::string_view text, const std::string& label,
                                           const NcclTestsImportOptions& options) {
  if (options.ranks && *options.ranks < 1) throw InputError(fmt::format("ranks must be >= 1, got {}", *options.ranks));
  if (options.nodes && *options.nodes < 1) throw InputError(fmt::format("nodes must be >= 1, got {}", *options.nodes));
  std::vector<std::string_view> lines;
  int last_content = 0;
  for (std::size_t pos = 0; pos < text.size();) {
    auto nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    lines.push_back(text.substr(pos, nl - pos));
    if (!trim(lines.back()).empty()) last_content = static_cast<int>(lines.size());
    pos = nl + 1;
  }
  Parser p(label, options, last_content);
  for (std::size_t i = 0; i < lines.size(); ++i) p.line(static_cast<int>(i) + 1, lines[i]);
  return p.finish();
}

NcclTestsImport import_nccl_tests_log_file(const std::string& path, const NcclTestsImportOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(fmt::format("{}: cannot open file for reading", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return import_nccl_tests_log_text(ss.str(), path, options);
}

}  // namespace moesim::validation
