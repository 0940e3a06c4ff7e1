#pragma once
// Test helper: runs a shell command (the built moesim, a notebook) and returns its exit status
// and what it wrote on stdout and stderr together.
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace moesim::testing_shell {

struct Shell {
  int exit_code = -1;      // -1 if it did not exit normally
  bool signalled = false;  // ended by a signal (a crash: std::terminate, SIGSEGV, the OOM killer)
  std::string output;
};

inline Shell run(const std::string& command) {
  Shell r;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return r;
  std::array<char, 4096> buf{};
  while (fgets(buf.data(), static_cast<int>(buf.size()), pipe) != nullptr) r.output += buf.data();
  const int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.signalled = WIFSIGNALED(status);
  return r;
}

}  // namespace moesim::testing_shell
