#include "model/torchscript_vit.h"

#include <ATen/ATen.h>
#include <torch/script.h>

#include <cmath>
#include <cstdio>
#include <map>
#include <optional>

#include "model/state_dict.h"
#include "model/vit.h"
#include "util/error.h"

namespace lrpbench {
namespace {

constexpr const char* kLayerPrefix = "encoder.layers.encoder_layer_";
constexpr double kTolerance = 1e-4;  // relative L2 error of lrpbench's forward to the file's
constexpr uint64_t kProbeSeed = 20240;

std::string shape_str(at::IntArrayRef s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

// An integer attribute of the submodule at a dotted path (scripted modules keep torchvision's
// plain attributes, traced ones do not).
std::optional<int64_t> int_attribute(const torch::jit::Module& root, const std::string& module_path,
                                     const std::string& name) {
  torch::jit::Module m = root;
  size_t p = 0;
  while (p < module_path.size()) {
    const size_t e = std::min(module_path.find('.', p), module_path.size());
    const std::string part = module_path.substr(p, e - p);
    if (!m.hasattr(part)) return std::nullopt;
    const c10::IValue v = m.attr(part);
    if (!v.isModule()) return std::nullopt;
    m = v.toModule();
    p = e + 1;
  }
  if (!m.hasattr(name)) return std::nullopt;
  const c10::IValue v = m.attr(name);
  if (!v.isInt()) return std::nullopt;
  return v.toInt();
}

struct Params {
  StateDict sd;
  std::map<std::string, at::Tensor> by_key;
  const std::string& path;

  // The parameter `key` with `dims` dimensions; InputError naming the file and the key.
  const at::Tensor& get(const std::string& key, int64_t dims) const {
    auto it = by_key.find(key);
    require(it != by_key.end(),
            path + ": a torchvision VisionTransformer without parameter '" + key + "'");
    require(it->second.dim() == dims, path + ": key '" + key + "' has shape " +
                                          shape_str(it->second.sizes()) + ", a ViT needs " +
                                          std::to_string(dims) + " dimensions");
    return it->second;
  }
  bool has(const std::string& key) const { return by_key.count(key) > 0; }
};

double relative_error(const at::Tensor& got, const at::Tensor& want) {
  const double den = std::max(want.to(at::kDouble).norm().item<double>(), 1e-30);
  return (got.to(at::kDouble) - want.to(at::kDouble)).norm().item<double>() / den;
}

}  // namespace

bool is_torchscript_vit(const torch::jit::Module& module) {
  for (const auto& p : module.named_parameters(true))
    if (p.name == "encoder.pos_embedding" || p.name.rfind(kLayerPrefix, 0) == 0) return true;
  return false;
}

Network read_torchscript_vit(const torch::jit::Module& module, const std::string& path) {
  Params P{{}, {}, path};
  for (const auto& p : module.named_parameters(true)) {
    P.sd.emplace_back(p.name, p.value.detach());
    P.by_key[p.name] = p.value.detach();
  }
  for (const auto& b : module.named_buffers(true)) {
    P.sd.emplace_back(b.name, b.value.detach());
    P.by_key[b.name] = b.value.detach();
  }
  ViTConfig c;
  c.arch = path;
  c.eps = 1e-6;
  const at::Tensor& cls = P.get("class_token", 3);
  require(cls.size(0) == 1 && cls.size(1) == 1 && cls.size(2) >= 1,
          path + ": key 'class_token' has shape " + shape_str(cls.sizes()) +
              ", a ViT needs [1, 1, hidden]");
  c.hidden = cls.size(2);
  const std::string hidden = std::to_string(c.hidden);
  const at::Tensor& proj = P.get("conv_proj.weight", 4);
  require(proj.size(0) == c.hidden && proj.size(2) == proj.size(3) && proj.size(2) >= 1,
          path + ": key 'conv_proj.weight' has shape " + shape_str(proj.sizes()) +
              ", a ViT of hidden size " + hidden + " needs [" + hidden + ", C, p, p]");
  c.channels = proj.size(1);
  c.patch = proj.size(2);
  const at::Tensor& pos = P.get("encoder.pos_embedding", 3);
  require(pos.size(0) == 1 && pos.size(2) == c.hidden && pos.size(1) >= 2,
          path + ": key 'encoder.pos_embedding' has shape " + shape_str(pos.sizes()) +
              ", a ViT of hidden size " + hidden + " needs [1, tokens + 1, " + hidden + "]");
  const int64_t tokens = pos.size(1) - 1;
  const auto side = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(tokens))));
  const std::optional<int64_t> image = int_attribute(module, "", "image_size");
  if (image) {
    const int64_t s = *image / c.patch;
    require(*image % c.patch == 0 && s * s == tokens,
            path + ": key 'encoder.pos_embedding' holds " + std::to_string(tokens) +
                " patch tokens (+1), but (image " + std::to_string(*image) + " / patch " +
                std::to_string(c.patch) + ")^2 = " + std::to_string(s * s) +
                (*image % c.patch ? " (the patch does not divide the image)" : ""));
    c.image = *image;
  } else {
    require(side * side == tokens,
            path + ": key 'encoder.pos_embedding' holds " + std::to_string(tokens) +
                " patch tokens (+1): not (image / patch)^2 for a square image");
    c.image = side * c.patch;
  }
  c.layers = 0;
  while (P.has(kLayerPrefix + std::to_string(c.layers) + ".ln_1.weight")) ++c.layers;
  require(c.layers >= 1, path + ": a torchvision VisionTransformer without parameter '" +
                             std::string(kLayerPrefix) + "0.ln_1.weight'");
  const std::string l0 = std::string(kLayerPrefix) + "0.";
  const std::string mlp_key =
      P.has(l0 + "mlp.linear_1.weight") ? l0 + "mlp.linear_1.weight" : l0 + "mlp.0.weight";
  c.mlp = P.get(mlp_key, 2).size(0);
  c.classes = P.get("heads.head.weight", 2).size(0);
  // The rest (in_proj, out_proj, LayerNorms, biases, every layer's shapes, unexpected keys)
  // is load_state_dict's check, which names the key.
  std::vector<int64_t> candidates;
  const std::optional<int64_t> heads = int_attribute(module, l0 + "self_attention", "num_heads");
  if (heads) {
    require(*heads >= 1 && c.hidden % *heads == 0,
            path + ": '" + l0 + "self_attention.num_heads' is " + std::to_string(*heads) +
                ", which does not divide the hidden size " + hidden);
    candidates.push_back(*heads);
  } else {
    // A traced module keeps no num_heads: each divisor of the hidden size, head size 64
    // (torchvision's ViTs) first.
    if (c.hidden % 64 == 0) candidates.push_back(c.hidden / 64);
    for (int64_t h = 1; h <= c.hidden; ++h)
      if (c.hidden % h == 0 && !(c.hidden % 64 == 0 && h == c.hidden / 64)) candidates.push_back(h);
  }

  // The file's own forward on a seeded probe.
  at::Generator gen = at::detail::createCPUGenerator(kProbeSeed);
  const at::Tensor x = at::randn({2, c.channels, c.image, c.image}, gen);
  at::Tensor want;
  {
    torch::NoGradGuard no_grad;
    torch::jit::Module m = module;
    m.eval();
    c10::IValue out;
    try {
      out = m.forward({x});
    } catch (const std::exception& e) {
      throw InputError(path + ": the module's forward fails on a probe of 2 x " +
                       std::to_string(c.channels) + " x " + std::to_string(c.image) + " x " +
                       std::to_string(c.image) + " (" + first_line(e.what()) + ")");
    }
    require(out.isTensor() && out.toTensor().dim() == 2 && out.toTensor().size(0) == 2 &&
                out.toTensor().size(1) == c.classes && out.toTensor().is_floating_point(),
            path + ": the module's output is not 2 x " + std::to_string(c.classes) +
                " logits for a probe of 2 images");
    want = out.toTensor().detach().to(at::kFloat);
  }
  double best = INFINITY;
  int64_t best_heads = 0;
  for (int64_t h : candidates) {
    c.heads = h;
    Network net = build_vit(c);
    load_state_dict(net, P.sd, path);
    at::Tensor got;
    {
      torch::NoGradGuard no_grad;
      got = forward(net, x);
    }
    const double err = relative_error(got, want);
    if (err <= kTolerance) return net;
    if (!(err >= best)) {
      best = err;
      best_heads = h;
    }
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", best);
  throw InputError(path + ": the module's output differs from the ViT read from its parameters " +
                   "(relative L2 error " + buf + " with " + std::to_string(best_heads) +
                   (candidates.size() > 1 ? " heads, the best of every divisor of " + hidden
                                          : std::string(" heads")) +
                   "; limit 1e-4): not torchvision's VisionTransformer forward");
}

}  // namespace lrpbench
