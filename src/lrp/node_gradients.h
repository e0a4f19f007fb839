#pragma once
// The gradients of the transformer node kinds (internal to lrp: their rules in src/lrp/rules/
// build on them; docs/method.md, "Transformers"). Every function maps the (modified) gradient
// g_y at a node's output to the one at its input(s), for tensors of one row per image or per
// backward row alike; the relevance at an input x is then x * g_x.
#include <ATen/core/Tensor.h>

#include <array>

#include "model/network.h"

namespace lrpbench::rules {

// LayerNorm over the last axis (weight w, eps): with `hold_divisor`, the divisor
// sqrt(var(x) + eps) is a constant and the map is linear: g_x = (h - mean(h)) / s with
// h = w g_y; else the exact gradient, (h - mean(h) - x^ mean(h x^)) / s with x^ = (x - mean) / s.
at::Tensor norm_gradient(const Layer& l, const at::Tensor& x, const at::Tensor& g_y,
                         bool hold_divisor);

// The exact gradient of an Act node: f'(x) g_y (y = f(x)).
at::Tensor act_gradient(const Layer& l, const at::Tensor& x, const at::Tensor& y,
                        const at::Tensor& g_y);

// Softmax over the last axis: y (y - sum(g_y y)) ... i.e. y * (g_y - sum(g_y * y)).
at::Tensor softmax_gradient(const at::Tensor& y, const at::Tensor& g_y);

// Attention from packed q|k|v (N x T x 3D) to merged heads (N x T x D), o = A v with
// A = softmax(q k^T / sqrt(d)): the gradient at q|k|v for g_o (N x T x D) with the product
// A v's operands weighted by `v_factor` (v) and `a_factor` (A; 0: A held constant, nothing
// reaches q and k) and the product q k^T's by `qk_factor` (each of q and k).
at::Tensor attention_gradient(const Layer& l, const at::Tensor& qkv, const at::Tensor& g_o,
                              double v_factor, double a_factor, double qk_factor);

// y = a * b (broadcasting): g_a = g_y b and g_b = g_y a, each summed back to its operand's
// shape.
std::array<at::Tensor, 2> product_gradients(const at::Tensor& a, const at::Tensor& b,
                                            const at::Tensor& g_y);
// The operand's shape from a broadcast gradient (summed over the broadcast axes).
at::Tensor sum_to(const at::Tensor& g, const at::Tensor& like);

}  // namespace lrpbench::rules
