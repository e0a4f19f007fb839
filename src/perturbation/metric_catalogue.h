#pragma once
// The metric catalogue (docs/method.md section 6): every metric's name, better direction, what
// it needs and a one-line summary, without LibTorch, so that experiment files, the store and
// the fuzz targets know the metrics. perturbation/metric.h binds each entry to the scoring
// function of its file in perturbation/metrics/. A new metric: its file, its line here (in
// metric_catalogue.cpp) and its line in metric.cpp's table; a test checks that the two agree.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "perturbation/order.h"
#include "perturbation/settings.h"

namespace lrpbench {

enum class Better { Lower, Higher, None };
const char* better_name(Better b);

// What a metric needs beyond the relevance maps.
enum class MetricNeeds {
  Relevance,     // the maps alone (sparseness, complexity)
  Mask,          // a ground-truth mask (localisation)
  Forwards,      // forward passes of perturbed inputs
  Explanations,  // explanations of other inputs under the same configurations
};

// The metric options of docs/method.md (defaults as documented; unset optionals follow the
// image).
struct MetricOptions {
  std::vector<double> road_fractions = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9};
  double road_noise = 0.01;
  int64_t fc_runs = 100;
  std::optional<int64_t> fc_subset;  // default floor(224 H W / 224^2 + 0.5)
  std::optional<int64_t> irof_region;
  int64_t ms_samples = 10;
  double ms_radius = 0.02;
  std::optional<int64_t> pg_tolerance;  // default max(1, floor(15 min(H, W) / 224))
  uint64_t seed = 0;
  std::string score = "logit";  // logit | prob: f(x) where a metric does not name one
  int64_t batch = 64;           // forward batch
  PFSettings pf;                // patches, patch scores and schedule of deletion / insertion
  std::string auc_kind = "auc";  // pf-*: auc | aopc | auc_normalized
  // Throws InputError naming the option.
  void check() const;
  // The options of the metrics `names` (those scored) against the images they meet (H x W
  // pixels): fc_subset at most H W pixels (faithfulness-correlation), irof_region at most
  // min(H, W) (irof: a larger region is one superpixel, the whole image; OpenCV's SLIC
  // crashes from about twice the shorter side). Options of metrics not scored are not
  // checked. Throws InputError naming the option (and its experiment key) and the image size.
  void check_image(int64_t height, int64_t width, const std::vector<std::string>& names) const;
};

struct MetricInfo {
  std::string name;
  Better better = Better::None;
  MetricNeeds needs = MetricNeeds::Relevance;
  std::string summary;            // one line for --help and docs
  std::optional<Order> pf_order;  // pf-morf / pf-lrf / pf-random: the search's stored curves
};

// Every metric, in documentation order.
const std::vector<MetricInfo>& metric_catalogue();
// The metric called `name`; throws InputError naming the known ones.
const MetricInfo& find_metric_info(const std::string& name);
// The direction of `m` under an AUC kind: aopc reverses the pf-* metrics.
Better metric_better(const MetricInfo& m, const std::string& auc_kind);

}  // namespace lrpbench
