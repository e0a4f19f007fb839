#pragma once
// Pixel-flipping options shared by evaluate and bench evaluate.
#include <CLI/CLI.hpp>
#include <string>

#include "cli/common.h"
#include "perturbation/settings.h"

namespace lrpbench {

// Raw options: empty / 0 means "not given", so that --preset thesis can be overridden
// option by option.
struct PFOptions {
  std::string preset, mode, fill, schedule, score, reduce, full_mask, final_step;
  int radius = 0;
  int64_t patch = 0;
  bool no_cache = false;
  // Settings for an H x W input: defaults, then the preset, then every given option.
  PFSettings settings(int64_t height, int64_t width, const CommonOptions& common) const;
};

void add_pf_options(CLI::App* app, PFOptions& o);

}  // namespace lrpbench
