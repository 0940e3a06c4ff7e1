// Tests of the sweep library (tools/sweep.h): grid expansion and keys, the parallel runner
// (byte-identical for any number of jobs), resume after an interruption, failing points,
// shards and merge, grid files.
#include "tools/sweep.h"

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "sim/error.h"
#include "tests/tools/test_files.h"

namespace {

using namespace moesim;
using namespace moesim::sweep;

std::string temp_path(const std::string& name) { return testing_files::temp_path("moesim_sweep_test", name); }
using testing_files::contains;
using testing_files::read_file;

void write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream ss(text);
  for (std::string l; std::getline(ss, l);) out.push_back(l);
  return out;
}


// 2 node counts x 2 expert counts x 2 strategies = 8 points on 8 or 16 GPUs (about 20 ms each).
GridSpec small_spec() {
  GridSpec s;
  s.axes = {{"nodes", {1, 2}}, {"num_experts", {8, 16}}, {"strategy", {"smile", "switch"}}};
  return s;
}

SweepSummary run_to(const Grid& g, const std::string& path, unsigned jobs, Format format = Format::Csv) {
  RunOptions o;
  o.output = path;
  o.jobs = jobs;
  o.format = format;
  return run_sweep(g, o);
}

// The uninterrupted sweep of small_spec(), computed once.
const std::string& full_csv() {
  static const std::string text = [] {
    const Grid g = Grid::plan(small_spec());
    const auto path = temp_path("full.csv");
    run_to(g, path, 1);
    return read_file(path);
  }();
  return text;
}

TEST(SweepGrid, AxesFollowTheDocumentedOrderAndTheBaselineComesFirst) {
  const Grid g = Grid::plan(small_spec());
  std::vector<std::string> names;
  for (const auto& a : g.axes()) names.push_back(a.name);
  EXPECT_EQ(names, (std::vector<std::string>{"cluster", "nodes", "model", "num_experts", "seed", "strategy"}));
  EXPECT_EQ(g.size(), 8u);
  EXPECT_EQ(g.group_size(), 2u);
  // The strategy axis was given as smile,switch; the baseline switch is moved to the front.
  EXPECT_EQ(g.axes().back().values[0].text, "switch");
  // Point 5 = nodes index 1, experts index 0, strategy index 1 (last axis fastest: 5 = 1*4 + 0*2 + 1).
  EXPECT_EQ(g.indices(5), (std::vector<std::size_t>{0, 1, 0, 0, 0, 1}));
  EXPECT_EQ(g.key(5), "cluster=p4d.24xlarge;nodes=2;model=switch-base-128;num_experts=8;seed=1;strategy=smile");
  EXPECT_EQ(g.baseline_of(5), 4u);
  EXPECT_EQ(g.baseline_of(4), 4u);
  EXPECT_EQ(g.id().size(), 16u);
}

TEST(SweepGrid, KeysEscapeSeparatorsAndTheGridIdChangesWithFixedOverrides) {
  GridSpec s = small_spec();
  const Grid a = Grid::plan(s);
  s.fixed.emplace_back("capacity_factor", "2");
  const Grid b = Grid::plan(s);
  EXPECT_NE(a.id(), b.id());
  EXPECT_EQ(a.id(), Grid::plan(small_spec()).id());  // deterministic
  GridSpec odd;
  odd.axes = {{"strategy", {"switch"}}, {"cluster/notes", {"a;b=c%"}}};
  EXPECT_TRUE(contains(Grid::plan(odd).key(0), "cluster/notes=a%3Bb%3Dc%25"));
}

TEST(SweepGrid, ValueListsTakeCommasAndPowerOfTwoRanges) {
  const auto v = parse_value_list("8:64", "--experts");
  ASSERT_EQ(v.size(), 4u);
  EXPECT_EQ(v[3], 64);
  const auto w = parse_value_list("0.5, 1,zipf", "--axis x");
  EXPECT_EQ(w[0], 0.5);
  EXPECT_EQ(w[1], 1);
  EXPECT_EQ(w[2], "zipf");
  EXPECT_THROW(parse_value_list("8:4", "--experts"), InputError);
  EXPECT_THROW(parse_value_list("1,,2", "--nodes"), InputError);
}

TEST(SweepGrid, BadAxesAreErrorsBeforeAnythingRuns) {
  auto plan_with = [](std::vector<std::pair<std::string, std::vector<nlohmann::json>>> axes) {
    GridSpec s;
    s.axes = std::move(axes);
    return Grid::plan(s);
  };
  EXPECT_THROW(plan_with({{"strategy", {"switch", "nope"}}}), InputError);
  EXPECT_THROW(plan_with({{"nodes", {1, 1}}}), InputError);  // duplicate value
  EXPECT_THROW(plan_with({{"nodes", {0}}}), InputError);     // out of range
  EXPECT_THROW(plan_with({{"nodes", {1.5}}}), InputError);
  EXPECT_THROW(plan_with({{"num_expert", {8}}}), InputError);       // not a model key
  EXPECT_THROW(plan_with({{"strategy.alfa", {0.1}}}), InputError);  // no strategy declares it
  EXPECT_THROW(plan_with({{"cluster", {"no-such-cluster"}}}), InputError);
  EXPECT_THROW(plan_with({{"status", {1}}}), InputError);  // an output column
  try {
    plan_with({{"num_expert", {8}}});
  } catch (const InputError& e) {
    EXPECT_TRUE(contains(e.what(), "num_expert")) << e.what();
  }
}

TEST(SweepGridFile, ReadsAxesFixedOverridesAndShorthands) {
  const auto path = temp_path("grid.json");
  write_file(path, R"({
    "$comment": "a small grid",
    "cluster": "p4d.24xlarge",
    "baseline": "switch",
    "axes": {"nodes": [1, 2], "num_experts": [8, 16], "strategy": ["switch", "scomoe-seq"],
             "strategy.alpha": [0.1, 0.3], "seed": [1, 2]},
    "set": {"capacity_factor": 1.5, "strategy.beta": 0.4}
  })");
  const GridSpec spec = load_grid_file(path);
  const Grid g = Grid::plan(spec);
  EXPECT_EQ(g.size(), 2u * 2 * 2 * 2 * 2);
  EXPECT_EQ(g.group_size(), 4u);  // strategy x strategy.alpha
  EXPECT_EQ(g.axes().back().name, "strategy.alpha");
  EXPECT_EQ(
      g.key(1),
      "cluster=p4d.24xlarge;nodes=1;model=switch-base-128;num_experts=8;seed=1;strategy=switch;strategy.alpha=0.3");
  const PointResult r = g.run(3);  // scomoe-seq, alpha 0.3, beta 0.4 (fixed)
  EXPECT_EQ(r.status, PointResult::Status::Ok) << r.error;
}

TEST(SweepGridFile, UnknownKeysAndBadValuesNameTheFileAndPath) {
  const auto path = temp_path("bad-grid.json");
  auto error_of = [&](const std::string& text) {
    write_file(path, text);
    try {
      Grid::plan(load_grid_file(path));
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  auto e = error_of(R"({"axes": {"nodes": [1]}, "jobs": 4})");
  EXPECT_TRUE(contains(e, path) && contains(e, "/jobs") && contains(e, "unknown key")) << e;
  e = error_of(R"({"axes": {"nodes": []}})");
  EXPECT_TRUE(contains(e, "/axes/nodes") && contains(e, "at least one value")) << e;
  e = error_of(R"({"axes": {"nodes": {"a": 1}}})");
  EXPECT_TRUE(contains(e, "/axes/nodes")) << e;
  e = error_of(R"({"cluster": "p4d.24xlarge", "axes": {"cluster": ["dgx-a100"]}})");
  EXPECT_TRUE(contains(e, "/axes/cluster") && contains(e, "give it once")) << e;
  e = error_of(R"({"axes": {"strategy": ["switch"]}, "set": {"top_k": "many"}})");
  EXPECT_TRUE(contains(e, "top_k")) << e;
  e = error_of(R"({"axes": {"nodes": [1]})");
  EXPECT_TRUE(contains(e, path)) << e;  // a JSON syntax error names the file
}

TEST(SweepGrid, GpusPerNodeAndClusterPointersReshapeTheCluster) {
  GridSpec s;
  s.axes = {{"gpus_per_node", {4, 8}},
            {"cluster/fabric/type", {"single_switch"}},
            {"num_experts", {16}},
            {"strategy", {"switch"}}};
  const Grid g = Grid::plan(s);
  const PointResult four = g.run(0), eight = g.run(1);
  ASSERT_EQ(four.status, PointResult::Status::Ok) << four.error;
  ASSERT_EQ(eight.status, PointResult::Status::Ok) << eight.error;
  EXPECT_EQ(four.result.gpus, 4 * 4);  // p4d.24xlarge's 4 default nodes
  EXPECT_EQ(eight.result.gpus, 8 * 4);
  // nvlink_mesh kinds and several node kinds cannot be reshaped: the point fails, the grid does not.
  GridSpec mixed;
  mixed.axes = {{"cluster", {"mixed-a100-v100"}}, {"gpus_per_node", {4}}, {"strategy", {"switch"}}};
  const PointResult m = Grid::plan(mixed).run(0);
  EXPECT_EQ(m.status, PointResult::Status::Error);
  EXPECT_TRUE(contains(m.error, "one node kind")) << m.error;
}

TEST(SweepRun, CsvIsByteIdenticalForOneAndTwoJobs) {
  const Grid g = Grid::plan(small_spec());
  const auto path = temp_path("jobs2.csv");
  const auto s = run_to(g, path, 2);
  EXPECT_TRUE(s.complete);
  EXPECT_EQ(s.run, 8u);
  EXPECT_EQ(read_file(path), full_csv());
  const auto lines = lines_of(full_csv());
  ASSERT_EQ(lines.size(), 9u);
  EXPECT_EQ(lines[0], csv_header(g).substr(0, csv_header(g).size() - 1));
  for (std::size_t i = 1; i < lines.size(); ++i)
    EXPECT_EQ(lines[i].rfind(std::to_string(i - 1) + ",", 0), 0u) << lines[i];
}

TEST(SweepRun, JsonLinesAreIdenticalForOneAndTwoJobsAndCarryTheSameColumns) {
  const Grid g = Grid::plan(small_spec());
  const auto a = temp_path("jobs1.jsonl"), b = temp_path("jobs2.jsonl");
  run_to(g, a, 1, Format::Jsonl);
  run_to(g, b, 2, Format::Jsonl);
  EXPECT_EQ(read_file(a), read_file(b));
  const auto lines = lines_of(read_file(a));
  ASSERT_EQ(lines.size(), 8u);
  const auto j = nlohmann::json::parse(lines[3]);
  EXPECT_EQ(j.size(), columns(g).size());
  EXPECT_EQ(j.at("point"), 3);
  EXPECT_EQ(j.at("nodes"), 1);
  EXPECT_EQ(j.at("strategy"), "smile");
  EXPECT_EQ(j.at("status"), "ok");
  EXPECT_TRUE(j.at("error").is_null());
  EXPECT_GT(j.at("iteration_time_s").get<double>(), 0);
  EXPECT_EQ(j.at("grid"), g.id());
}

TEST(SweepGrid, FluidFidelityRunsWithoutFlowsAndIsPartOfTheGridId) {
  GridSpec s = small_spec();
  const Grid flow = Grid::plan(s);
  s.fidelity = "fluid";
  const Grid fluid = Grid::plan(s);
  EXPECT_NE(flow.id(), fluid.id());  // a resume cannot mix the two
  const auto a = flow.run(5), b = fluid.run(5);
  ASSERT_EQ(a.status, PointResult::Status::Ok) << a.error;
  ASSERT_EQ(b.status, PointResult::Status::Ok) << b.error;
  EXPECT_GT(a.result.flows, 0u);
  EXPECT_EQ(b.result.flows, 0u);
  // Plumbing only (the accuracy is tested in tests/models/fidelity_test.cpp): 2 nodes, 8
  // experts replicated twice, smile; the fluid model was 7.4% faster here.
  EXPECT_LT(b.result.iteration_time_s, a.result.iteration_time_s);
  EXPECT_GT(b.result.iteration_time_s, 0.85 * a.result.iteration_time_s);
  s.fidelity = "exact";
  EXPECT_THROW(Grid::plan(s), InputError);
}

TEST(SweepRun, SpeedupIsTheBaselineTimeOverThePointTime) {
  const Grid g = Grid::plan(small_spec());
  const auto lines = lines_of(full_csv());
  const auto header = *split_csv_line(lines[0]);
  const auto col = [&](const std::string& name) {
    return static_cast<std::size_t>(std::find(header.begin(), header.end(), name) - header.begin());
  };
  const auto base = *split_csv_line(lines[1]), other = *split_csv_line(lines[2]);  // points 0 (switch) and 1 (smile)
  EXPECT_EQ(base[col("strategy")], "switch");
  EXPECT_EQ(base[col("speedup")], "1");
  const double expected = std::stod(base[col("iteration_time_s")]) / std::stod(other[col("iteration_time_s")]);
  EXPECT_EQ(other[col("speedup")], format_double(expected));
  // Doubles are printed so that they read back exactly.
  EXPECT_EQ(format_double(std::stod(other[col("tokens_per_s")])), other[col("tokens_per_s")]);
}

TEST(SweepRun, AnInterruptedSweepResumedGivesTheUninterruptedFile) {
  const Grid g = Grid::plan(small_spec());
  const auto path = temp_path("resume.csv");
  RunOptions o;
  o.output = path;
  o.jobs = 2;
  o.max_points = 3;  // as if killed after 3 points
  const auto first = run_sweep(g, o);
  EXPECT_FALSE(first.complete);
  EXPECT_EQ(first.run, 3u);
  EXPECT_EQ(lines_of(read_file(path)).size(), 4u);  // header + 3 rows: a prefix of the full file
  EXPECT_EQ(full_csv().rfind(read_file(path), 0), 0u);
  o.max_points = 0;
  o.resume = true;
  const auto second = run_sweep(g, o);
  EXPECT_EQ(second.resumed, 3u);
  EXPECT_EQ(second.run, 5u);
  EXPECT_TRUE(second.complete);
  EXPECT_EQ(read_file(path), full_csv());
  // Resuming a complete file runs nothing.
  EXPECT_EQ(run_sweep(g, o).run, 0u);
  EXPECT_EQ(read_file(path), full_csv());
}

TEST(SweepRun, AResumeDropsAHalfWrittenLastLine) {
  const Grid g = Grid::plan(small_spec());
  const auto path = temp_path("killed.csv");
  const std::string& full = full_csv();
  // Killed in the middle of writing row 5 (the 7th line).
  std::size_t cut = 0;
  for (int i = 0; i < 6; ++i) cut = full.find('\n', cut) + 1;
  cut += 17;
  write_file(path, full.substr(0, cut));
  RunOptions o;
  o.output = path;
  o.jobs = 2;
  o.resume = true;
  const auto s = run_sweep(g, o);
  EXPECT_EQ(s.dropped_partial_bytes, 17u);
  EXPECT_EQ(s.resumed, 5u);
  EXPECT_EQ(read_file(path), full);
  // Killed while writing the header.
  write_file(path, full.substr(0, 10));
  run_sweep(g, o);
  EXPECT_EQ(read_file(path), full);
}

TEST(SweepRun, AStopRequestStartsNoNewPointAndKeepsThePrefix) {
  const Grid g = Grid::plan(small_spec());
  const auto path = temp_path("stopped.csv");
  std::atomic<bool> stop{true};
  RunOptions o;
  o.output = path;
  o.stop = &stop;
  const auto s = run_sweep(g, o);
  EXPECT_EQ(s.run, 0u);
  EXPECT_TRUE(s.stopped);
  EXPECT_EQ(read_file(path), csv_header(g));
  // Stopping from the progress callback (the writer thread) after the first row.
  stop = false;
  o.overwrite = true;
  o.jobs = 2;
  o.progress = [&](const Progress& p) {
    if (p.done >= 1) stop = true;
  };
  const auto t = run_sweep(g, o);
  EXPECT_GE(t.run, 1u);
  EXPECT_EQ(full_csv().rfind(read_file(path), 0), 0u);  // a prefix, whole lines only
}

TEST(SweepRun, AFailingPointIsRecordedAndTheRestComplete) {
  GridSpec s;
  s.axes = {{"nodes", {1}}, {"num_experts", {8, 12, 16}}, {"strategy", {"switch"}}};
  const Grid g = Grid::plan(s);
  const auto path = temp_path("failing.csv");
  const auto sum = run_to(g, path, 2);
  EXPECT_TRUE(sum.complete);
  EXPECT_EQ(sum.failed, 1u);
  EXPECT_EQ(sum.internal_errors, 0u);
  EXPECT_TRUE(contains(sum.first_error, "point 1")) << sum.first_error;
  const auto lines = lines_of(read_file(path));
  ASSERT_EQ(lines.size(), 4u);
  const auto header = *split_csv_line(lines[0]);
  const auto col = [&](const std::string& name) {
    return static_cast<std::size_t>(std::find(header.begin(), header.end(), name) - header.begin());
  };
  const auto bad = *split_csv_line(lines[2]);
  EXPECT_EQ(bad[col("num_experts")], "12");
  EXPECT_EQ(bad[col("status")], "error");
  EXPECT_TRUE(contains(bad[col("error")], "/num_experts")) << bad[col("error")];
  EXPECT_EQ(bad[col("iteration_time_s")], "");
  for (int i : {1, 3}) EXPECT_EQ((*split_csv_line(lines[i]))[col("status")], "ok") << lines[i];
}

TEST(SweepRun, ResumeRejectsAnotherGridsFileAndAnExistingFileNeedsAFlag) {
  const Grid g = Grid::plan(small_spec());
  const auto path = temp_path("other.csv");
  write_file(path, full_csv());
  RunOptions o;
  o.output = path;
  EXPECT_THROW(run_sweep(g, o), InputError);  // exists, neither --resume nor --overwrite
  GridSpec changed = small_spec();
  changed.fixed.emplace_back("capacity_factor", "2");
  o.resume = true;
  try {
    run_sweep(Grid::plan(changed), o);
    ADD_FAILURE() << "no error";
  } catch (const InputError& e) {
    EXPECT_TRUE(contains(e.what(), path + ":2:") && contains(e.what(), "another grid")) << e.what();
  }
  GridSpec more = small_spec();
  more.axes.emplace_back("seed", std::vector<nlohmann::json>{1, 2});
  EXPECT_THROW(run_sweep(Grid::plan(more), o), InputError);  // same header, different grid
  GridSpec topk = small_spec();
  topk.axes.emplace_back("top_k", std::vector<nlohmann::json>{1});
  try {
    run_sweep(Grid::plan(topk), o);
    ADD_FAILURE() << "no error";
  } catch (const InputError& e) {
    EXPECT_TRUE(contains(e.what(), path + ":1:") && contains(e.what(), "header")) << e.what();
  }
  EXPECT_EQ(read_file(path), full_csv());  // untouched
}

TEST(SweepRun, TwoSweepsCannotWriteOneFileAtOnce) {
  const Grid g = Grid::plan(small_spec());
  const auto path = temp_path("locked.csv");
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT, 0644);  // as another sweep holds it
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  RunOptions o;
  o.output = path;
  o.resume = true;
  try {
    run_sweep(g, o);
    ADD_FAILURE() << "no error";
  } catch (const InputError& e) {
    EXPECT_TRUE(contains(e.what(), "another moesim sweep")) << e.what();
  }
  ::close(fd);
  EXPECT_TRUE(run_sweep(g, o).complete);
}

TEST(SweepShards, ShardsCoverEveryGroupOnceAndMergeIntoTheFullSweep) {
  const Grid g = Grid::plan(small_spec());
  std::vector<std::size_t> seen;
  std::vector<std::string> files;
  for (std::size_t k = 1; k <= 3; ++k) {
    const Shard sh{k, 3};
    for (std::size_t j = 0; j < shard_point_count(g, sh); ++j) seen.push_back(shard_point(g, sh, j));
    files.push_back(temp_path("shard" + std::to_string(k) + ".csv"));
    RunOptions o;
    o.output = files.back();
    o.shard = sh;
    o.jobs = 2;
    EXPECT_TRUE(run_sweep(g, o).complete);
  }
  std::sort(seen.begin(), seen.end());
  ASSERT_EQ(seen.size(), 8u);
  for (std::size_t i = 0; i < 8; ++i) EXPECT_EQ(seen[i], i);
  EXPECT_EQ(shard_point_count(g, {1, 3}), 4u);  // groups 0 and 3 (2 points each)
  const auto out = temp_path("merged.csv");
  const auto m = merge_outputs({files[2], files[0], files[1]}, out);
  EXPECT_EQ(m.rows, 8u);
  EXPECT_EQ(read_file(out), full_csv());
  EXPECT_FALSE(std::filesystem::exists(out + ".partial"));
}

TEST(SweepShards, MergeDetectsMissingDoubledAndForeignRows) {
  const Grid g = Grid::plan(small_spec());
  std::vector<std::string> files;
  for (std::size_t k = 1; k <= 2; ++k) {
    files.push_back(temp_path("half" + std::to_string(k) + ".csv"));
    RunOptions o;
    o.output = files.back();
    o.shard = {k, 2};
    run_sweep(g, o);
  }
  const auto out = temp_path("merged-bad.csv");
  auto error_of = [&](const std::vector<std::string>& in) {
    try {
      merge_outputs(in, out);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  auto e = error_of({files[0]});
  EXPECT_TRUE(contains(e, "4 of the grid's 8 points are in no file") && contains(e, "points 2, 3, 6, 7")) << e;
  e = error_of({files[0], files[1], files[0]});
  EXPECT_TRUE(contains(e, "doubled") && contains(e, files[0] + ":2")) << e;
  EXPECT_FALSE(std::filesystem::exists(out));
  // A shard of another grid.
  GridSpec other = small_spec();
  other.fixed.emplace_back("capacity_factor", "2");
  const auto foreign = temp_path("foreign.csv");
  RunOptions o;
  o.output = foreign;
  o.shard = {2, 2};
  run_sweep(Grid::plan(other), o);
  e = error_of({files[0], foreign});
  EXPECT_TRUE(contains(e, foreign + ":2") && contains(e, "not shards of one sweep")) << e;
  // An interrupted shard.
  const std::string text = read_file(files[1]);
  write_file(foreign, text.substr(0, text.size() - 5));
  e = error_of({files[0], foreign});
  EXPECT_TRUE(contains(e, foreign + ":5") && contains(e, "incomplete")) << e;
  // A file with another header.
  write_file(foreign, "point,key\n");
  e = error_of({files[0], foreign});
  EXPECT_TRUE(contains(e, foreign + ":1")) << e;
}

TEST(SweepShards, JsonLinesShardsMergeToo) {
  const Grid g = Grid::plan(small_spec());
  const auto full = temp_path("full.jsonl");
  run_to(g, full, 2, Format::Jsonl);
  std::vector<std::string> files;
  for (std::size_t k = 1; k <= 2; ++k) {
    files.push_back(temp_path("shard" + std::to_string(k) + ".jsonl"));
    RunOptions o;
    o.output = files.back();
    o.format = Format::Jsonl;
    o.shard = {k, 2};
    run_sweep(g, o);
  }
  const auto out = temp_path("merged.jsonl");
  merge_outputs(files, out);
  EXPECT_EQ(read_file(out), read_file(full));
}

TEST(SweepShards, ShardTextIsKOfNOneBased) {
  EXPECT_EQ(parse_shard("3/8").index, 3u);
  EXPECT_EQ(parse_shard("3/8").count, 8u);
  for (const char* bad : {"0/8", "9/8", "3", "a/b", "3/0", "-1/2", "1/2/3"})
    EXPECT_THROW(parse_shard(bad), InputError) << bad;
}

TEST(SweepCsv, FieldsAreQuotedPerRfc4180AndSplitBack) {
  EXPECT_EQ(csv_field("plain"), "plain");
  EXPECT_EQ(csv_field("a,b"), "\"a,b\"");
  EXPECT_EQ(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
  const auto f = split_csv_line("1,\"a,b\",,\"x\"\"y\",");
  ASSERT_TRUE(f);
  EXPECT_EQ(*f, (std::vector<std::string>{"1", "a,b", "", "x\"y", ""}));
  EXPECT_FALSE(split_csv_line("\"open"));
  EXPECT_FALSE(split_csv_line("a\"b"));
}

TEST(SweepCsv, DoublesRoundTrip) {
  for (double v : {0.1, 1.0 / 3, 1e-5, 123456.789, 2.5e20, 0.0})
    EXPECT_EQ(std::stod(format_double(v)), v) << format_double(v);
  EXPECT_EQ(format_double(0.25), "0.25");
}

TEST(SweepProgress, BarAndLinesShowDoneTotalRateAndEta) {
  const Progress p{.done = 30, .total = 100, .resumed = 10, .failed = 2, .elapsed_s = 10, .finished = false};
  const auto bar = ProgressPrinter::bar_text(p, 10);
  EXPECT_TRUE(contains(bar, "[###.......] 30/100")) << bar;
  EXPECT_TRUE(contains(bar, "2.00 points/s")) << bar;  // 20 run in 10 s
  EXPECT_TRUE(contains(bar, "ETA 35s")) << bar;        // 70 left at 2/s
  EXPECT_TRUE(contains(bar, "2 failed")) << bar;
  const auto line = ProgressPrinter::line_text(p);
  EXPECT_TRUE(contains(line, "30/100 points (30.0%)")) << line;
}

}  // namespace
