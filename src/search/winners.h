#pragma once
// The winners of a search (docs/method.md section 4a): per family, the configuration with the
// best mean of the objective over the search images, among those with a value on every one of
// them (ties to the earlier configuration). Used by the search (which configurations the
// held-out images score) and by the report. No LibTorch.
#include <cstdint>
#include <optional>
#include <vector>

#include "search/experiment.h"
#include "search/store.h"

namespace lrpbench {

struct Winner {
  int64_t config = -1;  // -1: no configuration of the family was scored on every search image
  double value = 0;     // its objective mean over the search images
};

// The objective's values of every (configuration, image) row: pf-* from the curves under the
// experiment's AUC kind, other metrics from their rows; nullopt where undefined.
std::vector<std::tuple<int64_t, int64_t, std::optional<double>>> objective_rows(
    const Experiment& exp, const std::vector<CurveRow>& curves,
    const std::vector<MetricRow>& metrics);

// Per family, in experiment order; images with id >= search_images are held out.
std::vector<Winner> family_winners(const Experiment& exp, const std::vector<ConfigRow>& configs,
                                   int64_t search_images, const std::vector<CurveRow>& curves,
                                   const std::vector<MetricRow>& metrics);

// Successive halving's rungs: the number of search images each rung has scored, n_k =
// min(N, min_images eta^k) for k = 0, 1, ... up to the first n_k = N.
std::vector<int64_t> halving_rungs(int64_t search_images, int64_t min_images, int64_t eta);

// +1 when a higher objective is better, -1 when lower is.
int objective_sign(const Experiment& exp);

}  // namespace lrpbench
