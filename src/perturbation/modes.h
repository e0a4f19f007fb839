#pragma once
// Perturbation modes (docs/method.md 2.4): what a flipped patch becomes.
#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "perturbation/patches.h"
#include "perturbation/settings.h"

namespace lrpbench {

// One image prepared for perturbation.
struct ImageContext {
  at::Tensor x;             // C x H x W, normalised, CPU float32, contiguous
  std::vector<uint8_t> u8;  // H x W x C, de-normalised 8-bit (rounded), for inpainting
  std::vector<double> mean, std;
  PatchGrid grid;
  int64_t image_index = 0;  // seeds the random modes and the random order
  double min = 0, max = 0;  // of the normalised values, all channels
  // Insertion (docs/method.md 6): flipped patches take these values (C x H x W, normalised),
  // whatever the mode. Undefined: the mode decides.
  at::Tensor replacement;
};

ImageContext make_context(const at::Tensor& x, const std::vector<double>& mean,
                          const std::vector<double>& std, int64_t patch, int64_t image_index);

// The image after the first `k` of `steps` (the patches flipped at each step, in order).
// When they flip every patch, telea / ns give the gray image.
at::Tensor render(const ImageContext& ctx, const PFSettings& s,
                  const std::vector<std::vector<int64_t>>& steps, size_t k);

// The thesis's extra final image: every value of every channel (min + max) / 2.
at::Tensor render_minmax_mid(const ImageContext& ctx);

}  // namespace lrpbench
