#include "perturbation/metric_catalogue.h"

#include <algorithm>

#include "util/error.h"
#include "util/limits.h"

namespace lrpbench {

const char* better_name(Better b) {
  switch (b) {
    case Better::Lower:
      return "lower";
    case Better::Higher:
      return "higher";
    case Better::None:
      return "none";
  }
  return "none";
}

void MetricOptions::check() const {
  require(!road_fractions.empty(), "--road-fractions: at least one fraction needed");
  require(road_fractions.size() <= kMaxAxisValues,
          "--road-fractions: at most " + std::to_string(kMaxAxisValues) + " fractions, got " +
              std::to_string(road_fractions.size()));
  for (size_t k = 0; k < road_fractions.size(); ++k) {
    require(road_fractions[k] > 0 && road_fractions[k] < 1,
            "--road-fractions: every fraction must lie in (0, 1)");
    require(k == 0 || road_fractions[k] > road_fractions[k - 1],
            "--road-fractions: fractions must be strictly increasing");
  }
  require(road_noise >= 0 && road_noise <= 1, "--road-noise: must lie in [0, 1]");
  require(fc_runs >= 2 && fc_runs <= 100000, "--fc-runs: must lie in [2, 100000]");
  require(!fc_subset || (*fc_subset >= 1 && *fc_subset <= (int64_t{1} << 30)),
          "--fc-subset: must be at least 1");
  require(!irof_region || (*irof_region >= 2 && *irof_region <= 4096),
          "--irof-region: must lie in [2, 4096]");
  require(ms_samples >= 1 && ms_samples <= 10000, "--ms-samples: must lie in [1, 10000]");
  require(ms_radius > 0 && ms_radius <= 10, "--ms-radius: must lie in (0, 10]");
  require(!pg_tolerance || (*pg_tolerance >= 0 && *pg_tolerance <= 4096),
          "--pg-tolerance: must lie in [0, 4096]");
  require(score == "logit" || score == "prob", "--score: logit or prob");
  require(batch >= 1, "--batch: must be at least 1");
  require(auc_kind == "auc" || auc_kind == "aopc" || auc_kind == "auc_normalized",
          "--auc: expected auc, aopc or auc_normalized");
}

void MetricOptions::check_image(int64_t height, int64_t width,
                                const std::vector<std::string>& names) const {
  const std::string image =
      "the " + std::to_string(height) + " x " + std::to_string(width) + " image";
  auto scored = [&](const char* metric) {
    return std::find(names.begin(), names.end(), metric) != names.end();
  };
  if (fc_subset && scored("faithfulness-correlation") && *fc_subset > height * width)
    throw InputError("--fc-subset (fc_subset): " + std::to_string(*fc_subset) +
                     " pixels, more than the " + std::to_string(height * width) + " of " + image);
  if (irof_region && scored("irof") && *irof_region > std::min(height, width))
    throw InputError("--irof-region (irof_region): " + std::to_string(*irof_region) +
                     " pixels, more than the shorter side of " + image + " (" +
                     std::to_string(std::min(height, width)) + ")");
}

const std::vector<MetricInfo>& metric_catalogue() {
  using B = Better;
  using N = MetricNeeds;
  static const std::vector<MetricInfo> all = {
      {"pf-morf", B::Lower, N::Forwards,
       "pixel-flipping curve, most relevant patches first, scored by the AUC kind", Order::Morf},
      {"pf-lrf", B::Higher, N::Forwards,
       "pixel-flipping curve, least relevant patches first, scored by the AUC kind", Order::Lrf},
      {"pf-random", B::None, N::Forwards,
       "pixel-flipping curve in a seeded random order (a control), by the AUC kind",
       Order::Random},
      {"deletion", B::Lower, N::Forwards,
       "AUC of the probability as patches turn black in MoRF order (over the fraction)", {}},
      {"insertion", B::Higher, N::Forwards,
       "AUC of the probability as patches return into a blurred copy in MoRF order", {}},
      {"road-morf", B::Lower, N::Forwards,
       "AUC of the probability over fractions of the most relevant pixels removed and imputed "
       "(ROAD)",
       {}},
      {"road-lerf", B::Higher, N::Forwards,
       "AUC of the probability over fractions of the least relevant pixels removed and imputed "
       "(ROAD)",
       {}},
      {"irof", B::Higher, N::Forwards,
       "1 - AUC of f_k / f_0 (probability) as SLIC superpixels are removed by mean relevance", {}},
      {"faithfulness-correlation", B::Higher, N::Forwards,
       "Pearson correlation of the relevance of random pixel subsets with the score drop when "
       "they are set to 0",
       {}},
      {"sparseness", B::Higher, N::Relevance,
       "Gini index of |r| over pixels: (n-1)/n for one pixel, 0 for a uniform map", {}},
      {"complexity", B::Lower, N::Relevance,
       "entropy of |r| / sum |r| over pixels: 0 for one pixel, ln n for a uniform map", {}},
      {"max-sensitivity", B::Lower, N::Explanations,
       "max over noisy copies of ||r(x + d) - r(x)|| / ||r(x)|| (r summed over channels)", {}},
      {"relevance-mass", B::Higher, N::Mask, "share of the positive relevance inside the mask", {}},
      {"pointing-game", B::Higher, N::Mask,
       "1 if the first maximum of r lies within pg_tolerance pixels of the mask, else 0", {}},
  };
  return all;
}

const MetricInfo& find_metric_info(const std::string& name) {
  std::string known;
  for (const MetricInfo& m : metric_catalogue()) {
    if (m.name == name) return m;
    known += (known.empty() ? "" : ", ") + m.name;
  }
  throw InputError("--metrics: unknown metric '" + name + "' (known: " + known + ")");
}

Better metric_better(const MetricInfo& m, const std::string& auc_kind) {
  if (!m.pf_order || auc_kind != "aopc" || m.better == Better::None) return m.better;
  return m.better == Better::Lower ? Better::Higher : Better::Lower;
}

}  // namespace lrpbench
