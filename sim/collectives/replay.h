#pragma once
// Replay of a captured GPU -> GPU traffic matrix as one all-to-all-v (`moesim replay`,
// docs/REPLAY.md).
//
// A traffic matrix gives the bytes each source GPU sends to each destination GPU, indexed
// by global GPU index (= GpuId: node-major, node * GPUs-per-node + local index). Two file
// formats:
//  - JSON, dense:  {"gpus": P, "bytes": [[b00, b01, ...], ...]}  (P rows of P numbers);
//  - CSV, sparse:  "src,dst,bytes" rows; an optional header line "src,dst,bytes"; repeated
//    pairs add up; blank lines and "#" comments (whole-line or trailing) are ignored.
// Entries must be finite and >= 0. The diagonal (i -> i) is a local copy: it takes no time.
//
// Replay: every flow starts at time 0 as one all-to-all-v, moved by NCCL's direct
// algorithm or the 2-level hierarchical one (sim/collectives/collectives.h), on the
// flow-level network with the given cost factors. With CostFactors::ideal() (no overheads,
// efficiency 1, every peer at once) each transfer takes path latency + bytes at its max-min
// rate exactly: the recipe for cross-checking the network model against other max-min
// simulators on the same flows. Routes are TransferService's: the topology's paths, with
// NCCL's PXN detour for cross-rail inter-node messages when costs.collective().pxn is set
// (it is in ideal() too).
//
// Worked example (ideal, build_simple_cluster: 2 nodes x 8 GPUs, 4 NICs of 12.5 GB/s per
// node, each shared by 2 GPUs): a uniform matrix of b bytes per ordered pair puts 16 b on
// every NIC uplink and downlink (plain routes: 2 GPUs x 8 remote peers; PXN: 8 GPUs x the
// 2 remote GPUs on the NIC's rail); all 128 inter-node flows share the NICs equally, end
// their bandwidth phase together at 16 b / 12.5e9 and are delivered a path latency later.
//
// Errors: a malformed file or bad entry is a ConfigError naming the file and the JSON
// pointer ("m.json: /bytes/3/7: ...") or a MatrixFormatError ("m.csv:12: ..."); a matrix
// whose size does not match the cluster is one of those too (given `expected_gpus`) or an
// InputError from replay_traffic.
//
// Cost: parsing is linear in the file size; the replay builds one task per non-zero entry
// (~64 B each, plus the network's per-flow state) and runs the max-min network to the end.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sim/collectives/collectives.h"
#include "sim/cost_factors.h"
#include "sim/error.h"
#include "sim/network.h"
#include "topologies/topology.h"

namespace moesim {

/// Largest matrix accepted (P x P doubles = 2 GiB): guards against a typo'd GPU index.
inline constexpr int kMaxTrafficMatrixGpus = 16384;

struct TrafficMatrix {
  int gpus = 0;               // P
  std::vector<double> bytes;  // row-major P x P: bytes[src * P + dst], each finite and >= 0
  std::string source;         // file name / label, for messages

  double at(int src, int dst) const {
    return bytes[static_cast<std::size_t>(src) * static_cast<std::size_t>(gpus) + dst];
  }
  double& at(int src, int dst) { return bytes[static_cast<std::size_t>(src) * static_cast<std::size_t>(gpus) + dst]; }
  /// A P x P matrix of zeros.
  static TrafficMatrix zeros(int gpus, std::string source = "matrix");
};

/// A line-oriented input file (CSV matrix) that cannot be read. what() = "<file>:<line>: <message>"
/// (line 0 = the file as a whole).
class MatrixFormatError : public InputError {
 public:
  MatrixFormatError(std::string file, int line, const std::string& message);
  const std::string& file() const { return file_; }
  int line() const { return line_; }

 private:
  std::string file_;
  int line_;
};

/// Reads a matrix file; the format comes from the extension (.json or .csv, any case).
/// expected_gpus > 0: the matrix must have exactly that many GPUs (JSON "gpus") or only GPU
/// indices below it (CSV; the matrix is then expected_gpus x expected_gpus). 0: JSON's
/// "gpus", or the CSV's largest index + 1.
TrafficMatrix load_traffic_matrix(const std::string& path, int expected_gpus = 0);
TrafficMatrix parse_traffic_matrix_json(std::string_view text, const std::string& label, int expected_gpus = 0);
TrafficMatrix parse_traffic_matrix_csv(std::string_view text, const std::string& label, int expected_gpus = 0);

/// Writers (round-trip exactly: shortest representation of each double). CSV lists the
/// non-zero entries with a header line; JSON is dense, one row per line.
std::string traffic_matrix_to_csv(const TrafficMatrix& m);
std::string traffic_matrix_to_json(const TrafficMatrix& m);

/// One network transfer of the replay (direct: one per non-zero off-diagonal entry;
/// hierarchical: the phase-1 and phase-2 messages). Self copies are not listed.
struct ReplayTransfer {
  GpuId src;
  GpuId dst;
  double bytes = 0;
  Time start;   // when it was issued (0 unless the cost factors bound the peers in flight, or phase 2)
  Time finish;  // when its last byte was delivered (bandwidth phase + path latency)
};

struct ReplayOptions {
  bool record_transfers = false;  // fill ReplayResult::transfer_log (~40 B per transfer)
};

struct ReplayResult {
  Time completion;  // the last transfer's delivery (0 if nothing moved)
  /// Per GPU: when the last transfer this GPU sends was delivered / the last transfer to
  /// it was delivered; 0 for a GPU with none. Hierarchical: the GPU's own transfers in both
  /// phases (phase 2 relays data of its node's GPUs).
  std::vector<Time> send_finish;
  std::vector<Time> recv_finish;
  std::vector<double> bytes_sent;            // per GPU: matrix row sum without the diagonal
  std::vector<double> bytes_received;        // per GPU: matrix column sum without the diagonal
  double total_bytes = 0;                    // sum of the off-diagonal entries
  double self_bytes = 0;                     // sum of the diagonal (local copies)
  std::uint64_t transfers = 0;               // network transfers simulated (incl. zero-time self copies)
  std::vector<LinkStats> links;              // per LinkId (Network::link_stats())
  std::vector<ReplayTransfer> transfer_log;  // with ReplayOptions::record_transfers, in task order
};

/// Replays `m` (m.gpus must equal topo.gpu_count(), else InputError naming m.source) as
/// one all-to-all-v starting at time 0. Uses costs.collective().alltoall_max_peers_in_flight
/// and costs.network().completion_window, as simulate_collective does.
ReplayResult replay_traffic(const Topology& topo, const CostFactors& costs, const TrafficMatrix& m,
                            AllToAllAlgorithm algorithm = AllToAllAlgorithm::Direct, const ReplayOptions& options = {});

/// utilization = wire bytes / (capacity x completion time): the share of the link's
/// capacity over the whole replay that its traffic occupied (payload / efficiency; equal to
/// payload bytes with ideal cost factors). 0 when the completion time is 0.
struct LinkUsage {
  LinkId link;
  double capacity_Bps = 0;
  Time latency;
  double bytes = 0;
  double wire_bytes = 0;
  double utilization = 0;
  Time busy;
  std::uint32_t peak_flows = 0;
};

/// Links grouped by (link class, catalog kind), in class order then kind name.
struct LinkKindUsage {
  LinkClass link_class = LinkClass::NVLink;
  std::string kind;
  int links = 0;            // directed links of this class and kind
  int links_used = 0;       // of them, those that carried bytes
  double capacity_Bps = 0;  // summed over the links
  double min_link_capacity_Bps = 0;
  double max_link_capacity_Bps = 0;
  double bytes = 0;
  double wire_bytes = 0;
  double utilization = 0;      // wire_bytes / (capacity_Bps x completion)
  double max_utilization = 0;  // of its busiest link
};

std::vector<LinkKindUsage> usage_by_link_kind(const Topology& topo, const ReplayResult& r);
/// The `count` links with the highest utilization (ties: more wire bytes, then lower LinkId),
/// only links that carried bytes.
std::vector<LinkUsage> busiest_links(const Topology& topo, const ReplayResult& r, std::size_t count);
/// Usage of one link.
LinkUsage link_usage(const Topology& topo, const ReplayResult& r, LinkId l);

}  // namespace moesim
