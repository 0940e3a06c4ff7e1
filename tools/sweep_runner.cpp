// moesim sweep: shards, progress, and the parallel runner with its in-order writer
// (tools/sweep.h).
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include "sim/error.h"
#include "tools/cli_util.h"
#include "tools/sweep.h"
#include "tools/sweep_file.h"

namespace moesim::sweep {

// ---- shards -------------------------------------------------------------------------------

Shard parse_shard(const std::string& text) {
  const auto slash = text.find('/');
  auto number = [&](const std::string& s, std::size_t& out) {
    char* end = nullptr;
    const unsigned long long v = std::strtoull(s.c_str(), &end, 10);
    if (s.empty() || s.front() == '-' || end != s.c_str() + s.size()) return false;
    out = v;
    return true;
  };
  Shard s;
  if (slash == std::string::npos || !number(text.substr(0, slash), s.index) ||
      !number(text.substr(slash + 1), s.count) || s.count < 1 || s.index < 1 || s.index > s.count)
    throw InputError(
        fmt::format("--shard \"{}\": expected K/N with 1 <= K <= N (e.g. 3/8 for the third of eight shards)", text));
  return s;
}

std::size_t shard_point_count(const Grid& grid, Shard shard) {
  const std::size_t groups = grid.size() / grid.group_size();
  const std::size_t first = shard.index - 1;
  if (first >= groups) return 0;
  return ((groups - first + shard.count - 1) / shard.count) * grid.group_size();
}

std::size_t shard_point(const Grid& grid, Shard shard, std::size_t j) {
  const std::size_t s = grid.group_size();
  return ((shard.index - 1) + (j / s) * shard.count) * s + j % s;
}

// ---- progress -----------------------------------------------------------------------------

namespace {

struct Rates {
  double pct, rate, eta;
};

Rates rates(const Progress& p) {
  const double run = static_cast<double>(p.done - p.resumed);
  const double rate = p.elapsed_s > 0 ? run / p.elapsed_s : 0;
  const double left = static_cast<double>(p.total - p.done);
  return {p.total ? 100.0 * static_cast<double>(p.done) / static_cast<double>(p.total) : 100.0, rate,
          rate > 0 ? left / rate : (left == 0 ? 0 : -1)};
}

}  // namespace

std::string ProgressPrinter::bar_text(const Progress& p, int width) {
  const Rates r = rates(p);
  const int filled =
      p.total
          ? static_cast<int>(static_cast<double>(width) * static_cast<double>(p.done) / static_cast<double>(p.total))
          : width;
  std::string bar(static_cast<std::size_t>(filled), '#');
  bar.resize(static_cast<std::size_t>(width), '.');
  std::string text =
      fmt::format("[{}] {}/{} {:5.1f}%  {:.2f} points/s  {} {}", bar, p.done, p.total, r.pct, r.rate,
                  p.finished ? "elapsed" : "ETA", p.finished ? cli::duration_text(p.elapsed_s) : cli::duration_text(r.eta));
  if (p.failed) text += fmt::format("  {} failed", p.failed);
  return text;
}

std::string ProgressPrinter::line_text(const Progress& p) {
  const Rates r = rates(p);
  std::string text =
      fmt::format("sweep: {}/{} points ({:.1f}%), {:.2f} points/s, {} {}", p.done, p.total, r.pct, r.rate,
                  p.finished ? "elapsed" : "ETA", p.finished ? cli::duration_text(p.elapsed_s) : cli::duration_text(r.eta));
  if (p.failed) text += fmt::format(", {} failed", p.failed);
  return text;
}

void ProgressPrinter::operator()(const Progress& p) {
  if (!p.finished) {
    if (style_ == Style::Bar && last_s_ >= 0 && p.elapsed_s - last_s_ < 0.1)
      return;  // redraw at most 10 times a second
    if (style_ == Style::Lines && p.elapsed_s - std::max(last_s_, 0.0) < interval_s_) return;  // a line per interval
  }
  last_s_ = p.elapsed_s;
  if (style_ == Style::Bar) {
    const std::string text = bar_text(p);
    fmt::print(out_, "\r{}{}", text, std::string(text.size() < width_ ? width_ - text.size() : 0, ' '));
    width_ = std::max(width_, text.size());
    if (p.finished) fmt::print(out_, "\n");
  } else {
    fmt::print(out_, "{}\n", line_text(p));
  }
  std::fflush(out_);
}

// ---- running ------------------------------------------------------------------------------

namespace {

void write_all(int fd, const std::string& data, const std::string& path) {
  std::size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw InputError(fmt::format("{}: write failed: {}", path, std::strerror(errno)));
    }
    off += static_cast<std::size_t>(n);
  }
}

class Fd {
 public:
  explicit Fd(int fd, bool owned) : fd_(fd), owned_(owned) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (owned_ && fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  void close(const std::string& path) {
    if (owned_ && fd_ >= 0) {
      const int rc = ::close(fd_);
      fd_ = -1;
      if (rc != 0) throw InputError(fmt::format("{}: close failed: {}", path, std::strerror(errno)));
    }
  }

 private:
  int fd_;
  bool owned_;
};

// Baseline iteration times of the current comparison group (only that group is kept).
class BaselineTimes {
 public:
  explicit BaselineTimes(const Grid& g) : grid_(g) {}
  // The baseline time to write with `r`'s row, and records r's time if r is a baseline.
  std::optional<double> for_row(std::size_t point, bool ok, std::optional<double> time_s) {
    const std::size_t group = point / grid_.group_size();
    if (group != group_) {
      times_.clear();
      group_ = group;
    }
    const auto b = grid_.baseline_of(point);
    if (!b) return std::nullopt;
    if (*b == point) {
      if (ok && time_s) times_[point] = *time_s;
      return ok ? time_s : std::nullopt;
    }
    const auto it = times_.find(*b);
    return it == times_.end() ? std::nullopt : std::optional<double>(it->second);
  }

 private:
  const Grid& grid_;
  std::size_t group_ = static_cast<std::size_t>(-1);
  std::map<std::size_t, double> times_;
};

}  // namespace

SweepSummary run_sweep(const Grid& grid, const RunOptions& o) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  const auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - t0).count(); };
  SweepSummary s;
  s.total = grid.size();
  s.shard_points = shard_point_count(grid, o.shard);
  if (o.resume && o.overwrite) throw InputError("--resume and --overwrite exclude each other");
  const bool to_stdout = o.output.empty();
  if (to_stdout && o.resume) throw InputError("--resume needs --output FILE");

  BaselineTimes baselines(grid);
  std::size_t first = 0;  // shard-local index of the first point to run
  std::uint64_t keep_bytes = 0;
  bool truncate = false;
  std::error_code ec;
  const bool exists = !to_stdout && std::filesystem::exists(o.output, ec);
  const auto size = exists ? std::filesystem::file_size(o.output, ec) : 0;
  if (exists && size > 0 && !o.resume && !o.overwrite)
    throw InputError(
        fmt::format("{} exists ({} bytes): --resume continues it, --overwrite starts it again", o.output, size));
  // Open (creating it) and lock the output before reading it: two sweeps appending to one
  // file (two array tasks given the same -o) would interleave rows. The lock is advisory;
  // file systems without flock (some NFS set-ups) just go without it.
  const int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC;
  Fd fd(to_stdout ? 1 : ::open(o.output.c_str(), flags, 0644), !to_stdout);
  const std::string where = to_stdout ? "standard output" : o.output;
  if (fd.get() < 0) throw InputError(fmt::format("{}: cannot open for writing: {}", o.output, std::strerror(errno)));
  if (!to_stdout && ::flock(fd.get(), LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK)
    throw InputError(fmt::format("{}: another moesim sweep is writing this file", o.output));
  if (exists && size > 0 && o.resume) {
    OutputReader reader(o.output);
    if (!reader.empty() && reader.format() != o.format)
      throw InputError(fmt::format("{}: the file is {}, not {} (--format)", o.output,
                                   reader.format() == Format::Csv ? "CSV" : "JSON lines",
                                   o.format == Format::Csv ? "csv" : "jsonl"));
    const std::string header = csv_header(grid);
    const bool header_written = !(reader.partial_last_line() && reader.complete_bytes() == 0);
    if (reader.format() == Format::Csv && header_written && reader.header() + "\n" != header)
      throw reader.error(
          1, fmt::format("the header does not match this sweep's columns (expected \"{}\", found \"{}\"): the file "
                         "is from another sweep; choose another --output, or --overwrite",
                         header.substr(0, header.size() - 1), reader.header()));
    auto cols = columns(grid);
    std::sort(cols.begin(), cols.end());
    RowInfo row;
    while (reader.next(row)) {
      if (first >= s.shard_points)
        throw reader.error(row.line, fmt::format("more rows than the {} points of shard {}/{}", s.shard_points,
                                                 o.shard.index, o.shard.count));
      const std::size_t expected = shard_point(grid, o.shard, first);
      if (row.grid != grid.id() || row.points_total != grid.size())
        throw reader.error(row.line,
                           fmt::format("written by another grid ({}, {} points; this sweep is {}, {} points): the "
                                       "axes, fixed overrides, cluster or model files, or cost factors differ",
                                       row.grid, row.points_total, grid.id(), grid.size()));
      if (row.point != expected)
        throw reader.error(row.line,
                           fmt::format("point {} where point {} was expected: the file is not a prefix of this sweep "
                                       "(shard {}/{}); moesim merge joins shard files",
                                       row.point, expected, o.shard.index, o.shard.count));
      if (row.key != grid.key(row.point))
        throw reader.error(
            row.line, fmt::format("point {} has key \"{}\", expected \"{}\"", row.point, row.key, grid.key(row.point)));
      if (reader.format() == Format::Jsonl && row.json_columns != cols)
        throw reader.error(row.line, "the row's fields do not match this sweep's columns");
      baselines.for_row(row.point, row.status == "ok", row.iteration_time_s);
      ++first;
    }
    keep_bytes = reader.complete_bytes();
    if (reader.partial_last_line()) {
      truncate = true;
      s.dropped_partial_bytes = size - keep_bytes;
    }
  }

  if (o.overwrite && ::ftruncate(fd.get(), 0) != 0)
    throw InputError(fmt::format("{}: cannot truncate: {}", o.output, std::strerror(errno)));
  if (truncate && ::ftruncate(fd.get(), static_cast<off_t>(keep_bytes)) != 0)
    throw InputError(fmt::format("{}: cannot drop the incomplete last line: {}", o.output, std::strerror(errno)));
  if (to_stdout) std::fflush(stdout);
  const bool empty_file = to_stdout || !exists || o.overwrite || keep_bytes == 0;
  if (o.format == Format::Csv && empty_file) write_all(fd.get(), csv_header(grid), where);

  s.resumed = first;
  const std::size_t limit = o.max_points ? std::min(s.shard_points, first + o.max_points) : s.shard_points;
  unsigned jobs = o.jobs ? o.jobs : std::max(1u, std::thread::hardware_concurrency());
  jobs = static_cast<unsigned>(std::min<std::size_t>(jobs, limit - first));
  s.jobs = jobs;

  std::mutex mu;
  std::condition_variable cv;
  std::map<std::size_t, PointResult> done;  // finished, not yet written; by shard-local index
  std::size_t running = jobs;
  std::exception_ptr worker_error;
  std::atomic<std::size_t> next_take{first};
  std::atomic<bool> abort{false};
  auto stop_requested = [&] { return abort.load() || (o.stop && o.stop->load()); };

  auto worker = [&] {
    try {
      while (!stop_requested()) {
        const std::size_t j = next_take.fetch_add(1);
        if (j >= limit) break;
        const auto start = Clock::now();
        PointResult r = grid.run(shard_point(grid, o.shard, j));
        const double took = std::chrono::duration<double>(Clock::now() - start).count();
        {
          std::lock_guard lk(mu);
          done.emplace(j, std::move(r));
          s.points_s += took;
        }
        cv.notify_one();
      }
    } catch (...) {
      std::lock_guard lk(mu);
      if (!worker_error) worker_error = std::current_exception();
      abort = true;
    }
    {
      std::lock_guard lk(mu);
      --running;
    }
    cv.notify_one();
  };
  std::vector<std::thread> threads;
  auto join_all = [&] {
    for (auto& t : threads)
      if (t.joinable()) t.join();
  };
  std::size_t next_write = first;
  try {
    for (unsigned i = 0; i < jobs; ++i) threads.emplace_back(worker);
    while (true) {
      std::vector<PointResult> ready;
      bool finished = false;
      {
        std::unique_lock lk(mu);
        cv.wait_for(lk, std::chrono::milliseconds(200), [&] { return done.contains(next_write) || running == 0; });
        for (auto it = done.find(next_write); it != done.end(); it = done.find(next_write)) {
          ready.push_back(std::move(it->second));
          done.erase(it);
          ++next_write;
        }
        finished = running == 0 && !done.contains(next_write);
      }
      if (!ready.empty()) {
        std::string text;
        for (const auto& r : ready) {
          const bool ok = r.status == PointResult::Status::Ok;
          const auto base =
              baselines.for_row(r.point, ok, ok ? std::optional<double>(r.result.iteration_time_s) : std::nullopt);
          text += format_row(grid, o.format, r, base);
          if (ok) s.fluid_alltoalls_window_ignored += r.result.fluid_alltoalls_window_ignored;
          if (r.status == PointResult::Status::Error) ++s.failed;
          if (r.status == PointResult::Status::InternalError) ++s.internal_errors;
          if (!ok && s.first_error.empty())
            s.first_error = fmt::format("point {} ({}): {}", r.point, grid.key(r.point), r.error);
        }
        write_all(fd.get(), text, where);  // whole lines in one write(2), O_APPEND
        if (o.fsync && !to_stdout) ::fsync(fd.get());
      }
      if (o.progress)
        o.progress(Progress{.done = next_write,
                            .total = s.shard_points,
                            .resumed = first,
                            .failed = s.failed + s.internal_errors,
                            .elapsed_s = elapsed(),
                            .finished = false});
      if (finished) break;
    }
  } catch (...) {
    abort = true;
    join_all();
    throw;
  }
  join_all();
  if (worker_error) std::rethrow_exception(worker_error);
  fd.close(where);
  s.run = next_write - first;
  s.complete = next_write == s.shard_points;
  s.stopped = !s.complete;
  s.wall_s = elapsed();
  if (o.progress)
    o.progress(Progress{.done = next_write,
                        .total = s.shard_points,
                        .resumed = first,
                        .failed = s.failed + s.internal_errors,
                        .elapsed_s = s.wall_s,
                        .finished = true});
  return s;
}

}  // namespace moesim::sweep
