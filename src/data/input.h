#pragma once
// The inputs of explain / classify / evaluate (the README, "Inputs").
#include <ATen/core/Tensor.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/image.h"
#include "data/loc_csv.h"
#include "model/network.h"

namespace lrpbench {

struct InputSpec {
  std::vector<std::string> images;  // --image (one or more)
  std::string npy;                  // --input FILE.npy
  std::string dataset;              // --dataset fashion-mnist
  std::string split = "test";
  std::string index;    // --index N
  std::string indices;  // --indices A-B (or N)
  std::string resize = "256-crop224";
};

struct InputBatch {
  at::Tensor x;                     // N x C x H x W, normalised
  at::Tensor pixels;                // N x C x H x W in [0, 1] (denormalised for .npy inputs)
  std::vector<nlohmann::json> ids;  // dataset index, file name, or position
  std::vector<int64_t> labels;      // dataset label, or -1
  bool batched = false;  // the input had a batch dimension (N x C x H x W, --indices, images)
  std::vector<std::string> files;            // --image: each image's path
  std::vector<ResizeGeometry> geometry;      // --image: where its pixels landed
};

// H x W mask of the boxes of class `cls` mapped through an image's resize: x1 and y1 rounded
// down, x2 and y2 up, clipped to the image.
at::Tensor box_mask(const std::vector<LocBox>& boxes, int64_t cls, const ResizeGeometry& g);

// Parses "N" or "A-B" (inclusive) of `count` available items; throws InputError naming
// `what` (the option) for anything else, a range past the end included.
std::vector<int64_t> parse_indices(const std::string& text, const std::string& what,
                                   int64_t count, const std::string& of);

InputBatch load_inputs(const InputSpec& spec, const Network& net);

// --target auto|argmax|N for each image: -1 means argmax.
std::vector<int64_t> resolve_targets(const std::string& target, const InputBatch& batch);

// The class name of `index` for the model (Fashion-MNIST or ImageNet), or "".
std::string class_name(const Network& net, int64_t index);

}  // namespace lrpbench
