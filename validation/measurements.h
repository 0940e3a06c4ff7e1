#pragma once
// Measurement sets: what was measured on real GPUs (by moesim-bench, or imported from
// nccl-tests logs), in one strict JSON schema ("moesim-measurements", version 1; documented
// field by field in docs/CALIBRATION.md). Calibration (validation/fit.h) reads these; nothing
// here knows about the simulator.
//
// Units are in the names: times in microseconds (`time_us`), sizes in bytes, bandwidths in
// GB/s with 1 GB = 1e9 bytes (nccl-tests' convention), clocks in MHz.
//
// Reading is strict (sim/json_reader.h): unknown keys and out-of-range values are ConfigErrors
// naming the file and the JSON pointer. Writing produces keys in a fixed order, so the same
// MeasurementSet always gives byte-identical text; read(write(x)) == x.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace moesim::validation {

/// The collectives nccl-tests and moesim-bench measure. JSON names: "alltoall", "allreduce",
/// "allgather", "reducescatter", "sendrecv", "broadcast", "reduce".
enum class CollectiveOp : std::uint8_t { AllToAll, AllReduce, AllGather, ReduceScatter, SendRecv, Broadcast, Reduce };
inline constexpr CollectiveOp kAllCollectiveOps[] = {CollectiveOp::AllToAll,  CollectiveOp::AllReduce,
                                                     CollectiveOp::AllGather, CollectiveOp::ReduceScatter,
                                                     CollectiveOp::SendRecv,  CollectiveOp::Broadcast,
                                                     CollectiveOp::Reduce};
std::string_view to_string(CollectiveOp op);
std::optional<CollectiveOp> collective_op_from_string(std::string_view s);

/// nccl-tests' bus-bandwidth factor: busbw = algbw * factor (src/*.cu, `*GetBw`):
/// allreduce 2(n-1)/n; allgather, reducescatter, alltoall (n-1)/n; sendrecv, broadcast, reduce 1.
/// `ranks` >= 1 (a 1-rank all-reduce has factor 0: nothing crosses a bus).
double busbw_factor(CollectiveOp op, int ranks);

/// GEMM element types moesim-bench times (and calibration groups by).
/// "fp32", "tf32", "fp16", "bf16", "fp8_e4m3", "fp8_e5m2".
const std::vector<std::string>& gemm_dtypes();
/// Kernel names: "gate_softmax_topk", "permute", "unpermute", "hbm_copy", "h2d", "d2h".
const std::vector<std::string>& kernel_names();

struct Clocks {
  std::optional<double> sm_MHz;      // peak SM clock
  std::optional<double> memory_MHz;  // peak memory clock
  bool operator==(const Clocks&) const = default;
};

/// What the measurements ran on. Empty strings / nullopt = unknown (an imported nccl-tests
/// log knows the GPU name and hosts, rarely the driver).
struct HardwareInfo {
  std::string gpu_name;                    // e.g. "NVIDIA H100 80GB HBM3"
  int gpu_count = 0;                       // GPUs that took part; 0 = unknown
  std::string driver;                      // e.g. "13.0" (cudaDriverGetVersion) or a driver release
  std::string cuda_version;                // CUDA runtime, e.g. "13.0"
  std::string nccl_version;                // e.g. "2.28.9"
  Clocks clocks;
  std::string topology_text;               // output of `nvidia-smi topo -m`, verbatim
  std::string hostname;                    // comma-separated when several hosts took part
  std::string date;                        // ISO 8601, UTC, e.g. "2025-06-01T12:00:00Z"
  std::string compute_capability;          // e.g. "9.0"
  std::optional<int> sm_count;
  std::optional<std::int64_t> memory_bytes;  // device memory per GPU
  bool operator==(const HardwareInfo&) const = default;
};

/// Where a measurement set came from.
struct MeasurementSource {
  std::string tool;  // e.g. "moesim-bench 0.1.0", "nccl-tests"
  std::string file;  // the log or output file it was read from / written to ("" = none)
  bool operator==(const MeasurementSource&) const = default;
};

/// Spread of repeated timings (all in microseconds, min <= p10 <= p90 <= max).
struct TimeSpread {
  double min_us = 0;
  double p10_us = 0;
  double p90_us = 0;
  double max_us = 0;
  bool operator==(const TimeSpread&) const = default;
};

/// One row of an nccl-tests table (or its moesim-bench equivalent), one column group
/// (out-of-place or in-place). `bytes` is nccl-tests' "size" column: for all-gather the total
/// gathered bytes, for all-to-all the bytes each rank sends in total, for reduce-scatter the
/// bytes each rank contributes; algbw = bytes / time in all cases.
struct CollectiveMeasurement {
  CollectiveOp op = CollectiveOp::AllReduce;
  int ranks = 1;                      // communicator size, >= 1
  std::optional<int> nodes;           // distinct hosts, if known
  std::int64_t bytes = 0;             // >= 0
  std::optional<std::int64_t> count;  // elements, as nccl-tests prints them
  std::string dtype = "float";        // nccl-tests type name ("float", "bfloat16", "half", ...)
  std::string redop = "none";         // "sum", "max", ... or "none"
  std::optional<int> root;            // -1 or a rank, as nccl-tests prints it
  bool in_place = false;
  double time_us = 0;                 // >= 0
  double algbw_GBps = 0;
  double busbw_GBps = 0;
  std::optional<std::int64_t> wrong;  // nccl-tests #wrong; nullopt = not checked ("N/A")
  bool operator==(const CollectiveMeasurement&) const = default;
};

/// One GEMM shape in MoE terms: activations [m x k] times weights [k x n] -> [m x n];
/// m = tokens routed to the expert. flops = 2 m n k.
struct GemmMeasurement {
  std::int64_t m = 0;
  std::int64_t n = 0;
  std::int64_t k = 0;
  std::string dtype = "bf16";                 // one of gemm_dtypes()
  double time_us = 0;                         // median over reps, > 0
  std::optional<TimeSpread> spread;
  int reps = 1;                               // timed samples behind the median
  std::optional<int> iterations_per_rep;      // back-to-back launches per timed sample
  double tflops = 0;                          // 2 m n k / time, in 1e12 FLOP/s
  bool operator==(const GemmMeasurement&) const = default;
};

/// A memory-bound kernel or copy. `bytes` = device-memory bytes read plus written (for h2d and
/// d2h: bytes transferred), the quantity calibration divides by time.
struct KernelMeasurement {
  std::string name;                               // one of kernel_names()
  std::map<std::string, std::int64_t> params;     // e.g. {"tokens":4096,"experts":64,"top_k":8}
  std::int64_t bytes = 0;                         // >= 0
  double time_us = 0;                             // median, > 0
  std::optional<TimeSpread> spread;
  int reps = 1;
  bool operator==(const KernelMeasurement&) const = default;
};

struct MeasurementSet {
  HardwareInfo hardware;
  MeasurementSource source;
  std::vector<CollectiveMeasurement> collectives;
  std::vector<GemmMeasurement> gemms;
  std::vector<KernelMeasurement> kernels;
  std::vector<std::string> notes;  // skipped measurements, warnings
  bool operator==(const MeasurementSet&) const = default;
};

inline constexpr std::string_view kMeasurementFormat = "moesim-measurements";
inline constexpr int kMeasurementFormatVersion = 1;

/// Strict reading. Throws ConfigError (file + JSON pointer) on any schema violation.
MeasurementSet read_measurements_file(const std::string& path);
MeasurementSet read_measurements_text(std::string_view text, const std::string& label);
MeasurementSet measurements_from_json(const nlohmann::json& root, const std::string& label);

/// Writing. Optional fields that are unset are omitted. write_* check the result against the
/// schema by reading it back (ConfigError labelled "<measurements being written>" on a
/// violation, e.g. negative bytes) and throw ConfigError if the file cannot be written.
nlohmann::ordered_json to_json(const MeasurementSet& set);
std::string write_measurements_text(const MeasurementSet& set);  // 2-space indent, trailing \n
void write_measurements_file(const MeasurementSet& set, const std::string& path);

}  // namespace moesim::validation
