// NCCL collectives among the GPUs of this process (ncclCommInitAll, one communicator per
// device, driven from one thread inside ncclGroupStart/End), reported as nccl-tests reports them
// so the results compare with nccl-tests logs directly:
//   - float elements; "size" = bytes per rank as nccl-tests prints it (all-gather: the gathered
//     total; all-to-all: what each rank sends in total; send/recv: what each rank sends);
//   - time = host wall-clock per iteration over `iters` back-to-back iterations after warm-up,
//     ended by synchronising every stream (nccl-tests' default, non-graph mode);
//   - algbw = size / time; busbw = algbw * factor (validation::busbw_factor).
// All-to-all is grouped ncclSend/ncclRecv to every peer, as NCCL-based MoE frameworks do it.
// Send/recv is a ring: rank r sends to r+1 and receives from r-1 (nccl-tests' sendrecv_perf).
// With one GPU the collectives still run on a 1-rank communicator (valid in NCCL) and are
// recorded with ranks = 1. Communicator sizes 2, 4, 8, ... up to all GPUs are measured (full
// mode), which gives all-to-all fits several peer counts.
#include "validation/bench/bench_common.h"

#if MOESIM_BENCH_HAVE_NCCL
#include <nccl.h>
#endif

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

namespace moesim::bench {

#if !MOESIM_BENCH_HAVE_NCCL

void run_nccl_bench(const Options&, int, validation::MeasurementSet&) {
  throw BenchError("nccl: moesim-bench was built without NCCL (see docs/CALIBRATION.md: NCCL_ROOT)");
}

#else

namespace {

void check_nccl(ncclResult_t r, const char* call, const char* file, int line) {
  if (r == ncclSuccess) return;
  throw BenchError(fmt::format("{}:{}: {} failed: {}", file, line, call, ncclGetErrorString(r)));
}
#define MOESIM_BENCH_NCCL(call) check_nccl((call), #call, __FILE__, __LINE__)

using validation::CollectiveOp;

/// The communicators and buffers of one group of GPUs.
struct Group {
  int n = 0;
  std::vector<int> devices;
  std::vector<ncclComm_t> comms;
  std::vector<cudaStream_t> streams;
  std::vector<DeviceBuffer> send, recv;

  Group(int size, std::size_t buffer_bytes) : n(size) {
    for (int d = 0; d < n; ++d) devices.push_back(d);
    comms.resize(static_cast<std::size_t>(n));
    MOESIM_BENCH_NCCL(ncclCommInitAll(comms.data(), n, devices.data()));
    for (int d = 0; d < n; ++d) {
      MOESIM_BENCH_CUDA(cudaSetDevice(d));
      cudaStream_t s = nullptr;
      MOESIM_BENCH_CUDA(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
      streams.push_back(s);
      send.emplace_back(buffer_bytes);
      recv.emplace_back(buffer_bytes);
      MOESIM_BENCH_CUDA(cudaMemsetAsync(send.back().get(), 0, buffer_bytes, s));
    }
  }
  ~Group() {
    for (std::size_t i = 0; i < comms.size(); ++i)
      if (comms[i]) ncclCommDestroy(comms[i]);
    for (std::size_t i = 0; i < streams.size(); ++i) {
      cudaSetDevice(devices[i]);
      cudaStreamDestroy(streams[i]);
    }
  }
  Group(const Group&) = delete;
  Group& operator=(const Group&) = delete;

  void sync() {
    for (int d = 0; d < n; ++d) {
      MOESIM_BENCH_CUDA(cudaSetDevice(d));
      MOESIM_BENCH_CUDA(cudaStreamSynchronize(streams[static_cast<std::size_t>(d)]));
    }
  }
};

/// Elements per rank buffer slot and the nccl-tests "size" for `op` at about `bytes`.
struct Shape {
  std::size_t count = 0;  // elements: per peer (alltoall), per rank (allgather), else total
  std::int64_t size = 0;  // bytes as nccl-tests prints them
};

Shape shape_for(CollectiveOp op, std::int64_t bytes, int n) {
  const auto elems = static_cast<std::size_t>(bytes / 4);
  switch (op) {
    case CollectiveOp::AllToAll:
    case CollectiveOp::AllGather: {
      const std::size_t per = elems / static_cast<std::size_t>(n);
      return {per, static_cast<std::int64_t>(per * 4 * static_cast<std::size_t>(n))};
    }
    default:
      return {elems, static_cast<std::int64_t>(elems * 4)};
  }
}

void enqueue(Group& g, CollectiveOp op, std::size_t count) {
  MOESIM_BENCH_NCCL(ncclGroupStart());
  for (int r = 0; r < g.n; ++r) {
    const auto i = static_cast<std::size_t>(r);
    auto* sb = g.send[i].as<float>();
    auto* rb = g.recv[i].as<float>();
    switch (op) {
      case CollectiveOp::AllReduce:
        MOESIM_BENCH_NCCL(ncclAllReduce(sb, rb, count, ncclFloat, ncclSum, g.comms[i], g.streams[i]));
        break;
      case CollectiveOp::AllGather:
        MOESIM_BENCH_NCCL(ncclAllGather(sb, rb, count, ncclFloat, g.comms[i], g.streams[i]));
        break;
      case CollectiveOp::AllToAll:
        for (int p = 0; p < g.n; ++p) {
          const auto off = static_cast<std::size_t>(p) * count;
          MOESIM_BENCH_NCCL(ncclSend(sb + off, count, ncclFloat, p, g.comms[i], g.streams[i]));
          MOESIM_BENCH_NCCL(ncclRecv(rb + off, count, ncclFloat, p, g.comms[i], g.streams[i]));
        }
        break;
      case CollectiveOp::SendRecv:
        MOESIM_BENCH_NCCL(ncclSend(sb, count, ncclFloat, (r + 1) % g.n, g.comms[i], g.streams[i]));
        MOESIM_BENCH_NCCL(ncclRecv(rb, count, ncclFloat, (r - 1 + g.n) % g.n, g.comms[i], g.streams[i]));
        break;
      default:
        throw BenchError("nccl: op not benchmarked");
    }
  }
  MOESIM_BENCH_NCCL(ncclGroupEnd());
}

}  // namespace

void run_nccl_bench(const Options& o, int device_count, validation::MeasurementSet& out) {
  std::vector<int> sizes_n;
  if (o.quick || device_count == 1) {
    sizes_n = {device_count};
  } else {
    for (int n = 2; n < device_count; n *= 2) sizes_n.push_back(n);
    sizes_n.push_back(device_count);
  }
  const int warmup = o.quick ? 2 : 5, iters = o.quick ? 10 : 20;
  const std::int64_t step = o.quick ? 4 : 2;
  const std::int64_t max_bytes = o.quick ? std::min<std::int64_t>(o.max_bytes, 16 << 20) : o.max_bytes;
  int measured = 0;

  for (const int n : sizes_n) {
    MOESIM_BENCH_CUDA(cudaSetDevice(0));
    const auto cap = std::min<std::int64_t>(max_bytes, static_cast<std::int64_t>(free_device_memory() / 4));
    try {
      Group g(n, static_cast<std::size_t>(cap));
      g.sync();
      for (const auto op : {CollectiveOp::AllToAll, CollectiveOp::AllReduce, CollectiveOp::AllGather,
                            CollectiveOp::SendRecv}) {
        try {
          for (std::int64_t bytes = 8; bytes <= cap; bytes *= step) {
            const auto sh = shape_for(op, bytes, n);
            if (sh.count == 0) continue;
            for (int i = 0; i < warmup; ++i) enqueue(g, op, sh.count);
            g.sync();
            const auto t0 = std::chrono::steady_clock::now();
            for (int i = 0; i < iters; ++i) enqueue(g, op, sh.count);
            g.sync();
            const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / iters;
            validation::CollectiveMeasurement m;
            m.op = op;
            m.ranks = n;
            m.nodes = 1;
            m.bytes = sh.size;
            m.count = sh.size / 4;
            m.dtype = "float";
            m.redop = op == CollectiveOp::AllReduce ? "sum" : "none";
            m.root = -1;
            m.in_place = false;
            m.time_us = us;
            m.algbw_GBps = static_cast<double>(sh.size) / us / 1e3;
            m.busbw_GBps = m.algbw_GBps * validation::busbw_factor(op, n);
            out.collectives.push_back(m);
            ++measured;
            progress(o, fmt::format("{:9} n={} {:11} B: {:10.2f} us  algbw {:7.2f}  busbw {:7.2f} GB/s",
                                    validation::to_string(op), n, sh.size, us, m.algbw_GBps, m.busbw_GBps));
          }
        } catch (const BenchError& e) {
          out.notes.push_back(fmt::format("nccl {} on {} GPUs: stopped: {}", validation::to_string(op), n, e.what()));
        }
      }
    } catch (const BenchError& e) {
      out.notes.push_back(fmt::format("nccl on {} GPUs: skipped: {}", n, e.what()));
    }
  }
  if (measured == 0) throw BenchError("nccl: no collective could be measured (see notes)");
}

#endif

}  // namespace moesim::bench
