#pragma once
// The winners of a search (docs/method.md section 4a): per family, the configuration with the
// best mean of the objective over the search images, among those with a value on every one of
// them (ties to the earlier configuration). Used by the search (which configurations the
// held-out images score) and by the report. No LibTorch.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "search/experiment.h"
#include "search/store.h"

namespace lrpbench {

struct Winner {
  int64_t config = -1;  // -1: no configuration of the family was scored on every search image
  double value = 0;     // its objective mean over the search images
};

// The values of metric `name` in every (configuration, image) row: pf-* from the curves under
// the experiment's AUC kind, other metrics from their rows; nullopt where undefined.
std::vector<std::tuple<int64_t, int64_t, std::optional<double>>> metric_rows(
    const Experiment& exp, const std::string& name, const std::vector<CurveRow>& curves,
    const std::vector<MetricRow>& metrics);

// A configuration's values of one metric over some images: the sum of the defined ones, how
// many were defined, and how many rows there were.
struct MeanOf {
  double sum = 0;
  int64_t defined = 0, rows = 0;
  std::optional<double> mean() const {
    return defined > 0 ? std::optional<double>(sum / static_cast<double>(defined)) : std::nullopt;
  }
};
// Per configuration, over the images with id < images (the objective when `name` is empty).
std::map<int64_t, MeanOf> metric_means(const Experiment& exp, const std::string& name,
                                       int64_t images, const std::vector<CurveRow>& curves,
                                       const std::vector<MetricRow>& metrics);

// For every configuration (by id), the first configuration of its family with the same
// canonical form (itself if none came before; reference points: themselves). CMA-ES and
// NSGA-II score a configuration drawn twice once and reuse its values.
std::vector<int64_t> first_same(const std::vector<ConfigRow>& configs);

// NSGA-II's result per family: the configuration ids of its Pareto front (rank 0 of the last
// population, one per canonical form), stored in the run's meta table as JSON.
using ParetoFronts = std::map<std::string, std::vector<int64_t>>;
std::string pareto_json(const ParetoFronts& fronts);
ParetoFronts pareto_from_json(const std::string& text);  // InputError if corrupt

// Per family, in experiment order; images with id >= search_images are held out. With
// `fronts` (nsga2), only each family's Pareto points compete.
std::vector<Winner> family_winners(const Experiment& exp, const std::vector<ConfigRow>& configs,
                                   int64_t search_images, const std::vector<CurveRow>& curves,
                                   const std::vector<MetricRow>& metrics,
                                   const ParetoFronts* fronts = nullptr);

// Successive halving's selection after a rung: of `candidates` (configuration id and its
// objective mean over the rung's images; nullopt: undefined, ranked last) the best
// ceil(n / eta), at least 1, ties to the lower id; sign +1 when higher is better.
std::vector<int64_t> halving_keep(std::vector<std::pair<int64_t, std::optional<double>>> candidates,
                                  int64_t eta, int sign);

// Successive halving's rungs: the number of search images each rung has scored, n_k =
// min(N, min_images eta^k) for k = 0, 1, ... up to the first n_k = N.
std::vector<int64_t> halving_rungs(int64_t search_images, int64_t min_images, int64_t eta);

// +1 when a higher objective is better, -1 when lower is (of metric `name`; empty: the
// objective).
int objective_sign(const Experiment& exp, const std::string& name = "");

}  // namespace lrpbench
