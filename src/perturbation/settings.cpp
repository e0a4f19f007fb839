#include "perturbation/settings.h"

#include "perturbation/patches.h"
#include "util/error.h"

namespace lrpbench {

int64_t default_patch(int64_t height, int64_t width) {
  return height == 28 && width == 28 ? 2 : 8;
}

void PFSettings::check() const {
  check_patch_reduce(reduce);
  require(mode == "telea" || mode == "ns" || mode == "random" || mode == "random-pixel" ||
              mode == "constant",
          "--mode: unknown mode '" + mode + "' (telea, ns, random, random-pixel, constant)");
  require(fill == "gray" || fill == "black" || fill == "mean",
          "--fill: expected gray, black or mean, got '" + fill + "'");
  require(radius > 0, "--radius: expected a positive radius");
  require(score == "logit" || score == "prob",
          "--score: expected logit or prob, got '" + score + "'");
  require(full_mask == "gray" || full_mask == "repeat",
          "--full-mask: expected gray or repeat, got '" + full_mask + "'");
  require(final_step == "none" || final_step == "minmax-mid",
          "--final-step: expected none or minmax-mid, got '" + final_step + "'");
  require(batch > 0, "--batch: expected a positive number");
  require(patch >= 0, "--patch: expected a positive patch size");
}

void PFSettings::apply_thesis_preset() {
  reduce = "luma";
  schedule = Schedule{};
  mode = "telea";
  radius = 3;
  score = "logit";
  full_mask = "repeat";
  final_step = "minmax-mid";
}

nlohmann::json PFSettings::to_json() const {
  return {{"patch", patch}, {"patch_reduce", reduce}, {"schedule", schedule.text()},
          {"mode", mode},   {"fill", fill},           {"radius", radius},
          {"score", score}, {"full_mask", full_mask}, {"final_step", final_step},
          {"seed", seed},   {"batch", batch}};
}

}  // namespace lrpbench
