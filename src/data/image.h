#pragma once
// Image files through OpenCV: loading, resizing and normalisation.
#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

namespace lrpbench {

// --resize: "256-crop224" (shorter side to size*256/224, centre crop `size`), "224"
// (shorter side to `size`, centre crop), "none". `size` is the model's input size.
void check_resize_mode(const std::string& mode);

// Where a pixel of the decoded image lands after --resize: x' = x sx - ox, y' = y sy - oy, in
// an image of width x height.
struct ResizeGeometry {
  double scale = 1;  // the shorter side's factor (< 1: area interpolation)
  double sx = 1, sy = 1;
  int64_t ox = 0, oy = 0, width = 0, height = 0;
};
ResizeGeometry resize_geometry(int64_t width, int64_t height, const std::string& resize,
                               int64_t size);

// Loads a JPEG/PNG as C x H x W float32 in [0, 1] (RGB, or gray when channels == 1); the
// geometry of its resize where `geometry` is given.
at::Tensor load_image(const std::string& path, int64_t channels, const std::string& resize,
                      int64_t size, ResizeGeometry* geometry = nullptr);

// (x - mean) / std per channel, and its inverse; x is [N,] C x H x W.
at::Tensor normalize(const at::Tensor& x, const std::vector<double>& mean,
                     const std::vector<double>& std);
at::Tensor denormalize(const at::Tensor& x, const std::vector<double>& mean,
                       const std::vector<double>& std);

// Writes a C x H x W float image in [0, 1] as 8-bit PNG (rounded).
void write_png(const std::string& path, const at::Tensor& image);

}  // namespace lrpbench
