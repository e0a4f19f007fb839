#include "cli/evaluate_options.h"

#include "util/error.h"
#include "util/limits.h"

namespace lrpbench {

PFSettings PFOptions::settings(int64_t height, int64_t width, const CommonOptions& common) const {
  PFSettings s;
  require(preset.empty() || preset == "thesis",
          "--preset: unknown preset '" + preset + "' (thesis)");
  if (preset == "thesis") s.apply_thesis_preset();
  if (!mode.empty()) s.mode = mode;
  if (!fill.empty()) s.fill = fill;
  if (!schedule.empty()) s.schedule = parse_schedule(schedule);
  if (!score.empty()) s.score = score;
  if (!reduce.empty()) s.reduce = reduce;
  if (!full_mask.empty()) s.full_mask = full_mask;
  if (!final_step.empty()) s.final_step = final_step;
  if (radius != 0) s.radius = radius;
  s.patch = patch != 0 ? patch : default_patch(height, width);
  s.seed = common.seed;
  s.batch = common.batch;
  s.cache = !no_cache;
  s.check();
  return s;
}

void add_pf_options(CLI::App* app, PFOptions& o) {
  app->add_option("--mode", o.mode, "telea (default), ns, random, random-pixel or constant");
  app->add_option("--fill", o.fill, "constant mode: gray (default), black or mean");
  add_bounded_option(app, "--radius", o.radius, 1, kMaxRadius, "inpainting radius (default 3)");
  add_bounded_option(app, "--patch", o.patch, 1, kMaxPatch,
                     "patch size in pixels (default 8; 2 for 28x28 inputs)");
  app->add_option("--schedule", o.schedule,
                  "quadratic (default), pow2, linear:n or list:a,b,... (patches per step)");
  app->add_option("--score", o.score, "logit (default) or prob");
  app->add_option("--preset", o.preset,
                  "thesis: the reference's choices (luma, quadratic, telea r3, logit, repeated "
                  "full-mask score, final (min+max)/2 step); options given override it");
  app->add_option("--patch-reduce", o.reduce, "patch score: sum (default) or luma");
  app->add_option("--full-mask", o.full_mask,
                  "telea/ns step that flips the last patches: gray (default) or repeat");
  app->add_option("--final-step", o.final_step, "none (default) or minmax-mid");
  app->add_flag("--no-cache", o.no_cache, "forward every curve point on its own (for comparison)");
}

}  // namespace lrpbench
