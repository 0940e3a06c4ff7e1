#include "sim/json_reader.h"

#include <gtest/gtest.h>

using namespace moesim;

namespace {
std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}
}  // namespace

TEST(JsonReader, MalformedJsonNamesTheFileLineAndColumn) {
  const auto msg = message_of([] { JsonReader::parse_text("{\n  \"a\": 1,\n  \"b\": }\n", "c.json"); });
  EXPECT_NE(msg.find("c.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("line 3"), std::string::npos) << msg;
}

TEST(JsonReader, ATruncatedFileReportsTheLineAfterTheLastNewline) {
  // "{\"a\": [\n" ends after the newline: the error is at line 2, column 1.
  const auto msg = message_of([] { JsonReader::parse_text("{\"a\": [\n", "t.json"); });
  EXPECT_NE(msg.find("line 2, column 1"), std::string::npos) << msg;
}

TEST(JsonReader, UnknownKeysAreErrorsNamingTheJsonPath) {
  const auto doc = JsonReader::parse_text(R"({"nodes": [{"gpus": 8, "gpsu": 2}]})", "c.json");
  const auto msg = message_of([&] {
    JsonReader r(doc, "c.json");
    for (auto n : r.objects("nodes")) {
      n.integer("gpus");
      n.finish();
    }
  });
  EXPECT_NE(msg.find("c.json: /nodes/0/gpsu: unknown key"), std::string::npos) << msg;
}

TEST(JsonReader, OutOfRangeAndWrongTypesAreErrorsWithTheExpectedForm) {
  const auto doc = JsonReader::parse_text(R"({"gpus": 0, "bw": "fast", "x": 1.5})", "c.json");
  JsonReader r(doc, "c.json");
  EXPECT_NE(message_of([&] { r.integer("gpus", {.min = 1}); }).find("/gpus: 0 is out of range: expected a number >= 1"), std::string::npos);
  EXPECT_NE(message_of([&] { r.number("bw"); }).find("/bw: expected a number, found string"), std::string::npos);
  EXPECT_NE(message_of([&] { r.integer("x"); }).find("/x: expected an integer"), std::string::npos);
  EXPECT_NE(message_of([&] { r.number("missing"); }).find("/missing: required key is missing"), std::string::npos);
}

TEST(JsonReader, DocumentationKeysAreAcceptedAnywhere) {
  const auto doc = JsonReader::parse_text(R"({"a": 1, "source": "spec sheet", "notes": "x"})", "c.json");
  JsonReader r(doc, "c.json");
  EXPECT_EQ(r.integer("a"), 1);
  EXPECT_NO_THROW(r.finish());
}

TEST(JsonReader, StringChoicesListTheAllowedValues) {
  const auto doc = JsonReader::parse_text(R"({"kind": "ring"})", "c.json");
  JsonReader r(doc, "c.json");
  const auto msg = message_of([&] { r.string_one_of("kind", {"nvswitch", "pcie_tree"}); });
  EXPECT_NE(msg.find("unknown value \"ring\": expected one of nvswitch, pcie_tree"), std::string::npos) << msg;
}
