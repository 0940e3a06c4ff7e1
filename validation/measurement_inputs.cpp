#include "validation/measurement_inputs.h"

#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "sim/error.h"

namespace moesim::validation {

std::string_view to_string(MeasurementFileKind k) {
  return k == MeasurementFileKind::MeasurementsJson ? "moesim-measurements" : "nccl-tests log";
}

std::vector<std::string> MeasurementInputs::paths() const {
  std::vector<std::string> out;
  for (const auto& f : files) out.push_back(f.path);
  return out;
}

MeasurementFileKind detect_measurement_file_kind(std::string_view text, const std::string& path) {
  std::size_t i = 0;
  if (text.substr(0, 3) == "\xEF\xBB\xBF") i = 3;  // UTF-8 byte-order mark
  while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n')) ++i;
  if (i == text.size())
    throw InputError(
        fmt::format("{}: the file is empty: expected a moesim-measurements JSON or an nccl-tests log", path));
  if (text[i] == '{') return MeasurementFileKind::MeasurementsJson;
  // nccl-tests prints these lines in every test (labelled logs carry them after the prefix).
  for (std::string_view marker : {"# nThread ", "# Collective test starting", "# Avg bus bandwidth"})
    if (text.find(marker) != std::string_view::npos) return MeasurementFileKind::NcclTestsLog;
  throw InputError(
      fmt::format("{}: unknown file type: expected a moesim-measurements JSON (an object starting with '{{') "
                  "or an nccl-tests log (with a '# nThread ...' header line)",
                  path));
}

MeasurementFile read_measurement_file(const std::string& path, const NcclTestsImportOptions& log_options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(fmt::format("{}: cannot open file for reading", path));
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw InputError(fmt::format("{}: cannot read the file", path));
  const std::string text = ss.str();
  MeasurementFile f;
  f.path = path;
  f.kind = detect_measurement_file_kind(text, path);
  if (f.kind == MeasurementFileKind::MeasurementsJson) {
    f.set = read_measurements_text(text, path);
  } else {
    f.set = import_nccl_tests_log_text(text, path, log_options).measurements;
    if (f.set.collectives.empty())
      throw InputError(fmt::format("{}: the nccl-tests log has no table of a supported collective", path));
  }
  return f;
}

MeasurementInputs read_measurement_files(std::span<const std::string> paths,
                                         const NcclTestsImportOptions& log_options) {
  if (paths.empty()) throw InputError("no measurement files given");
  MeasurementInputs in;
  for (const auto& p : paths) in.files.push_back(read_measurement_file(p, log_options));
  for (std::size_t fi = 0; fi < in.files.size(); ++fi) {
    const auto& s = in.files[fi].set;
    const int idx = static_cast<int>(fi);
    if (fi == 0) {
      in.merged.hardware = s.hardware;
      in.merged.source = s.source;
    }
    for (const auto& c : s.collectives) {
      in.merged.collectives.push_back(c);
      in.collective_file.push_back(idx);
    }
    for (const auto& g : s.gemms) {
      in.merged.gemms.push_back(g);
      in.gemm_file.push_back(idx);
    }
    for (const auto& k : s.kernels) {
      in.merged.kernels.push_back(k);
      in.kernel_file.push_back(idx);
    }
    for (const auto& n : s.notes) in.merged.notes.push_back(fmt::format("{}: {}", in.files[fi].path, n));
  }
  return in;
}

void RowTally::add(const std::string& file, const std::string& what, const std::string& why) {
  auto [it, inserted] = index_.emplace(std::make_tuple(file, what, why), entries_.size());
  if (inserted) entries_.push_back({file, what, why, 0});
  ++entries_[it->second].count;
}

std::vector<std::string> RowTally::lines(std::string_view verb) const {
  std::vector<std::string> out;
  for (const auto& e : entries_)
    out.push_back(fmt::format("{}: {} {} row{}{}: {}", e.file, e.count, e.what, e.count == 1 ? "" : "s", verb, e.why));
  return out;
}

}  // namespace moesim::validation
