#pragma once
// Error types. Library code throws these with context; only tools/ turns them into exit codes.
#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace moesim {

/// Base of every moesim error. what() is a complete, user-facing message.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Bad user input in a file: malformed JSON, unknown key, out-of-range value, unknown name.
/// what() = "<file>: <json path>: <message>", e.g. "my.json: /nodes/0/gpus: must be >= 1".
class ConfigError : public Error {
 public:
  ConfigError(std::string file, std::string json_path, const std::string& message)
      : Error(fmt::format("{}: {}: {}", file, json_path.empty() ? "/" : json_path, message)),
        file_(std::move(file)), json_path_(std::move(json_path)) {}
  const std::string& file() const { return file_; }
  const std::string& json_path() const { return json_path_; }

 private:
  std::string file_;
  std::string json_path_;
};

/// Bad input that is not in a file: a command-line value, an impossible combination.
class InputError : public Error {
 public:
  using Error::Error;
};

/// A broken internal invariant (a bug in moesim, not in the input).
class InvariantError : public Error {
 public:
  using Error::Error;
};

}  // namespace moesim

/// Always-on invariant check (kept in release builds: DESIGN.md style rule 7).
#define MOESIM_CHECK(cond, ...)                                                                  \
  do {                                                                                           \
    if (!(cond)) [[unlikely]]                                                                    \
      throw ::moesim::InvariantError(fmt::format("{}:{}: check failed: {}: {}", __FILE__,       \
                                                 __LINE__, #cond, fmt::format(__VA_ARGS__)));   \
  } while (0)
