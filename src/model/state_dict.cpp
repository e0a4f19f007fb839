#include "model/state_dict.h"

#include <ATen/ATen.h>

#include <map>
#include <set>

#include "util/error.h"

namespace lrpbench {
namespace {

std::string shape_str(at::IntArrayRef s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

struct Slot {
  at::Tensor* target;
  std::vector<int64_t> shape;
};

std::string weight_key(const Layer& l) { return l.weight_key.empty() ? l.name + ".weight" : l.weight_key; }
std::string bias_key(const Layer& l) { return l.bias_key.empty() ? l.name + ".bias" : l.bias_key; }

// The parameters a built-in node reads, with their shapes, by state-dict key. A Scale node's
// shapes are those it was built with (Layer::weight / bias hold a placeholder of that shape).
std::map<std::string, Slot> slots_of(Network& net) {
  std::map<std::string, Slot> slots;
  for (Layer& l : net.layers) {
    if (l.kind == LayerKind::Linear || l.kind == LayerKind::Norm) {
      const int64_t out = l.kind == LayerKind::Norm ? l.in_channels : l.out_channels;
      if (l.kind == LayerKind::Linear)
        slots[weight_key(l)] = {&l.weight, {l.out_channels, l.in_channels}};
      else
        slots[weight_key(l)] = {&l.weight, {out}};
      if (l.has_bias) slots[bias_key(l)] = {&l.bias, {out}};
      continue;
    }
    if (l.kind == LayerKind::ClassToken) {
      slots[weight_key(l)] = {&l.weight, {1, 1, l.in_channels}};
      continue;
    }
    if (l.kind == LayerKind::Scale) {
      if (l.weight.defined()) slots[weight_key(l)] = {&l.weight, l.weight.sizes().vec()};
      if (l.bias.defined()) slots[bias_key(l)] = {&l.bias, l.bias.sizes().vec()};
      continue;
    }
    switch (l.kind) {
      case LayerKind::Conv2d:
        slots[l.name + ".weight"] = {
            &l.weight, {l.out_channels, l.in_channels / l.groups, l.kernel[0], l.kernel[1]}};
        if (l.has_bias) slots[l.name + ".bias"] = {&l.bias, {l.out_channels}};
        break;
      case LayerKind::BatchNorm2d:
        slots[l.name + ".weight"] = {&l.weight, {l.out_channels}};
        slots[l.name + ".bias"] = {&l.bias, {l.out_channels}};
        slots[l.name + ".running_mean"] = {&l.running_mean, {l.out_channels}};
        slots[l.name + ".running_var"] = {&l.running_var, {l.out_channels}};
        break;
      default:
        break;
    }
  }
  return slots;
}

}  // namespace

at::ScalarType scalar_type_of(DType t) {
  switch (t) {
    case DType::Float32:
      return at::kFloat;
    case DType::Float64:
      return at::kDouble;
    case DType::Float16:
      return at::kHalf;
    case DType::BFloat16:
      return at::kBFloat16;
    case DType::Int64:
      return at::kLong;
    case DType::Int32:
      return at::kInt;
    case DType::Int16:
      return at::kShort;
    case DType::Int8:
      return at::kChar;
    case DType::UInt8:
      return at::kByte;
    case DType::Bool:
      return at::kBool;
  }
  return at::kFloat;
}

StateDict map_timm_keys(const StateDict& sd) {
  bool timm = false;
  for (const auto& [k, v] : sd) timm = timm || k.rfind("pre_logits.", 0) == 0;
  if (!timm) return sd;
  static const std::map<std::string, std::string> rename = {
      {"pre_logits.fc1.weight", "classifier.0.weight"},
      {"pre_logits.fc1.bias", "classifier.0.bias"},
      {"pre_logits.fc2.weight", "classifier.3.weight"},
      {"pre_logits.fc2.bias", "classifier.3.bias"},
      {"head.fc.weight", "classifier.6.weight"},
      {"head.fc.bias", "classifier.6.bias"}};
  StateDict out;
  for (const auto& [k, v] : sd) {
    auto it = rename.find(k);
    if (it == rename.end()) {
      out.emplace_back(k, v);
    } else {
      // A conv weight [out, in, kh, kw] applied to a [in, kh, kw] map is the dense layer
      // [out, in*kh*kw] on the flattened (C, H, W) vector.
      out.emplace_back(it->second, v.dim() == 4 ? v.reshape({v.size(0), -1}) : v);
    }
  }
  return out;
}

namespace {

// torchvision before 0.14 named a ViT's MLP layers mlp.linear_1 / mlp.linear_2 (now mlp.0 /
// mlp.3, as built here).
StateDict map_vit_mlp_keys(const StateDict& sd) {
  StateDict out;
  for (const auto& [k, v] : sd) {
    std::string key = k;
    for (const auto& [from, to] : {std::pair<std::string, std::string>{".mlp.linear_1.", ".mlp.0."},
                                   {".mlp.linear_2.", ".mlp.3."}}) {
      const size_t at = key.find(from);
      if (at != std::string::npos) key.replace(at, from.size(), to);
    }
    out.emplace_back(key, v);
  }
  return out;
}

}  // namespace

void load_state_dict(Network& net, const StateDict& raw, const std::string& file) {
  const StateDict sd = map_vit_mlp_keys(map_timm_keys(raw));
  auto slots = slots_of(net);
  std::set<std::string> seen;
  for (const auto& [key, value] : sd) {
    if (key.size() > 20 && key.compare(key.size() - 20, 20, ".num_batches_tracked") == 0) continue;
    auto it = slots.find(key);
    require(it != slots.end(), file + ": unexpected key '" + key + "' for model " + net.arch);
    const Slot& slot = it->second;
    require(value.sizes() == at::IntArrayRef(slot.shape),
            file + ": key '" + key + "' has shape " + shape_str(value.sizes()) + ", model " +
                net.arch + " expects " + shape_str(slot.shape));
    *slot.target = parameter_tensor(value, file + ": key '" + key + "'");
    seen.insert(key);
  }
  for (const auto& [key, slot] : slots)
    require(seen.count(key) > 0, file + ": missing key '" + key + "' (shape " +
                                     shape_str(slot.shape) + ") for model " + net.arch);
}

StateDict state_dict_of(const Network& net) {
  StateDict sd;
  for (const Layer& l : net.layers) {
    if (!has_parameters(l.kind)) continue;
    if (l.weight.defined()) sd.emplace_back(weight_key(l), l.weight);
    if (l.bias.defined()) sd.emplace_back(bias_key(l), l.bias);
    if (l.kind == LayerKind::BatchNorm2d) {
      sd.emplace_back(l.name + ".running_mean", l.running_mean);
      sd.emplace_back(l.name + ".running_var", l.running_var);
    }
  }
  return sd;
}

}  // namespace lrpbench
