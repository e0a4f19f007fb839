#pragma once
// Metric options (docs/method.md section 6), shared by evaluate (and, later, search).
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "perturbation/metric.h"

namespace lrpbench {

struct MetricCliOptions {
  std::string metrics;  // comma list; empty: none
  std::string mask;     // .npy, H x W or N x H x W
  std::string boxes;    // LOC_val_solution.csv: the target class's boxes (--image inputs)
  int64_t fc_runs = 100, fc_subset = 0, ms_samples = 10, pg_tolerance = -1, irof_region = 0;
  double ms_radius = 0.02, road_noise = 0.01;
  std::string road_fractions;  // comma list; empty: 0.1, 0.2, ..., 0.9
  // The options as settings (seed, score and batch from the run); throws InputError.
  MetricOptions settings(uint64_t seed, const std::string& score, int64_t batch) const;
};

void add_metric_options(CLI::App* app, MetricCliOptions& o);

}  // namespace lrpbench
