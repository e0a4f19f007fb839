#include "model/architectures.h"

#include <ATen/ATen.h>

#include <cmath>
#include <map>

#include "util/error.h"

namespace lrpbench {
namespace {

constexpr int kPool = -1;  // "M" in torchvision's configuration lists

const std::map<std::string, std::vector<int>>& vgg_configs() {
  static const std::map<std::string, std::vector<int>> cfgs = {
      {"vgg11", {64, kPool, 128, kPool, 256, 256, kPool, 512, 512, kPool, 512, 512, kPool}},
      {"vgg13",
       {64, 64, kPool, 128, 128, kPool, 256, 256, kPool, 512, 512, kPool, 512, 512, kPool}},
      {"vgg16",
       {64, 64, kPool, 128, 128, kPool, 256, 256, 256, kPool, 512, 512, 512, kPool, 512, 512, 512,
        kPool}},
      {"vgg19", {64,  64,  kPool, 128, 128,   kPool, 256, 256, 256, 256,  kPool,
                 512, 512, 512,   512, kPool, 512,   512, 512, 512, kPool}},
  };
  return cfgs;
}

Layer make(LayerKind kind, int index, std::string name) {
  Layer l;
  l.kind = kind;
  l.index = index;
  l.name = std::move(name);
  return l;
}

Layer conv(int index, const std::string& name, int64_t in, int64_t out) {
  Layer l = make(LayerKind::Conv2d, index, name);
  l.in_channels = in;
  l.out_channels = out;
  l.kernel = {3, 3};
  l.padding = {1, 1};
  return l;
}

Layer pool(int index, const std::string& name) {
  Layer l = make(LayerKind::MaxPool2d, index, name);
  l.kernel = {2, 2};
  l.stride = {2, 2};
  return l;
}

Layer dense(int index, const std::string& name, int64_t in, int64_t out) {
  Layer l = make(LayerKind::Linear, index, name);
  l.in_channels = in;
  l.out_channels = out;
  return l;
}

Network build_vgg(const std::string& base, bool bn) {
  Network net;
  net.arch = base + (bn ? "_bn" : "");
  net.in_channels = 3;
  net.default_size = 224;
  net.mean = {0.485, 0.456, 0.406};
  net.std = {0.229, 0.224, 0.225};
  net.num_classes = 1000;
  int i = 0;
  int64_t in = 3;
  auto feat = [&]() { return "features." + std::to_string(i); };
  for (int v : vgg_configs().at(base)) {
    if (v == kPool) {
      net.layers.push_back(pool(i, feat()));
      ++i;
      continue;
    }
    net.layers.push_back(conv(i, feat(), in, v));
    ++i;
    if (bn) {
      Layer b = make(LayerKind::BatchNorm2d, i, feat());
      b.in_channels = b.out_channels = v;
      net.layers.push_back(b);
      ++i;
    }
    net.layers.push_back(make(LayerKind::ReLU, i, feat()));
    ++i;
    in = v;
  }
  Layer avg = make(LayerKind::AdaptiveAvgPool2d, i++, "avgpool");
  avg.output_size = {7, 7};
  net.layers.push_back(avg);
  net.layers.push_back(make(LayerKind::Flatten, -1, "flatten"));
  const int c = i;
  net.layers.push_back(dense(c, "classifier.0", 512 * 7 * 7, 4096));
  net.layers.push_back(make(LayerKind::ReLU, c + 1, "classifier.1"));
  net.layers.push_back(make(LayerKind::Dropout, c + 2, "classifier.2"));
  net.layers.push_back(dense(c + 3, "classifier.3", 4096, 4096));
  net.layers.push_back(make(LayerKind::ReLU, c + 4, "classifier.4"));
  net.layers.push_back(make(LayerKind::Dropout, c + 5, "classifier.5"));
  net.layers.push_back(dense(c + 6, "classifier.6", 4096, 1000));
  net.num_indices = c + 7;
  return net;
}

Network build_fashion_vgg() {
  Network net;
  net.arch = "fashion-vgg";
  net.in_channels = 1;
  net.default_size = 28;
  net.mean = {0.2860};
  net.std = {0.3530};
  net.num_classes = 10;
  const int64_t widths[] = {16, 32, 64};
  int i = 0;
  int64_t in = 1;
  for (int64_t w : widths) {
    for (int k = 0; k < 2; ++k) {
      net.layers.push_back(conv(i, "features." + std::to_string(i), in, w));
      net.layers.push_back(make(LayerKind::ReLU, i + 1, "features." + std::to_string(i + 1)));
      i += 2;
      in = w;
    }
    net.layers.push_back(pool(i, "features." + std::to_string(i)));
    ++i;
  }
  net.layers.push_back(make(LayerKind::Flatten, -1, "flatten"));
  net.layers.push_back(dense(15, "classifier.0", 64 * 3 * 3, 128));
  net.layers.push_back(make(LayerKind::ReLU, 16, "classifier.1"));
  net.layers.push_back(make(LayerKind::Dropout, 17, "classifier.2"));
  net.layers.push_back(dense(18, "classifier.3", 128, 10));
  net.num_indices = 19;
  return net;
}

}  // namespace

std::vector<std::string> architecture_names() {
  return {"fashion-vgg", "vgg11",    "vgg11_bn", "vgg13",   "vgg13_bn",
          "vgg16",       "vgg16_bn", "vgg19",    "vgg19_bn"};
}

Network build_architecture(const std::string& name) {
  if (name == "fashion-vgg") return build_fashion_vgg();
  const bool bn = name.size() > 3 && name.compare(name.size() - 3, 3, "_bn") == 0;
  const std::string base = bn ? name.substr(0, name.size() - 3) : name;
  if (vgg_configs().count(base)) return build_vgg(base, bn);
  std::string known;
  for (const auto& n : architecture_names()) known += (known.empty() ? "" : ", ") + n;
  throw InputError("--model: unknown model '" + name + "' (known: " + known + ")");
}

void init_random(Network& net, uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  for (Layer& l : net.layers) {
    switch (l.kind) {
      case LayerKind::Conv2d: {
        const double fan_out = static_cast<double>(l.out_channels * l.kernel[0] * l.kernel[1]);
        l.weight = at::empty({l.out_channels, l.in_channels, l.kernel[0], l.kernel[1]})
                       .normal_(0.0, std::sqrt(2.0 / fan_out), gen);
        l.bias = at::zeros({l.out_channels});
        break;
      }
      case LayerKind::Linear:
        l.weight = at::empty({l.out_channels, l.in_channels}).normal_(0.0, 0.01, gen);
        l.bias = at::zeros({l.out_channels});
        break;
      case LayerKind::BatchNorm2d:
        l.weight = at::ones({l.out_channels});
        l.bias = at::zeros({l.out_channels});
        l.running_mean = at::zeros({l.out_channels});
        l.running_var = at::ones({l.out_channels});
        break;
      default:
        break;
    }
  }
}

}  // namespace lrpbench
