#include "model/architectures.h"

#include <ATen/ATen.h>

#include <cmath>
#include <map>

#include "model/vit.h"
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

Layer conv_k(int index, const std::string& name, int64_t in, int64_t out, int64_t k,
             int64_t stride, int64_t pad, bool bias) {
  Layer l = conv(index, name, in, out);
  l.kernel = {k, k};
  l.stride = {stride, stride};
  l.padding = {pad, pad};
  l.has_bias = bias;
  return l;
}

Layer batchnorm(int index, const std::string& name, int64_t channels) {
  Layer l = make(LayerKind::BatchNorm2d, index, name);
  l.in_channels = l.out_channels = channels;
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
      net.layers.push_back(batchnorm(i, feat(), v));
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
  net.finalize();
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
  net.fixed_size = true;
  net.finalize();
  return net;
}

// torchvision's ResNet family, built node by node in execution order with the layer
// indices of named_modules() (docs/method.md, "Graph models").
class ResNetBuilder {
 public:
  explicit ResNetBuilder(Network& net) : net_(net) {}

  int add(Layer l, std::vector<int> inputs = {}) {
    l.inputs = inputs.empty() ? std::vector<int>{last_} : std::move(inputs);
    net_.layers.push_back(std::move(l));
    last_ = static_cast<int>(net_.layers.size()) - 1;
    return last_;
  }
  int conv_bn(const std::string& p, const std::string& c, const std::string& b, int64_t in,
              int64_t out, int64_t k, int64_t stride, int ci, int bi) {
    add(conv_k(ci, p + c, in, out, k, stride, k / 2, false));
    return add(batchnorm(bi, p + b, out));
  }
  int relu(const std::string& name, int index) { return add(make(LayerKind::ReLU, index, name)); }

  // BasicBlock (expansion 1): conv1, bn1, relu, conv2, bn2, downsample.{0,1} in
  // registration order.
  void basic(const std::string& p, int64_t in, int64_t planes, int64_t stride) {
    const int entry = last_, i = next_;
    const bool down = stride != 1 || in != planes;
    next_ += down ? 7 : 5;
    conv_bn(p, "conv1", "bn1", in, planes, 3, stride, i, i + 1);
    relu(p + "relu", i + 2);
    const int main = conv_bn(p, "conv2", "bn2", planes, planes, 3, 1, i + 3, i + 4);
    const int skip = down ? downsample(p, entry, in, planes, stride, i + 5) : entry;
    add(make(LayerKind::Add, -1, p + "add"), {main, skip});
    relu(p + "relu", i + 2);
  }
  // Bottleneck (expansion 4): conv1, bn1, conv2, bn2, conv3, bn3, relu, downsample.
  void bottleneck(const std::string& p, int64_t in, int64_t planes, int64_t stride) {
    const int entry = last_, i = next_;
    const int64_t out = planes * 4;
    const bool down = stride != 1 || in != out;
    next_ += down ? 9 : 7;
    conv_bn(p, "conv1", "bn1", in, planes, 1, 1, i, i + 1);
    relu(p + "relu", i + 6);
    conv_bn(p, "conv2", "bn2", planes, planes, 3, stride, i + 2, i + 3);
    relu(p + "relu", i + 6);
    const int main = conv_bn(p, "conv3", "bn3", planes, out, 1, 1, i + 4, i + 5);
    const int skip = down ? downsample(p, entry, in, out, stride, i + 7) : entry;
    add(make(LayerKind::Add, -1, p + "add"), {main, skip});
    relu(p + "relu", i + 6);
  }
  int& next_index() { return next_; }

 private:
  Network& net_;
  int last_ = kNetworkInput;
  int next_ = 0;

  int downsample(const std::string& p, int entry, int64_t in, int64_t out, int64_t stride,
                 int i) {
    last_ = entry;  // the skip path reads the block's input
    return conv_bn(p, "downsample.0", "downsample.1", in, out, 1, stride, i, i + 1);
  }
};

struct ResNetConfig {
  bool bottleneck;
  std::vector<int> blocks;
};

const std::map<std::string, ResNetConfig>& resnet_configs() {
  static const std::map<std::string, ResNetConfig> cfgs = {
      {"resnet18", {false, {2, 2, 2, 2}}},  {"resnet34", {false, {3, 4, 6, 3}}},
      {"resnet50", {true, {3, 4, 6, 3}}},   {"resnet101", {true, {3, 4, 23, 3}}},
      {"resnet152", {true, {3, 8, 36, 3}}},
  };
  return cfgs;
}

Network build_resnet(const std::string& name) {
  const ResNetConfig& cfg = resnet_configs().at(name);
  Network net;
  net.arch = name;
  net.in_channels = 3;
  net.default_size = 224;
  net.mean = {0.485, 0.456, 0.406};
  net.std = {0.229, 0.224, 0.225};
  net.num_classes = 1000;
  ResNetBuilder b(net);
  b.add(conv_k(0, "conv1", 3, 64, 7, 2, 3, false));
  b.add(batchnorm(1, "bn1", 64));
  b.relu("relu", 2);
  Layer mp = make(LayerKind::MaxPool2d, 3, "maxpool");
  mp.kernel = {3, 3};
  mp.stride = {2, 2};
  mp.padding = {1, 1};
  b.add(mp);
  b.next_index() = 4;
  int64_t in = 64;
  const int64_t expansion = cfg.bottleneck ? 4 : 1;
  for (size_t s = 0; s < cfg.blocks.size(); ++s) {
    const int64_t planes = int64_t{64} << s;
    for (int k = 0; k < cfg.blocks[s]; ++k) {
      const std::string p = "layer" + std::to_string(s + 1) + "." + std::to_string(k) + ".";
      const int64_t stride = (s > 0 && k == 0) ? 2 : 1;
      if (cfg.bottleneck)
        b.bottleneck(p, in, planes, stride);
      else
        b.basic(p, in, planes, stride);
      in = planes * expansion;
    }
  }
  Layer avg = make(LayerKind::AdaptiveAvgPool2d, b.next_index(), "avgpool");
  avg.output_size = {1, 1};
  b.add(avg);
  b.add(make(LayerKind::Flatten, -1, "flatten"));
  b.add(dense(b.next_index() + 1, "fc", in, 1000));
  net.finalize();
  return net;
}

Network build_fashion_resnet() {
  Network net;
  net.arch = "fashion-resnet";
  net.in_channels = 1;
  net.default_size = 28;
  net.fixed_size = true;
  net.mean = {0.2860};
  net.std = {0.3530};
  net.num_classes = 10;
  ResNetBuilder b(net);
  b.add(conv_k(0, "conv1", 1, 16, 3, 1, 1, false));
  b.add(batchnorm(1, "bn1", 16));
  b.relu("relu", 2);
  b.next_index() = 3;
  b.basic("layer1.0.", 16, 16, 1);
  b.basic("layer2.0.", 16, 32, 2);
  b.basic("layer3.0.", 32, 64, 2);
  Layer avg = make(LayerKind::AdaptiveAvgPool2d, b.next_index(), "avgpool");
  avg.output_size = {1, 1};
  b.add(avg);
  b.add(make(LayerKind::Flatten, -1, "flatten"));
  b.add(dense(b.next_index() + 1, "fc", 64, 10));
  net.finalize();
  return net;
}

}  // namespace

std::vector<std::string> architecture_names() {
  return {"fashion-vgg", "fashion-resnet", "fashion-vit", "vgg11",    "vgg11_bn",
          "vgg13",       "vgg13_bn",       "vgg16",       "vgg16_bn", "vgg19",
          "vgg19_bn",    "resnet18",       "resnet34",    "resnet50", "resnet101",
          "resnet152",   "vit_b_16",       "vit_b_32",    "vit_l_16", "vit_l_32"};
}

Network build_architecture(const std::string& name) {
  if (name == "fashion-vgg") return build_fashion_vgg();
  if (name == "fashion-resnet") return build_fashion_resnet();
  if (resnet_configs().count(name)) return build_resnet(name);
  for (const ViTConfig& c : vit_configs())
    if (c.arch == name) return build_vit(c);
  const bool bn = name.size() > 3 && name.compare(name.size() - 3, 3, "_bn") == 0;
  const std::string base = bn ? name.substr(0, name.size() - 3) : name;
  if (vgg_configs().count(base)) return build_vgg(base, bn);
  std::string known;
  for (const auto& n : architecture_names()) known += (known.empty() ? "" : ", ") + n;
  throw InputError("--model: unknown model '" + name + "' (known: " + known + ")");
}

void init_random(Network& net, uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  bool transformer = false;
  for (const Layer& l : net.layers) transformer = transformer || l.kind == LayerKind::Attention;
  for (Layer& l : net.layers) {
    switch (l.kind) {
      case LayerKind::Conv2d: {
        const double fan_out = static_cast<double>(l.out_channels * l.kernel[0] * l.kernel[1]);
        l.weight = at::empty({l.out_channels, l.in_channels, l.kernel[0], l.kernel[1]})
                       .normal_(0.0, std::sqrt(2.0 / fan_out), gen);
        l.bias = l.has_bias ? at::zeros({l.out_channels}) : at::Tensor();
        break;
      }
      case LayerKind::Linear:
        if (transformer) {  // Xavier-uniform (what fashion-vit was trained from)
          const double a = std::sqrt(6.0 / static_cast<double>(l.in_channels + l.out_channels));
          l.weight = at::empty({l.out_channels, l.in_channels}).uniform_(-a, a, gen);
        } else {
          l.weight = at::empty({l.out_channels, l.in_channels}).normal_(0.0, 0.01, gen);
        }
        l.bias = at::zeros({l.out_channels});
        break;
      case LayerKind::Norm:
        l.weight = at::ones({l.in_channels});
        l.bias = at::zeros({l.in_channels});
        break;
      case LayerKind::ClassToken:
        l.weight = at::zeros({1, 1, l.in_channels});
        break;
      case LayerKind::Scale:  // the positional embedding: N(0, 0.02)
        if (l.weight.defined()) l.weight = at::ones_like(l.weight);
        if (l.bias.defined()) l.bias = at::empty_like(l.bias).normal_(0.0, 0.02, gen);
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
