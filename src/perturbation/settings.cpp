#include "perturbation/settings.h"

#include "util/error.h"
#include "util/limits.h"

namespace lrpbench {

void check_patch_reduce(const std::string& reduce) {
  require(reduce == "sum" || reduce == "luma",
          "--patch-reduce: expected sum or luma, got '" + reduce + "'");
}

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
  require(radius > 0 && radius <= kMaxRadius,
          "--radius: expected a radius from 1 to " + std::to_string(kMaxRadius));
  require(score == "logit" || score == "prob",
          "--score: expected logit or prob, got '" + score + "'");
  require(full_mask == "gray" || full_mask == "repeat",
          "--full-mask: expected gray or repeat, got '" + full_mask + "'");
  require(final_step == "none" || final_step == "minmax-mid",
          "--final-step: expected none or minmax-mid, got '" + final_step + "'");
  require(batch > 0 && batch <= kMaxBatch,
          "--batch: expected a batch size from 1 to " + std::to_string(kMaxBatch));
  require(patch >= 0 && patch <= kMaxPatch,
          "--patch: expected a patch size from 1 to " + std::to_string(kMaxPatch));
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
