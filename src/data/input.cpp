#include "data/input.h"

#include <algorithm>
#include <cmath>

#include <ATen/ATen.h>

#include <nlohmann/json.hpp>

#include "data/fashion_mnist.h"
#include "data/image.h"
#include "data/imagenet_labels.h"
#include "util/error.h"
#include "util/npy.h"

namespace lrpbench {
namespace {

int64_t parse_int(const std::string& s, const std::string& what) {
  require(!s.empty() && s.find_first_not_of("0123456789") == std::string::npos && s.size() < 10,
          what + ": expected a non-negative integer, got '" + s + "'");
  return std::stoll(s);
}

}  // namespace

std::vector<int64_t> parse_indices(const std::string& text, const std::string& what,
                                   int64_t count, const std::string& of) {
  const auto dash = text.find('-');
  const int64_t a = parse_int(dash == std::string::npos ? text : text.substr(0, dash), what);
  const int64_t b = dash == std::string::npos ? a : parse_int(text.substr(dash + 1), what);
  require(a <= b, what + ": empty range '" + text + "'");
  require(b < count, what + " " + std::to_string(b) + " is past the " + of + " (" +
                         std::to_string(count) + " images)");
  std::vector<int64_t> out;
  for (int64_t i = a; i <= b; ++i) out.push_back(i);
  return out;
}

InputBatch load_inputs(const InputSpec& spec, const Network& net) {
  const int sources = (!spec.images.empty()) + (!spec.npy.empty()) + (!spec.dataset.empty());
  require(sources == 1, "give exactly one input: --image, --input or --dataset");
  require(!spec.dataset.empty() || (spec.index.empty() && spec.indices.empty()),
          "--index / --indices select images of --dataset; they do not apply to --image or --input");
  InputBatch b;
  if (!spec.dataset.empty()) {
    require(spec.dataset == "fashion-mnist",
            "--dataset: unknown dataset '" + spec.dataset + "' (known: fashion-mnist)");
    require(net.in_channels == 1 && net.default_size == 28,
            "--dataset fashion-mnist needs a 1x28x28 model such as fashion-vgg, not " + net.arch);
    require(spec.index.empty() || spec.indices.empty(),
            "--index and --indices: give one of them, not both");
    require(!spec.index.empty() || !spec.indices.empty(),
            "--dataset needs --index N or --indices A-B");
    const Dataset d = load_fashion_mnist(spec.split);
    const int64_t n = d.images.size(0);
    const bool single = !spec.index.empty();
    require(!single || spec.index.find('-') == std::string::npos,
            "--index: expected one non-negative integer, got '" + spec.index +
                "' (use --indices A-B for a range)");
    const auto idx = single ? parse_indices(spec.index, "--index", n, spec.split + " split")
                            : parse_indices(spec.indices, "--indices", n, spec.split + " split");
    b.batched = !single && spec.indices.find('-') != std::string::npos;
    b.pixels = d.images.index_select(0, at::tensor(idx, at::kLong));
    for (int64_t i : idx) {
      b.ids.emplace_back(i);
      b.labels.push_back(d.labels[static_cast<size_t>(i)]);
    }
  } else if (!spec.npy.empty()) {
    at::Tensor t = read_npy(spec.npy);
    require(t.dim() == 3 || t.dim() == 4, spec.npy + ": expected C x H x W or N x C x H x W, got " +
                                              std::to_string(t.dim()) + " dimensions");
    require(t.numel() > 0, spec.npy + ": holds no values (an empty array)");
    b.batched = t.dim() == 4;
    if (t.dim() == 3) t = t.unsqueeze(0);
    check_input(net, t, spec.npy);
    require(at::isfinite(t).all().item<bool>(), spec.npy + ": input holds NaN or infinite values");
    b.x = t;
    b.pixels = denormalize(t, net.mean, net.std);
    for (int64_t i = 0; i < t.size(0); ++i) {
      b.ids.emplace_back(i);
      b.labels.push_back(-1);
    }
    return b;
  } else {
    std::vector<at::Tensor> imgs;
    for (const std::string& path : spec.images) {
      ResizeGeometry g;
      imgs.push_back(load_image(path, net.in_channels, spec.resize, net.default_size, &g));
      b.files.push_back(path);
      b.geometry.push_back(g);
      b.ids.emplace_back(static_cast<int64_t>(b.ids.size()));
      b.labels.push_back(-1);
    }
    for (const at::Tensor& t : imgs)
      require(t.sizes() == imgs[0].sizes(),
              "--image: images differ in size; use --resize 256-crop224 or 224");
    b.pixels = at::stack(imgs);
    b.batched = imgs.size() > 1;
  }
  b.x = normalize(b.pixels, net.mean, net.std);
  check_input(net, b.x, "input");
  return b;
}

at::Tensor box_mask(const std::vector<LocBox>& boxes, int64_t cls, const ResizeGeometry& g) {
  at::Tensor m = at::zeros({g.height, g.width}, at::kBool);
  for (const LocBox& b : boxes) {
    if (b.cls != cls) continue;
    auto clip = [](double v, int64_t hi) {
      return std::clamp<int64_t>(static_cast<int64_t>(v), 0, hi);
    };
    const int64_t x1 = clip(std::floor(b.x1 * g.sx - static_cast<double>(g.ox)), g.width);
    const int64_t y1 = clip(std::floor(b.y1 * g.sy - static_cast<double>(g.oy)), g.height);
    const int64_t x2 = clip(std::ceil(b.x2 * g.sx - static_cast<double>(g.ox)), g.width);
    const int64_t y2 = clip(std::ceil(b.y2 * g.sy - static_cast<double>(g.oy)), g.height);
    if (x2 > x1 && y2 > y1) m.slice(0, y1, y2).slice(1, x1, x2).fill_(true);
  }
  return m;
}

std::vector<int64_t> resolve_targets(const std::string& target, const InputBatch& batch) {
  std::vector<int64_t> out;
  for (int64_t label : batch.labels) {
    if (target == "auto")
      out.push_back(label);
    else if (target == "argmax")
      out.push_back(-1);
    else
      out.push_back(parse_int(target, "--target"));
  }
  return out;
}

std::string class_name(const Network& net, int64_t index) {
  if (net.num_classes == 10 && index >= 0 && index < 10)
    return fashion_mnist_classes()[static_cast<size_t>(index)];
  const auto& c = imagenet_classes();
  if (net.num_classes == 1000 && index >= 0 && index < static_cast<int64_t>(c.size()))
    return c[static_cast<size_t>(index)].name;
  return "";
}

}  // namespace lrpbench
