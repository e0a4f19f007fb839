#include "cli/metric_options.h"

#include <algorithm>

#include "cli/common.h"

namespace lrpbench {

MetricOptions MetricCliOptions::settings(uint64_t seed, const std::string& score,
                                         int64_t batch) const {
  MetricOptions o;
  o.fc_runs = fc_runs;
  if (fc_subset > 0) o.fc_subset = fc_subset;
  o.ms_samples = ms_samples;
  o.ms_radius = ms_radius;
  if (pg_tolerance >= 0) o.pg_tolerance = pg_tolerance;
  if (irof_region > 0) o.irof_region = irof_region;
  o.road_noise = road_noise;
  if (!road_fractions.empty()) {
    o.road_fractions.clear();
    size_t p = 0;
    while (p <= road_fractions.size()) {
      const size_t e = std::min(road_fractions.find(',', p), road_fractions.size());
      o.road_fractions.push_back(
          parse_real(road_fractions.substr(p, e - p), "--road-fractions", 0.0, 1.0));
      p = e + 1;
    }
  }
  o.seed = seed;
  o.score = score;
  o.batch = batch;
  o.check();
  return o;
}

void add_metric_options(CLI::App* app, MetricCliOptions& o) {
  std::string names;
  for (const Metric& m : metrics()) names += (names.empty() ? "" : ", ") + m.name;
  app->add_option("--metrics", o.metrics,
                  "comma list of metrics (evaluate: added to evaluate.json; bench metrics: those "
                  "timed, default all): " + names);
  app->add_option("--mask", o.mask,
                  "ground-truth mask .npy for relevance-mass and pointing-game (H x W, or N x H "
                  "x W; nonzero = inside); Fashion-MNIST inputs default to their foreground");
  app->add_option("--boxes", o.boxes,
                  "ImageNet LOC_val_solution.csv: masks from the boxes of each --image's target "
                  "class (image id = file name without extension), mapped through --resize");
  add_bounded_option(app, "--fc-runs", o.fc_runs, 2, 100000,
                     "faithfulness-correlation: random subsets (default 100)");
  add_bounded_option(app, "--fc-subset", o.fc_subset, 1, int64_t{1} << 30,
                     "faithfulness-correlation: pixels per subset, at most H x W (default 224 at "
                     "224x224, 4 at 28x28: round(224 H W / 224^2))");
  app->add_option("--road-fractions", o.road_fractions,
                  "road-morf / road-lerf: comma list of at most 10000 fractions of pixels "
                  "removed, strictly increasing, each in (0, 1) (default 0.1,0.2,...,0.9)");
  add_real_option(app, "--road-noise", o.road_noise, 0.0, 1.0,
                  "road-morf / road-lerf: noise on imputed pixels, pixel-value units (default "
                  "0.01)");
  add_bounded_option(app, "--irof-region", o.irof_region, 2, 4096,
                     "irof: SLIC region size in pixels, at most min(H, W) (default 16; min(H, W) "
                     "/ 4 below 64 pixels a side: 7 at 28x28)");
  add_bounded_option(app, "--ms-samples", o.ms_samples, 1, 10000,
                     "max-sensitivity: noisy copies (default 10)");
  add_real_option(app, "--ms-radius", o.ms_radius, 1e-9, 10.0,
                  "max-sensitivity: noise radius as a share of the input's range (default 0.02)");
  add_bounded_option(app, "--pg-tolerance", o.pg_tolerance, 0, 4096,
                     "pointing-game: distance in pixels (default max(1, 15 min(H, W) / 224))");
}

}  // namespace lrpbench
