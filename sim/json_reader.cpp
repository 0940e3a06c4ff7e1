#include "sim/json_reader.h"

#include <cmath>
#include <fstream>
#include <sstream>

namespace moesim {
namespace {

const char* type_name(const nlohmann::json& j) { return j.type_name(); }

std::string range_text(const NumberRange& r) {
  if (r.min && r.max) return fmt::format("a number in {}{}, {}]", r.min_exclusive ? "(" : "[", *r.min, *r.max);
  if (r.min) return fmt::format("a number {} {}", r.min_exclusive ? ">" : ">=", *r.min);
  if (r.max) return fmt::format("a number <= {}", *r.max);
  return "a number";
}

bool is_doc_key(std::string_view k) {
  return k == "source" || k == "sources" || k == "notes" || k == "$comment";
}

}  // namespace

std::string json_pointer_escape(std::string_view key) {
  std::string out;
  for (char c : key) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}

nlohmann::json JsonReader::parse_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path, "", "cannot open file for reading");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_text(ss.str(), path);
}

nlohmann::json JsonReader::parse_text(std::string_view text, const std::string& file_label) {
  try {
    return nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::parse_error& e) {
    // Translate the byte offset into line:column for the user.
    std::size_t line = 1, col = 1;
    // e.byte is the 1-based position of the offending character (size + 1 at end of input):
    // count the characters before it.
    const std::size_t upto = std::min<std::size_t>(e.byte, text.size() + 1);
    for (std::size_t i = 0; i + 1 < upto; ++i) {
      if (text[i] == '\n') { ++line; col = 1; } else { ++col; }
    }
    throw ConfigError(file_label, "", fmt::format("malformed JSON at line {}, column {}: {}", line, col, e.what()));
  }
}

JsonReader::JsonReader(const nlohmann::json& value, std::string file, std::string path)
    : value_(&value), file_(std::move(file)), path_(std::move(path)) {
  if (!value.is_object())
    throw ConfigError(file_, path_, fmt::format("expected an object, found {}", type_name(value)));
}

std::string JsonReader::path_of(std::string_view key) const {
  return path_ + "/" + json_pointer_escape(key);
}

bool JsonReader::has(std::string_view key) const { return value_->contains(key); }

void JsonReader::accept(std::string_view key) { seen_.emplace(key); }

const nlohmann::json& JsonReader::get(std::string_view key) {
  seen_.emplace(key);
  auto it = value_->find(key);
  if (it == value_->end()) throw ConfigError(file_, path_of(key), "required key is missing");
  return *it;
}

void JsonReader::check_range(std::string_view key, double v, const NumberRange& r) const {
  if (!std::isfinite(v)) throw error(key, "must be a finite number");
  const bool low = r.min && (r.min_exclusive ? !(v > *r.min) : v < *r.min);
  const bool high = r.max && v > *r.max;
  if (low || high) throw error(key, fmt::format("{} is out of range: expected {}", v, range_text(r)));
}

double JsonReader::number(std::string_view key, NumberRange range) {
  const auto& j = get(key);
  if (!j.is_number()) throw error(key, fmt::format("expected a number, found {}", type_name(j)));
  const double v = j.get<double>();
  check_range(key, v, range);
  return v;
}

double JsonReader::number_or(std::string_view key, double fallback, NumberRange range) {
  if (!has(key)) { seen_.emplace(key); return fallback; }
  return number(key, range);
}

std::int64_t JsonReader::integer(std::string_view key, NumberRange range) {
  const auto& j = get(key);
  if (!j.is_number_integer())
    throw error(key, fmt::format("expected an integer, found {}", j.is_number() ? j.dump() : type_name(j)));
  const auto v = j.get<std::int64_t>();
  check_range(key, static_cast<double>(v), range);
  return v;
}

std::int64_t JsonReader::integer_or(std::string_view key, std::int64_t fallback, NumberRange range) {
  if (!has(key)) { seen_.emplace(key); return fallback; }
  return integer(key, range);
}

bool JsonReader::boolean(std::string_view key) {
  const auto& j = get(key);
  if (!j.is_boolean()) throw error(key, fmt::format("expected true or false, found {}", type_name(j)));
  return j.get<bool>();
}

bool JsonReader::boolean_or(std::string_view key, bool fallback) {
  if (!has(key)) { seen_.emplace(key); return fallback; }
  return boolean(key);
}

std::string JsonReader::string(std::string_view key) {
  const auto& j = get(key);
  if (!j.is_string()) throw error(key, fmt::format("expected a string, found {}", type_name(j)));
  return j.get<std::string>();
}

std::string JsonReader::string_or(std::string_view key, std::string fallback) {
  if (!has(key)) { seen_.emplace(key); return fallback; }
  return string(key);
}

std::string JsonReader::string_one_of(std::string_view key, const std::vector<std::string>& allowed) {
  auto s = string(key);
  for (const auto& a : allowed)
    if (a == s) return s;
  throw error(key, fmt::format("unknown value \"{}\": expected one of {}", s, fmt::join(allowed, ", ")));
}

std::string JsonReader::string_one_of_or(std::string_view key, const std::vector<std::string>& allowed,
                                         std::string fallback) {
  if (!has(key)) { seen_.emplace(key); return fallback; }
  return string_one_of(key, allowed);
}

std::vector<double> JsonReader::numbers(std::string_view key, NumberRange range) {
  const auto& j = get(key);
  if (!j.is_array()) throw error(key, fmt::format("expected an array of numbers, found {}", type_name(j)));
  std::vector<double> out;
  out.reserve(j.size());
  for (std::size_t i = 0; i < j.size(); ++i) {
    const auto idx = fmt::format("{}/{}", json_pointer_escape(key), i);
    if (!j[i].is_number()) throw ConfigError(file_, path_ + "/" + idx, fmt::format("expected a number, found {}", type_name(j[i])));
    const double v = j[i].get<double>();
    try {
      check_range(key, v, range);
    } catch (const ConfigError& e) {
      throw ConfigError(file_, path_ + "/" + idx, fmt::format("{} is out of range: expected {}", v, range_text(range)));
    }
    out.push_back(v);
  }
  return out;
}

JsonReader JsonReader::object(std::string_view key) { return JsonReader(get(key), file_, path_of(key)); }

std::optional<JsonReader> JsonReader::object_if(std::string_view key) {
  if (!has(key)) { seen_.emplace(key); return std::nullopt; }
  return object(key);
}

std::vector<JsonReader> JsonReader::objects(std::string_view key) {
  const auto& j = get(key);
  if (!j.is_array()) throw error(key, fmt::format("expected an array of objects, found {}", type_name(j)));
  std::vector<JsonReader> out;
  out.reserve(j.size());
  for (std::size_t i = 0; i < j.size(); ++i) out.emplace_back(j[i], file_, fmt::format("{}/{}", path_of(key), i));
  return out;
}

std::vector<std::pair<std::string, JsonReader>> JsonReader::members(std::string_view key) {
  const auto& j = get(key);
  if (!j.is_object()) throw error(key, fmt::format("expected an object, found {}", type_name(j)));
  std::vector<std::pair<std::string, JsonReader>> out;
  for (auto it = j.begin(); it != j.end(); ++it)
    out.emplace_back(it.key(), JsonReader(it.value(), file_, path_of(key) + "/" + json_pointer_escape(it.key())));
  return out;
}

void JsonReader::finish() const {
  std::vector<std::string> unknown;
  for (auto it = value_->begin(); it != value_->end(); ++it)
    if (!seen_.contains(it.key()) && !is_doc_key(it.key())) unknown.push_back(it.key());
  if (unknown.empty()) return;
  std::vector<std::string> known(seen_.begin(), seen_.end());
  throw ConfigError(file_, path_of(unknown.front()),
                    fmt::format("unknown key \"{}\" (known keys here: {})", unknown.front(), fmt::join(known, ", ")));
}

ConfigError JsonReader::error(std::string_view key, const std::string& message) const {
  return ConfigError(file_, path_of(key), message);
}

ConfigError JsonReader::error_here(const std::string& message) const { return ConfigError(file_, path_, message); }

}  // namespace moesim
