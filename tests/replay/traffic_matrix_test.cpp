// Tests of the traffic-matrix formats (sim/collectives/replay.h): dense JSON and sparse CSV,
// and the error each malformed input gives (file + JSON pointer, or file:line).
#include <cstdio>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "sim/collectives/replay.h"
#include "topologies/builders.h"

using namespace moesim;

namespace {

std::string data(const std::string& name) {
  return std::string(MOESIM_SOURCE_DIR) + "/tests/replay/data/" + name;
}

// The message of the ConfigError `f` throws, with its file and JSON pointer checked.
template <typename F>
std::string config_error(F&& f, const std::string& file, const std::string& pointer) {
  try {
    f();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.file(), file);
    EXPECT_EQ(e.json_path(), pointer);
    return e.what();
  }
  ADD_FAILURE() << "no ConfigError";
  return "";
}

// The message of the MatrixFormatError `f` throws, with its file and line checked.
template <typename F>
std::string csv_error(F&& f, const std::string& file, int line) {
  try {
    f();
  } catch (const MatrixFormatError& e) {
    EXPECT_EQ(e.file(), file);
    EXPECT_EQ(e.line(), line);
    return e.what();
  }
  ADD_FAILURE() << "no MatrixFormatError";
  return "";
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

TEST(TrafficMatrixJson, ReadsADenseMatrixRowBySource) {
  const auto m = parse_traffic_matrix_json(R"({"gpus": 2, "bytes": [[0, 10], [2.5e3, 7]], "notes": "ok"})", "m.json");
  EXPECT_EQ(m.gpus, 2);
  EXPECT_EQ(m.source, "m.json");
  EXPECT_EQ(m.at(0, 1), 10);
  EXPECT_EQ(m.at(1, 0), 2500);
  EXPECT_EQ(m.at(1, 1), 7);
}

TEST(TrafficMatrixCsv, ReadsSparseRowsWithHeaderCommentsAndBlankLines) {
  const auto m = parse_traffic_matrix_csv(
      "# captured on 2 nodes\n src , dst , bytes \n\n0,3,100\n2,1,1e3  # trailing comment\r\n", "m.csv");
  EXPECT_EQ(m.gpus, 4);  // no expected size: the largest index + 1
  EXPECT_EQ(m.at(0, 3), 100);
  EXPECT_EQ(m.at(2, 1), 1000);
  EXPECT_EQ(m.at(1, 2), 0);
  const auto sized = parse_traffic_matrix_csv("0,3,100\n", "m.csv", 16);
  EXPECT_EQ(sized.gpus, 16);
  EXPECT_EQ(sized.bytes.size(), 256u);
}

TEST(TrafficMatrixCsv, RepeatedPairsAddUp) {
  const auto m = parse_traffic_matrix_csv("src,dst,bytes\n0,1,100\n1,0,5\n0,1,50\n0,1,0.5\n", "m.csv");
  EXPECT_EQ(m.at(0, 1), 150.5);
  EXPECT_EQ(m.at(1, 0), 5);
}

TEST(TrafficMatrixFiles, JsonAndCsvOfTheSameMatrixReplayIdentically) {
  // data/skewed-16gpu.{json,csv}: the same matrix (the CSV splits pair 0 -> 1 over two rows).
  const auto json = load_traffic_matrix(data("skewed-16gpu.json"), 16);
  const auto csv = load_traffic_matrix(data("skewed-16gpu.csv"), 16);
  EXPECT_EQ(json.bytes, csv.bytes);
  EXPECT_EQ(json.at(0, 1), 4.0 * 1024 * 1024);  // (1 + (0 + 3) mod 5) MiB, written 3 MiB + 1 MiB in the CSV
  const Topology topo = build_simple_cluster({.nodes = 2});
  for (const CostFactors& costs : {CostFactors::defaults(), CostFactors::ideal()})
    for (AllToAllAlgorithm alg : {AllToAllAlgorithm::Direct, AllToAllAlgorithm::Hierarchical}) {
      const auto a = replay_traffic(topo, costs, json, alg);
      const auto b = replay_traffic(topo, costs, csv, alg);
      EXPECT_EQ(a.completion, b.completion);
      EXPECT_EQ(a.send_finish, b.send_finish);
      EXPECT_EQ(a.recv_finish, b.recv_finish);
      ASSERT_EQ(a.links.size(), b.links.size());
      for (std::size_t l = 0; l < a.links.size(); ++l) EXPECT_EQ(a.links[l].bytes, b.links[l].bytes);
    }
}

TEST(TrafficMatrixFiles, WritersRoundTripThroughBothParsers) {
  TrafficMatrix m = TrafficMatrix::zeros(5, "made");
  for (int s = 0; s < 5; ++s)
    for (int d = 0; d < 5; ++d) m.at(s, d) = (s * 5 + d) % 3 == 0 ? 0.0 : 1.0 / (1 + s + 7 * d) * 1e7;
  EXPECT_EQ(parse_traffic_matrix_csv(traffic_matrix_to_csv(m), "x.csv", 5).bytes, m.bytes);
  EXPECT_EQ(parse_traffic_matrix_json(traffic_matrix_to_json(m), "x.json").bytes, m.bytes);
}

TEST(TrafficMatrixFiles, TheFormatComesFromTheExtension) {
  try {
    load_traffic_matrix("traffic.txt");
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_TRUE(contains(e.what(), "traffic.txt: unknown traffic matrix format")) << e.what();
    EXPECT_TRUE(contains(e.what(), ".json")) << e.what();
    EXPECT_TRUE(contains(e.what(), ".csv")) << e.what();
  }
  // Upper-case extensions are accepted; a missing file names itself.
  const std::string missing = testing::TempDir() + "/no-such-matrix.CSV";
  EXPECT_TRUE(contains(config_error([&] { load_traffic_matrix(missing); }, missing, ""), "cannot open"));
}

// ---- JSON errors: file + JSON pointer ---------------------------------------------------

TEST(TrafficMatrixJsonErrors, AGpuCountOtherThanTheClustersNamesGpus) {
  const auto msg = config_error(
      [] { parse_traffic_matrix_json(R"({"gpus": 2, "bytes": [[0,1],[1,0]]})", "m.json", 16); }, "m.json", "/gpus");
  EXPECT_TRUE(contains(msg, "m.json: /gpus: the matrix has 2 GPUs but the cluster has 16")) << msg;
}

TEST(TrafficMatrixJsonErrors, TheWrongNumberOfRowsNamesBytes) {
  const auto msg = config_error(
      [] { parse_traffic_matrix_json(R"({"gpus": 3, "bytes": [[0,1,2],[1,0,2]]})", "m.json"); }, "m.json", "/bytes");
  EXPECT_TRUE(contains(msg, "has 2 rows, expected 3")) << msg;
}

TEST(TrafficMatrixJsonErrors, ARowOfTheWrongLengthNamesTheRow) {
  const auto msg = config_error([] { parse_traffic_matrix_json(R"({"gpus": 2, "bytes": [[0,1],[1,0,4]]})", "m.json"); },
                                "m.json", "/bytes/1");
  EXPECT_TRUE(contains(msg, "has 3 entries, expected 2")) << msg;
}

TEST(TrafficMatrixJsonErrors, ANegativeEntryNamesItsPointer) {
  const auto msg = config_error([] { parse_traffic_matrix_json(R"({"gpus": 2, "bytes": [[0,1],[-5,0]]})", "m.json"); },
                                "m.json", "/bytes/1/0");
  EXPECT_TRUE(contains(msg, "m.json: /bytes/1/0: -5 is negative")) << msg;
}

TEST(TrafficMatrixJsonErrors, ANonNumericEntryNamesItsPointer) {
  const auto msg = config_error(
      [] { parse_traffic_matrix_json(R"({"gpus": 2, "bytes": [[0,"12"],[1,0]]})", "m.json"); }, "m.json", "/bytes/0/1");
  EXPECT_TRUE(contains(msg, "expected a number of bytes, found string \"12\"")) << msg;
  config_error([] { parse_traffic_matrix_json(R"({"gpus": 2, "bytes": [[0,null],[1,0]]})", "m.json"); }, "m.json",
               "/bytes/0/1");
  config_error([] { parse_traffic_matrix_json(R"({"gpus": 2, "bytes": [[0,true],[1,0]]})", "m.json"); }, "m.json",
               "/bytes/0/1");
  config_error([] { parse_traffic_matrix_json(R"({"gpus": 2, "bytes": [[0,1],{"a":1}]})", "m.json"); }, "m.json",
               "/bytes/1");
  config_error([] { parse_traffic_matrix_json(R"({"gpus": 2, "bytes": 7})", "m.json"); }, "m.json", "/bytes");
}

TEST(TrafficMatrixJsonErrors, ANonFiniteEntryNamesItsLineAndColumn) {
  // JSON has no NaN or Infinity; a literal that overflows a double is the only way to write one.
  const auto msg = config_error(
      [] { parse_traffic_matrix_json("{\"gpus\": 2,\n \"bytes\": [[0, 1e999], [1, 0]]}", "m.json"); }, "m.json", "");
  EXPECT_TRUE(contains(msg, "line 2, column 16")) << msg;
  EXPECT_TRUE(contains(msg, "1e999 is not finite")) << msg;
  const auto nan = config_error(
      [] { parse_traffic_matrix_json(R"({"gpus": 2, "bytes": [[0, NaN], [1, 0]]})", "m.json"); }, "m.json", "");
  EXPECT_TRUE(contains(nan, "malformed JSON at line 1")) << nan;
}

TEST(TrafficMatrixJsonErrors, MalformedJsonUnknownKeysAndMissingKeysAreNamed) {
  const auto bad = config_error(
      [] { parse_traffic_matrix_json("{\"gpus\": 2,\n \"bytes\": [[0, 1] [1, 0]]}", "m.json"); }, "m.json", "");
  EXPECT_TRUE(contains(bad, "malformed JSON at line 2")) << bad;
  const auto unknown = config_error(
      [] { parse_traffic_matrix_json(R"({"gpus": 1, "bytes": [[0]], "unit": "MB"})", "m.json"); }, "m.json", "/unit");
  EXPECT_TRUE(contains(unknown, "unknown key")) << unknown;
  config_error([] { parse_traffic_matrix_json(R"({"gpus": 1})", "m.json"); }, "m.json", "/bytes");
  config_error([] { parse_traffic_matrix_json(R"({"bytes": [[0]]})", "m.json"); }, "m.json", "/gpus");
  config_error([] { parse_traffic_matrix_json(R"({"gpus": 0, "bytes": []})", "m.json"); }, "m.json", "/gpus");
  config_error([] { parse_traffic_matrix_json(R"({"gpus": 1.5, "bytes": [[0]]})", "m.json"); }, "m.json", "/gpus");
  config_error([] { parse_traffic_matrix_json(R"([[0]])", "m.json"); }, "m.json", "");
}

// ---- CSV errors: file:line ---------------------------------------------------------------

TEST(TrafficMatrixCsvErrors, AnIndexOutsideTheClusterNamesFileAndLine) {
  const auto msg =
      csv_error([] { parse_traffic_matrix_csv("src,dst,bytes\n0,1,5\n3,16,5\n", "m.csv", 16); }, "m.csv", 3);
  EXPECT_EQ(msg, "m.csv:3: dst 16 is out of range: the cluster has 16 GPUs (0-15)");
  const auto src = csv_error([] { parse_traffic_matrix_csv("99,1,5\n", "m.csv", 16); }, "m.csv", 1);
  EXPECT_TRUE(contains(src, "src 99 is out of range")) << src;
  csv_error([] { parse_traffic_matrix_csv("0,99999999999999999999,5\n", "m.csv"); }, "m.csv", 1);
  csv_error([] { parse_traffic_matrix_csv("0,20000,5\n", "m.csv"); }, "m.csv", 1);  // > kMaxTrafficMatrixGpus
}

TEST(TrafficMatrixCsvErrors, NegativeNonNumericAndNonFiniteBytesNameFileAndLine) {
  EXPECT_EQ(csv_error([] { parse_traffic_matrix_csv("# c\n0,1,-1\n", "m.csv"); }, "m.csv", 2),
            "m.csv:2: bytes -1 is negative: bytes must be >= 0");
  EXPECT_EQ(csv_error([] { parse_traffic_matrix_csv("0,1,5\n0,1,ten\n", "m.csv"); }, "m.csv", 2),
            "m.csv:2: bytes \"ten\" is not a number");
  for (const char* v : {"inf", "nan", "1e999", "-inf"}) {
    const auto msg = csv_error([&] { parse_traffic_matrix_csv(std::string("0,1,") + v + "\n", "m.csv"); }, "m.csv", 1);
    EXPECT_TRUE(contains(msg, "not a finite number") || contains(msg, "negative")) << msg;
  }
  csv_error([] { parse_traffic_matrix_csv("0,1,\n", "m.csv"); }, "m.csv", 1);
  csv_error([] { parse_traffic_matrix_csv("0,1,12MB\n", "m.csv"); }, "m.csv", 1);
}

TEST(TrafficMatrixCsvErrors, MalformedRowsNameFileAndLine) {
  const auto fields = csv_error([] { parse_traffic_matrix_csv("0,1,5\n\n0,1\n", "m.csv"); }, "m.csv", 3);
  EXPECT_TRUE(contains(fields, "expected 3 comma-separated fields src,dst,bytes, found 2")) << fields;
  csv_error([] { parse_traffic_matrix_csv("0,1,5,6\n", "m.csv"); }, "m.csv", 1);
  const auto idx = csv_error([] { parse_traffic_matrix_csv("0,1,5\n1.5,1,5\n", "m.csv"); }, "m.csv", 2);
  EXPECT_TRUE(contains(idx, "src \"1.5\" is not a GPU index")) << idx;
  csv_error([] { parse_traffic_matrix_csv("0,-1,5\n", "m.csv"); }, "m.csv", 1);
  const auto header = csv_error([] { parse_traffic_matrix_csv("source,dest,bytes\n0,1,5\n", "m.csv"); }, "m.csv", 1);
  EXPECT_TRUE(contains(header, "a header line must read exactly src,dst,bytes")) << header;
  // A header anywhere but first is a bad row.
  csv_error([] { parse_traffic_matrix_csv("0,1,5\nsrc,dst,bytes\n", "m.csv"); }, "m.csv", 2);
}

TEST(TrafficMatrixCsvErrors, AFileWithoutRowsIsAnError) {
  const auto msg = csv_error([] { parse_traffic_matrix_csv("# nothing\nsrc,dst,bytes\n\n", "m.csv"); }, "m.csv", 0);
  EXPECT_TRUE(contains(msg, "m.csv: no src,dst,bytes rows")) << msg;
}

TEST(TrafficMatrixCsvErrors, ErrorsFromAFileNameThePath) {
  const std::string path = testing::TempDir() + "/bad-matrix.csv";
  {
    std::ofstream out(path);
    out << "src,dst,bytes\n0,1,100\n0,1,x\n";
  }
  const auto msg = csv_error([&] { load_traffic_matrix(path, 16); }, path, 3);
  EXPECT_EQ(msg, path + ":3: bytes \"x\" is not a number");
  std::remove(path.c_str());
}
