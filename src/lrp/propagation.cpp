#include "lrp/propagation.h"

#include <ATen/ATen.h>

#include <map>
#include <stdexcept>

#include "model/conv.h"
#include "util/error.h"

namespace lrpbench::rules {

// What each function does is said in propagation.h.

bool is_pool(const Layer& l) {
  return l.kind == LayerKind::AvgPool2d || l.kind == LayerKind::AdaptiveAvgPool2d;
}

double pool_size(const Layer& l, const at::Tensor& a) {
  if (l.kind == LayerKind::AvgPool2d) return static_cast<double>(l.kernel[0] * l.kernel[1]);
  return static_cast<double>((a.size(2) / l.output_size[0]) * (a.size(3) / l.output_size[1]));
}

Params plain(const Layer& l) {
  Params p{l.weight, l.bias, 1.0};
  p.base = l.weight;
  return p;
}

Params modified(const Layer& l, WeightOp op, double g, std::function<at::Tensor()> make,
                at::Tensor bias) {
  Params p({}, std::move(bias), 1.0);
  p.make = std::move(make);
  p.op = op;
  p.g = g;
  p.base = l.weight;
  return p;
}

Params positive(const Layer& l, bool bias) {
  if (is_pool(l)) return {{}, {}, 1.0};
  return modified(l, WeightOp::Plus, 0.0, [&l] { return l.weight.clamp_min(0); },
                  bias && l.bias.defined() ? l.bias.clamp_min(0) : at::Tensor());
}

Params negative(const Layer& l, bool bias) {
  if (is_pool(l)) return {{}, {}, 0.0};
  return modified(l, WeightOp::Minus, 0.0, [&l] { return l.weight.clamp_max(0); },
                  bias && l.bias.defined() ? l.bias.clamp_max(0) : at::Tensor());
}

Params gamma_params(const Layer& l, double g, bool bias) {
  if (is_pool(l)) return {{}, {}, 1.0 + g};
  return modified(l, WeightOp::Hat, g, [&l, g] { return l.weight + l.weight.clamp_min(0) * g; },
                  bias && l.bias.defined() ? l.bias + l.bias.clamp_min(0) * g : at::Tensor());
}

Params gamma_neg_params(const Layer& l, double g, bool bias) {
  if (is_pool(l)) return {{}, {}, 1.0};
  return modified(l, WeightOp::Vee, g, [&l, g] { return l.weight + l.weight.clamp_max(0) * g; },
                  bias && l.bias.defined() ? l.bias + l.bias.clamp_max(0) * g : at::Tensor());
}

Params ones_params(const Layer& l, const at::Tensor& a) {
  if (is_pool(l)) return {{}, {}, pool_size(l, a)};
  return {at::ones_like(l.weight), {}, 1.0};
}

Params square_params(const Layer& l, const at::Tensor& a) {
  if (is_pool(l)) return {{}, {}, 1.0 / pool_size(l, a)};
  return {l.weight * l.weight, {}, 1.0};
}

at::Tensor lin(const Layer& l, const at::Tensor& x, const Params& p) {
  switch (l.kind) {
    case LayerKind::Conv2d:
      return conv2d_batch_invariant(x, p.weight(), p.b, l.stride, l.padding, l.dilation,
                                    l.groups);
    case LayerKind::Linear:  // 2-D features or 3-D tokens (the last axis); maps flatten
      return at::linear(x.dim() <= 3 ? x : x.flatten(1), p.weight(), p.b);
    default: {
      const at::Tensor pooled = forward_layer(l, x);
      return p.scale == 1.0 ? pooled : pooled * p.scale;
    }
  }
}

at::Tensor lin_t(const Layer& l, const at::Tensor& s, const Params& p, const at::Tensor& a) {
  std::vector<int64_t> in_shape = a.sizes().vec();
  in_shape[0] = s.size(0);
  switch (l.kind) {
    case LayerKind::Conv2d: {
      // A stride-1 conv's transpose is a conv with the flipped, transposed kernel: the
      // forward kernels are the fastest the backends have (LibTorch's transposed conv on
      // CPU is several times slower).
      const bool flip = l.groups == 1 && l.stride[0] == 1 && l.stride[1] == 1 &&
                        l.dilation[0] == 1 &&
                        l.dilation[1] == 1 && l.padding[0] < l.kernel[0] &&
                        l.padding[1] < l.kernel[1];
      if (flip) {
        const at::Tensor wt = p.flipped_weight();
        return conv2d_batch_invariant(
            s, wt, {}, {1, 1}, {l.kernel[0] - 1 - l.padding[0], l.kernel[1] - 1 - l.padding[1]});
      }
      const at::Tensor like = at::empty(in_shape, a.options());
      return std::get<0>(at::convolution_backward(s, like, p.weight(), c10::nullopt, l.stride, l.padding,
                                                  l.dilation, false, {0, 0}, l.groups,
                                                  {true, false, false}));
    }
    case LayerKind::Linear:
      return (s.dim() == 2 ? s.mm(p.weight()) : at::matmul(s, p.weight())).view(in_shape);
    case LayerKind::AvgPool2d: {
      const at::Tensor like = at::empty(in_shape, a.options());
      return at::avg_pool2d_backward(s, like, l.kernel, l.stride, l.padding, l.ceil_mode, true,
                                     c10::nullopt) *
             p.scale;
    }
    case LayerKind::AdaptiveAvgPool2d: {
      if (a.size(2) == l.output_size[0] && a.size(3) == l.output_size[1])
        return p.scale == 1.0 ? s : s * p.scale;
      const at::Tensor like = at::empty(in_shape, a.options());
      return at::_adaptive_avg_pool2d_backward(s, like) * p.scale;
    }
    default:
      throw std::logic_error("lin_t on a non-linear layer");
  }
}

at::Tensor channel_bounds(const at::Tensor& a, const std::vector<double>& v) {
  require(static_cast<int64_t>(v.size()) == a.size(1), "zbox: bounds do not match channels");
  at::Tensor c =
      at::tensor(std::vector<float>(v.begin(), v.end()), a.options()).view({1, a.size(1), 1, 1});
  return c.expand(a.sizes());
}

at::Tensor unit_bias(const Layer& l, const at::Tensor& b) {
  return l.kind == LayerKind::Conv2d ? b.view({1, -1, 1, 1}) : b.view({1, -1});
}

at::Tensor LinearCall::div(const at::Tensor& zz) const {
  return stabilized_divide(r, zz, rule.eps(), rule.stab, rows);
}

at::Tensor LinearCall::plain_z() const { return z.defined() ? z : lin(l, a, plain(l)); }

at::Tensor NodeCall::input(size_t k) const { return gather_rows(in[k], rows); }

at::Tensor NodeCall::output() const { return gather_rows(z, rows); }

at::Tensor NodeCall::grad_out() const {
  return stabilized_divide(r, z, 0.0, Stabilizer::None, rows);
}

at::Tensor AddCall::div(const at::Tensor& num, const at::Tensor& den) const {
  return stabilized_divide(num, gather_rows(den, rows).reshape(num.sizes()), rule.eps(), rule.stab);
}

std::vector<at::Tensor> AddCall::parts(bool positive) const {
  std::vector<at::Tensor> out;
  for (const at::Tensor& x : in) out.push_back(positive ? x.clamp_min(0) : x.clamp_max(0));
  return out;
}

at::Tensor AddCall::sum(const std::vector<at::Tensor>& v) {
  at::Tensor t = v[0];
  for (size_t k = 1; k < v.size(); ++k) t = t + v[k];
  return t;
}

const Propagation& propagation(const Rule& rule) {
  static const std::map<RuleKind, Propagation> table = {
      {RuleKind::Zero, {linear_zero, add_zero}},
      {RuleKind::Epsilon, {linear_zero, add_zero}},
      {RuleKind::Gamma, {linear_gamma, add_gamma}},
      {RuleKind::ZBox, {linear_zbox, nullptr}},
      {RuleKind::ZPlus, {linear_zplus, add_zplus}},
      {RuleKind::AlphaBeta, {linear_alphabeta, add_alphabeta}},
      {RuleKind::Flat, {linear_spread, add_spread}},
      {RuleKind::WSquare, {linear_spread, add_spread}},
      {RuleKind::Pass, {linear_pass, nullptr}},
      {RuleKind::Identity, {nullptr, nullptr, node_identity}},
      {RuleKind::Grad, {nullptr, nullptr, node_grad}},
      {RuleKind::AttnLRP, {nullptr, nullptr, node_attnlrp}},
      {RuleKind::CP, {nullptr, nullptr, node_cp}},
      {RuleKind::Uniform, {nullptr, nullptr, node_uniform}},
      {RuleKind::Gate, {nullptr, nullptr, node_gate}},
  };
  const auto it = table.find(rule.kind);
  if (it == table.end()) throw std::logic_error("rule " + rule.text() + " has no propagation");
  return it->second;
}

}  // namespace lrpbench::rules
