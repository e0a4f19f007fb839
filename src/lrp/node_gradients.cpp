#include "lrp/node_gradients.h"

#include <ATen/ATen.h>

#include <stdexcept>

namespace lrpbench::rules {

at::Tensor norm_gradient(const Layer& l, const at::Tensor& x, const at::Tensor& g_y,
                         bool hold_divisor) {
  const at::Tensor mean = x.mean(-1, true);
  const at::Tensor inv = at::rsqrt(x.var(-1, false, true) + l.bn_eps);  // 1 / s
  const at::Tensor h = l.weight.defined() ? g_y * l.weight : g_y;
  at::Tensor centred = h - h.mean(-1, true);
  if (!hold_divisor) {
    const at::Tensor xhat = (x - mean) * inv;
    centred = centred - xhat * (h * xhat).mean(-1, true);
  }
  return centred * inv;
}

at::Tensor act_gradient(const Layer& l, const at::Tensor& x, const at::Tensor& y,
                        const at::Tensor& g_y) {
  switch (l.activation) {
    case Activation::GeluErf: return at::gelu_backward(g_y, x);
    case Activation::GeluTanh: return at::gelu_backward(g_y, x, "tanh");
    case Activation::SiLU: return at::silu_backward(g_y, x);
    case Activation::Sigmoid: return at::sigmoid_backward(g_y, y);
    case Activation::Tanh: return at::tanh_backward(g_y, y);
    case Activation::Hardswish: return at::hardswish_backward(g_y, x);
    case Activation::Hardsigmoid: return at::hardsigmoid_backward(g_y, x);
  }
  throw std::logic_error("act_gradient: unknown activation");
}

at::Tensor softmax_gradient(const at::Tensor& y, const at::Tensor& g_y) {
  return y * (g_y - (g_y * y).sum(-1, true));
}

at::Tensor attention_gradient(const Layer& l, const at::Tensor& qkv, const at::Tensor& g_o,
                              double v_factor, double a_factor, double qk_factor) {
  const AttentionParts p = attention_parts(qkv, l.heads);
  const int64_t n = g_o.size(0), t = g_o.size(1), h = l.heads, d = p.q.size(-1);
  const at::Tensor go = g_o.reshape({n, t, h, d}).transpose(1, 2);  // N x H x T x d
  at::Tensor gv = at::matmul(p.attn.transpose(-2, -1), go);
  if (v_factor != 1.0) gv = gv * v_factor;
  at::Tensor gq, gk;
  if (a_factor != 0.0) {
    at::Tensor ga = at::matmul(go, p.v.transpose(-2, -1));  // N x H x T x T
    if (a_factor != 1.0) ga = ga * a_factor;
    const at::Tensor gs = softmax_gradient(p.attn, ga) * (p.scale * qk_factor);
    gq = at::matmul(gs, p.k);
    gk = at::matmul(gs.transpose(-2, -1), p.q);
  } else {
    gq = at::zeros_like(gv);
    gk = at::zeros_like(gv);
  }
  // Back to packed N x T x 3D (q | k | v, each H x d).
  return at::stack({gq, gk, gv}, 0).permute({1, 3, 0, 2, 4}).reshape({n, t, 3 * h * d});
}

at::Tensor sum_to(const at::Tensor& g, const at::Tensor& like) {
  if (g.sizes() == like.sizes()) return g;
  std::vector<int64_t> dims;
  const int64_t lead = g.dim() - like.dim();  // axes broadcasting added in front
  for (int64_t i = 0; i < g.dim(); ++i)
    if (i < lead || (like.size(i - lead) == 1 && g.size(i) != 1)) dims.push_back(i);
  at::Tensor s = dims.empty() ? g : g.sum(dims, true);
  return s.reshape(like.sizes());
}

std::array<at::Tensor, 2> product_gradients(const at::Tensor& a, const at::Tensor& b,
                                            const at::Tensor& g_y) {
  return {sum_to(g_y * b, a), sum_to(g_y * a, b)};
}

}  // namespace lrpbench::rules
