// moesim-bench: measures, on the GPUs this process can see, what moesim's cost model needs
// (expert GEMMs, MoE gating/permutation kernels, memory copies, NCCL collectives) and writes one
// measurement JSON (validation/measurements.h; docs/CALIBRATION.md). Every number it writes was
// measured in this run; what could not be measured is listed in "notes".
//
// Exit status: 0 = measurements written; 1 = no GPU, nothing measured, or the output could not
// be written; 2 = bad command line.
#include <cuda_runtime_api.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <fmt/format.h>

#if MOESIM_BENCH_HAVE_NCCL
#include <nccl.h>
#endif

#include "validation/bench/bench_common.h"
#include "validation/measurements.h"

namespace moesim::bench {
namespace {

constexpr const char* kVersion = "moesim-bench 0.1.0";

constexpr const char* kUsage = R"(usage: moesim-bench [options]

Measures expert GEMMs (cuBLASLt), MoE gate/permute/unpermute kernels, HBM and host<->device
copies, and NCCL collectives (all-to-all, all-reduce, all-gather, send/recv) on the GPUs this
process can see, and writes one moesim measurement JSON.

options:
  --out FILE        output file (default: moesim-measurements.json)
  --quick           small grid, under a minute
  --skip-nccl       no NCCL collectives
  --skip-gemm       no GEMMs
  --skip-kernels    no gate / permute / unpermute kernels
  --skip-memory     no HBM / host copies
  --max-bytes N     largest collective message and copy (bytes; K, M, G suffixes = 2^10, 2^20,
                    2^30; default 1G)
  --devices N       use only the first N visible GPUs (default: all; CUDA_VISIBLE_DEVICES also works)
  --quiet           no progress lines on stderr
  --help            this text
)";

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::int64_t parse_bytes(std::string_view s) {
  if (s.empty()) throw UsageError("--max-bytes needs a value");
  std::int64_t mult = 1;
  const char last = s.back();
  if (last == 'K' || last == 'k') mult = std::int64_t{1} << 10;
  if (last == 'M' || last == 'm') mult = std::int64_t{1} << 20;
  if (last == 'G' || last == 'g') mult = std::int64_t{1} << 30;
  if (mult != 1) s.remove_suffix(1);
  std::int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9' || v > (std::int64_t{1} << 40)) throw UsageError(fmt::format("--max-bytes: bad value"));
    v = v * 10 + (c - '0');
  }
  if (s.empty() || v * mult < 8) throw UsageError("--max-bytes must be at least 8");
  return v * mult;
}

/// Returns nullopt for --help.
std::optional<Options> parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&]() -> std::string_view {
      if (i + 1 >= argc) throw UsageError(fmt::format("{} needs a value", a));
      return argv[++i];
    };
    if (a == "--help" || a == "-h") return std::nullopt;
    if (a == "--out") o.out = std::string(value());
    else if (a == "--quick") o.quick = true;
    else if (a == "--skip-nccl") o.skip_nccl = true;
    else if (a == "--skip-gemm") o.skip_gemm = true;
    else if (a == "--skip-kernels") o.skip_kernels = true;
    else if (a == "--skip-memory") o.skip_memory = true;
    else if (a == "--max-bytes") o.max_bytes = parse_bytes(value());
    else if (a == "--quiet") o.verbose = false;
    else if (a == "--devices") {
      const auto v = value();
      o.devices = std::atoi(std::string(v).c_str());
      if (o.devices < 1) throw UsageError("--devices must be >= 1");
    } else {
      throw UsageError(fmt::format("unknown option \"{}\"", a));
    }
  }
  if (o.out.empty()) throw UsageError("--out must name a file");
  return o;
}

std::string version_text(int v) {  // CUDA's 1000 * major + 10 * minor
  return fmt::format("{}.{}", v / 1000, (v % 1000) / 10);
}

std::string run_command(const char* cmd) {
  std::string text;
  FILE* p = popen(cmd, "r");
  if (!p) return text;
  std::array<char, 4096> buf{};
  std::size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) text.append(buf.data(), n);
  if (pclose(p) != 0) return "";
  return text;
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::array<char, 32> buf{};
  std::strftime(buf.data(), buf.size(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf.data();
}

validation::HardwareInfo describe_hardware(int count) {
  validation::HardwareInfo hw;
  cudaDeviceProp prop{};
  MOESIM_BENCH_CUDA(cudaGetDeviceProperties(&prop, 0));
  hw.gpu_name = prop.name;
  for (int d = 1; d < count; ++d) {
    cudaDeviceProp other{};
    MOESIM_BENCH_CUDA(cudaGetDeviceProperties(&other, d));
    if (std::string_view(other.name) != prop.name) hw.gpu_name += fmt::format(" + {} (device {})", other.name, d);
  }
  hw.gpu_count = count;
  int v = 0;
  if (cudaDriverGetVersion(&v) == cudaSuccess) hw.driver = version_text(v);
  if (cudaRuntimeGetVersion(&v) == cudaSuccess) hw.cuda_version = version_text(v);
#if MOESIM_BENCH_HAVE_NCCL
  if (ncclGetVersion(&v) == ncclSuccess)
    hw.nccl_version = v >= 20900 ? fmt::format("{}.{}.{}", v / 10000, (v / 100) % 100, v % 100)
                                 : fmt::format("{}.{}.{}", v / 1000, (v / 100) % 10, v % 100);
#endif
  int khz = 0;
  if (cudaDeviceGetAttribute(&khz, cudaDevAttrClockRate, 0) == cudaSuccess && khz > 0) hw.clocks.sm_MHz = khz / 1000.0;
  if (cudaDeviceGetAttribute(&khz, cudaDevAttrMemoryClockRate, 0) == cudaSuccess && khz > 0)
    hw.clocks.memory_MHz = khz / 1000.0;
  hw.compute_capability = fmt::format("{}.{}", prop.major, prop.minor);
  hw.sm_count = prop.multiProcessorCount;
  hw.memory_bytes = static_cast<std::int64_t>(prop.totalGlobalMem);
  std::array<char, 256> host{};
  if (gethostname(host.data(), host.size() - 1) == 0) hw.hostname = host.data();
  hw.date = utc_now();
  hw.topology_text = run_command("nvidia-smi topo -m 2>/dev/null");
  return hw;
}

int run(const Options& o) {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess || count == 0) {
    std::fprintf(stderr, "moesim-bench: no CUDA device found (cudaGetDeviceCount: %s)\n",
                 e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
    return 1;
  }
  if (o.devices > 0) {
    if (o.devices > count) {
      std::fprintf(stderr, "moesim-bench: --devices %d but only %d CUDA devices are visible\n", o.devices, count);
      return 1;
    }
    count = o.devices;
  }

  validation::MeasurementSet set;
  set.hardware = describe_hardware(count);
  set.source = {.tool = kVersion, .file = o.out};
  progress(o, fmt::format("{} GPU(s): {}, driver {}, CUDA {}, NCCL {}", count, set.hardware.gpu_name,
                          set.hardware.driver, set.hardware.cuda_version,
                          set.hardware.nccl_version.empty() ? "none" : set.hardware.nccl_version));
  if (o.quick) set.notes.push_back("--quick: reduced grid");

  struct Section {
    const char* name;
    bool skip;
    void (*fn)(const Options&, int, validation::MeasurementSet&);
    int arg;
  };
  const Section sections[] = {
      {"gemm", o.skip_gemm, run_gemm_bench, 0},
      {"moe kernels", o.skip_kernels, run_moe_kernel_bench, 0},
      {"memory", o.skip_memory, run_memory_bench, 0},
      {"nccl", o.skip_nccl, run_nccl_bench, count},
  };
  int ran = 0;
  for (const auto& s : sections) {
    if (s.skip) continue;
    progress(o, fmt::format("-- {} --", s.name));
    try {
      s.fn(o, s.arg, set);
      ++ran;
    } catch (const std::exception& ex) {
      set.notes.push_back(fmt::format("{}: failed: {}", s.name, ex.what()));
      std::fprintf(stderr, "moesim-bench: %s failed: %s\n", s.name, ex.what());
    }
  }
  validation::write_measurements_file(set, o.out);
  std::fprintf(stderr, "moesim-bench: wrote %s (%zu collectives, %zu GEMMs, %zu kernels, %zu notes)\n", o.out.c_str(),
               set.collectives.size(), set.gemms.size(), set.kernels.size(), set.notes.size());
  return ran > 0 ? 0 : 1;
}

}  // namespace
}  // namespace moesim::bench

int main(int argc, char** argv) {
  using namespace moesim::bench;
  std::optional<Options> options;
  try {
    options = parse_args(argc, argv);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "moesim-bench: %s\n\n%s", e.what(), kUsage);
    return 2;
  }
  if (!options) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  try {
    return run(*options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "moesim-bench: %s\n", e.what());
    return 1;
  }
}
