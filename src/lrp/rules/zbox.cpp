// z^B (box rule) for the first layer: relevance to the input within the pixel-value bounds
// l and h (docs/method.md, "Rules").
#include <ATen/ATen.h>

#include "lrp/propagation.h"
#include "util/error.h"

namespace lrpbench::rules {

namespace {

// z^B on the first layer (docs/method.md): R = x c - l c+ - h c- with c = W^T s,
// c+ = W+^T s, c- = W-^T s and s = R / stab(W x - W+ l - W- h).
at::Tensor propagate_zbox(const Layer& l, const Rule& rule, const at::Tensor& a,
                          const at::Tensor& z, const at::Tensor& r, const at::Tensor& rows,
                          const std::vector<double>& lo, const std::vector<double>& hi) {
  require(l.kind == LayerKind::Conv2d || l.kind == LayerKind::Linear,
          "zbox needs a conv or dense first layer");
  const double eps = rule.eps();
  auto div = [&](const at::Tensor& zz) {
    return stabilized_divide(r, zz, eps, rule.stab, rows);
  };
  const bool strided = l.kind == LayerKind::Conv2d && (l.stride[0] != 1 || l.stride[1] != 1);
  if (!strided || !z.defined()) {
    // One conv over the stacked input [x, l, h] with weights [W, -W+, -W-] gives
    // z = Wx - W+l - W-h; its transpose gives [c, -c+, -c-] in one pass too.
    const at::Tensor x3 =
        at::cat({a, channel_bounds(a, lo).contiguous(), channel_bounds(a, hi).contiguous()}, 1);
    const Params w3{
        at::cat({l.weight, -l.weight.clamp_min(0), -l.weight.clamp_max(0)}, 1), {}, 1.0};
    const at::Tensor s = div(lin(l, x3, w3));
    std::vector<int64_t> split = {r.size(0), 3, a.size(1)};
    for (int64_t d = 2; d < a.dim(); ++d) split.push_back(a.size(d));
    // x3[rows] * c3, in c3's place.
    return mul_rows_(lin_t(l, s, w3, x3), x3, rows).reshape(split).sum(1);
  }
  // A strided conv (ResNet's stem), whose transpose is the slow direction: two stacked
  // passes instead of three, R = (x - h) c + (h - l) c+ (as c- = c - c+), and the
  // denominator from the recorded z: W x - W+ l - W- h = z - b - B, where the bound term
  // B = W+ l + W- h depends on the input size only (cached).
  std::vector<double> key = {static_cast<double>(a.size(2)), static_cast<double>(a.size(3))};
  key.insert(key.end(), lo.begin(), lo.end());
  key.insert(key.end(), hi.begin(), hi.end());
  const at::Tensor one = a.narrow(0, 0, 1);
  const at::Tensor bounds = cached_weight(l.weight, WeightOp::BoxBounds, key, [&] {
    const at::Tensor lh = at::cat({channel_bounds(one, lo), channel_bounds(one, hi)}, 1);
    const Params w2{at::cat({l.weight.clamp_min(0), l.weight.clamp_max(0)}, 1), {}, 1.0};
    return lin(l, lh.contiguous(), w2);
  });
  at::Tensor zb = z - bounds;
  if (l.bias.defined()) zb = zb - unit_bias(l, l.bias);
  const at::Tensor s = div(zb);
  // [W, W+] stacked along the inputs: one transposed pass gives [c, c+].
  const Params w2 = modified(l, WeightOp::PlainPlus, 0.0, [&l] {
    return at::cat({l.weight, l.weight.clamp_min(0)}, 1);
  }, {});
  const at::Tensor h = channel_bounds(one, hi), lh = h - channel_bounds(one, lo);
  const at::Tensor c2 = lin_t(l, s, w2, at::cat({one, one}, 1));
  const int64_t ch = a.size(1);
  return (gather_rows(a, rows) - h) * c2.narrow(1, 0, ch) + lh * c2.narrow(1, ch, ch);
}

}  // namespace

at::Tensor linear_zbox(const LinearCall& c) {
  return propagate_zbox(c.l, c.rule, c.a, c.z, c.r, c.rows, c.lo, c.hi);
}

}  // namespace lrpbench::rules
