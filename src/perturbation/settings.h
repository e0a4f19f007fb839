#pragma once
// Pixel-flipping settings (docs/method.md section 2), shared by evaluate and search.
#include <nlohmann/json.hpp>
#include <string>

#include "perturbation/schedule.h"

namespace lrpbench {

struct PFSettings {
  int64_t patch = 8;                // 0: the default (2 for 28x28 inputs, else 8)
  std::string reduce = "sum";       // sum | luma
  Schedule schedule;                // quadratic (default)
  std::string mode = "telea";       // telea | ns | random | random-pixel | constant
  std::string fill = "gray";        // constant mode: gray | black | mean
  int radius = 3;                   // inpainting radius
  std::string score = "logit";      // logit | prob
  std::string full_mask = "gray";   // telea/ns full-mask step: gray | repeat (thesis)
  std::string final_step = "none";  // none | minmax-mid (thesis)
  uint64_t seed = 0;
  int64_t batch = 64;
  bool cache = true;

  // Throws InputError naming the offending option.
  void check() const;
  // The thesis preset (docs/method.md 2.6): luma, quadratic, telea r3, logit, repeat, minmax-mid.
  void apply_thesis_preset();
  nlohmann::json to_json() const;
};

int64_t default_patch(int64_t height, int64_t width);
void check_patch_reduce(const std::string& reduce);

}  // namespace lrpbench
