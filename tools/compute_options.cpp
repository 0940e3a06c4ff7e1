// CostArgs::load_compute (declared in tools/common_options.h): the compute half of a
// calibration file.
#include <fmt/format.h>

#include "sim/json_reader.h"
#include "tools/common_options.h"
#include "validation/calibrate.h"

namespace moesim::cli {

ComputeEfficiency CostArgs::load_compute() const {
  if (calibration.empty()) return ComputeEfficiency::defaults();
  return validation::load_calibration_compute(calibration);
}

std::string CostArgs::compute_origin() const {
  const std::string defaults = "embedded defaults (models/data/compute_efficiency.json)";
  if (calibration.empty()) return defaults;
  const auto root = JsonReader::parse_file(calibration);
  if (root.is_object() && root.contains("compute")) return fmt::format("{} (compute section)", calibration);
  return fmt::format("{} has no compute section: {}", calibration, defaults);
}

}  // namespace moesim::cli
