#include "lrp/engine.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <atomic>
#include <functional>
#include <map>
#include <stdexcept>

#include "lrp/stabilizer.h"
#include "lrp/weight_cache.h"
#include "util/error.h"

namespace lrpbench {
namespace {

// A linear layer's parameters under a weight modifier. Pooling layers have no weight
// tensor: their modified "weights" are the pooling weights times `scale`. A modified weight
// (`make`, named by op and g) comes from the weight cache when first asked for: the
// transpose of a stride-1 conv needs only its flipped form, so the weight itself is then
// never built or kept.
struct Params {
  Params(at::Tensor w_, at::Tensor b_, double scale_)
      : w(std::move(w_)), b(std::move(b_)), scale(scale_) {}

  at::Tensor w, b;
  double scale = 1.0;
  std::function<at::Tensor()> make;
  WeightOp op = WeightOp::Plain;
  double g = 0.0;
  at::Tensor base;  // the layer's weight, the cache key of a modified one

  at::Tensor weight() const { return make ? cached_weight(base, op, g, make) : w; }
  // The flipped, transposed kernel (cached for the layer's own and modified weights).
  at::Tensor flipped_weight() const {
    // Contiguous: oneDNN reorders a strided kernel on every call (5x the conv itself on
    // ResNet-50's last block); the values, and so the results, are the same.
    auto flip = [this] { return (make ? make() : w).transpose(0, 1).flip({2, 3}).contiguous(); };
    if (make || (base.defined() && w.is_same(base)))
      return cached_weight(base, flipped(op), g, flip);
    return flip();
  }
};

bool is_pool(const Layer& l) {
  return l.kind == LayerKind::AvgPool2d || l.kind == LayerKind::AdaptiveAvgPool2d;
}

// Number of inputs averaged by one pooling output (its weight is 1/k).
double pool_size(const Layer& l, const at::Tensor& a) {
  if (l.kind == LayerKind::AvgPool2d) return static_cast<double>(l.kernel[0] * l.kernel[1]);
  return static_cast<double>((a.size(2) / l.output_size[0]) * (a.size(3) / l.output_size[1]));
}

Params plain(const Layer& l) {
  Params p{l.weight, l.bias, 1.0};
  p.base = l.weight;
  return p;
}

// The layer's weight under the modifier `make` (named by op and g); built lazily.
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

// W^ = W + g W+ (and b^ = b + g b+ when `bias`).
Params gamma_params(const Layer& l, double g, bool bias = true) {
  if (is_pool(l)) return {{}, {}, 1.0 + g};
  return modified(l, WeightOp::Hat, g, [&l, g] { return l.weight + l.weight.clamp_min(0) * g; },
                  bias && l.bias.defined() ? l.bias + l.bias.clamp_min(0) * g : at::Tensor());
}

// Wv = W + g W- (and bv = b + g b- when `bias`): pooling weights are positive, so Wv = W.
Params gamma_neg_params(const Layer& l, double g, bool bias = true) {
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

// z = x W + b under the given parameters.
at::Tensor lin(const Layer& l, const at::Tensor& x, const Params& p) {
  switch (l.kind) {
    case LayerKind::Conv2d:
      return at::conv2d(x, p.weight(), p.b, l.stride, l.padding, l.dilation, l.groups);
    case LayerKind::Linear:
      return at::linear(x.dim() == 2 ? x : x.flatten(1), p.weight(), p.b);
    default: {
      const at::Tensor pooled = forward_layer(l, x);
      return p.scale == 1.0 ? pooled : pooled * p.scale;
    }
  }
}

// c = W^T s: the gradient of lin with respect to its input, for inputs shaped like `a`
// but with s.size(0) rows.
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
        return at::conv2d(s, wt, {}, 1,
                          {l.kernel[0] - 1 - l.padding[0], l.kernel[1] - 1 - l.padding[1]});
      }
      const at::Tensor like = at::empty(in_shape, a.options());
      return std::get<0>(at::convolution_backward(s, like, p.weight(), c10::nullopt, l.stride, l.padding,
                                                  l.dilation, false, {0, 0}, l.groups,
                                                  {true, false, false}));
    }
    case LayerKind::Linear:
      return s.mm(p.weight()).view(in_shape);
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

at::Tensor gather(const at::Tensor& t, const at::Tensor& rows) {
  return rows.defined() ? t.index_select(0, rows) : t;
}

at::Tensor channel_bounds(const at::Tensor& a, const std::vector<double>& v) {
  require(static_cast<int64_t>(v.size()) == a.size(1), "zbox: bounds do not match channels");
  at::Tensor c =
      at::tensor(std::vector<float>(v.begin(), v.end()), a.options()).view({1, a.size(1), 1, 1});
  return c.expand(a.sizes());
}

// Broadcasts a per-output-unit bias over z's shape.
at::Tensor unit_bias(const Layer& l, const at::Tensor& b) {
  return l.kind == LayerKind::Conv2d ? b.view({1, -1, 1, 1}) : b.view({1, -1});
}

// zennit's generalised gamma (docs/method.md, "LRP-gamma"). With inputs >= 0 and relevance
// only on units with z > 0 (every VGG conv) it is the plain rule w + g w+, computed exactly
// as before; the terms for negative inputs and for units with z < 0 are added only where
// they are not zero. `nonneg`: the caller knows a >= 0 (no reduction to find out).
at::Tensor propagate_gamma(const Layer& l, const Rule& rule, const at::Tensor& a,
                           const at::Tensor& z, const at::Tensor& r, const at::Tensor& rows,
                           bool nonneg) {
  const double g = rule.p1, eps = rule.eps();
  const at::Tensor zr = gather(z, rows).reshape(r.sizes());
  const bool negative_inputs = !nonneg && a.min().item<double>() < 0;
  const bool negative_units = relevance_on_nonpositive(r, zr);
  const Params hat = gamma_params(l, g);
  if (!negative_inputs && !negative_units) {
    const at::Tensor s = stabilized_divide(r, gather(lin(l, a, hat), rows), eps, rule.stab);
    return lin_t(l, s, hat, a).mul_(gather(a, rows));  // in place: one buffer less
  }
  const Params vee = gamma_neg_params(l, g);
  if (!negative_inputs && !is_pool(l)) {
    // x >= 0: both denominators from one conv with W+ and the recorded z = W x + b:
    // W^ x + b^ = z + g (W+ x + b+), Wv x + bv = z + g (z - W+ x - b+).
    at::Tensor pz = lin(l, a, positive(l, false));
    if (l.bias.defined()) pz = pz + unit_bias(l, l.bias.clamp_min(0));
    const at::Tensor q =  // rows x 2 x C x ...: s+ and s- side by side
        gamma_quotients(r, zr, gather(pz, rows).reshape(r.sizes()), g, eps, rule.stab);
    if (l.groups != 1)
      return gather(a, rows) *
             (lin_t(l, q.select(1, 0), hat, a) + lin_t(l, q.select(1, 1), vee, a));
    // W^T s+ + Wv^T s- as one transposed pass over the stacked units [W^; Wv].
    const Params both = modified(l, WeightOp::HatVee, g, [&l, g] {
      return at::cat({l.weight + l.weight.clamp_min(0) * g, l.weight + l.weight.clamp_max(0) * g});
    }, {});
    return lin_t(l, q.flatten(1, 2), both, a).mul_(gather(a, rows));
  }
  const at::Tensor rp = at::where(zr > 0, r, at::zeros_like(r));
  const at::Tensor rn = at::where(zr < 0, r, at::zeros_like(r));
  // Without negative inputs x+ is x and x- never used: no copies on the common path.
  const at::Tensor ap = negative_inputs ? a.clamp_min(0) : a;
  const at::Tensor an = negative_inputs ? a.clamp_max(0) : at::Tensor();
  const Params hat_w = gamma_params(l, g, false), vee_w = gamma_neg_params(l, g, false);
  // s+ = [z > 0] R / stab(W^ x+ + Wv x- + b^), s- = [z < 0] R / stab(Wv x+ + W^ x- + bv).
  at::Tensor zp = lin(l, ap, hat);
  if (negative_inputs) zp = zp + lin(l, an, vee_w);
  const at::Tensor sp = stabilized_divide(rp, gather(zp, rows), eps, rule.stab);
  at::Tensor cp = lin_t(l, sp, hat, a), cn;  // what x+ and x- receive
  if (negative_inputs) cn = lin_t(l, sp, vee, a);
  at::Tensor zn = lin(l, ap, vee);
  if (negative_inputs) zn = zn + lin(l, an, hat_w);
  const at::Tensor sn = stabilized_divide(rn, gather(zn, rows), eps, rule.stab);
  cp = cp + lin_t(l, sn, vee, a);
  if (negative_inputs) cn = cn + lin_t(l, sn, hat, a);
  at::Tensor out = gather(ap, rows) * cp;
  if (negative_inputs) out = out + gather(an, rows) * cn;
  return out;
}

}  // namespace

namespace {

// One call of a rule on an add node (unit weights, no bias): the (normalised) rule, the
// node's inputs, its output z, the relevance r at its output and the image of each row; the
// inputs' positive and negative parts are made by parts(), by the rules that need them.
struct AddCall {
  const Rule& rule;
  const std::vector<at::Tensor>& in;
  const at::Tensor& z;
  const at::Tensor& r;
  const at::Tensor& rows;

  at::Tensor div(const at::Tensor& num, const at::Tensor& den) const {
    return stabilized_divide(num, gather(den, rows).reshape(num.sizes()), rule.eps(), rule.stab);
  }
  std::vector<at::Tensor> parts(bool positive) const {
    std::vector<at::Tensor> out;
    for (const at::Tensor& x : in) out.push_back(positive ? x.clamp_min(0) : x.clamp_max(0));
    return out;
  }
  static at::Tensor sum(const std::vector<at::Tensor>& v) {
    at::Tensor t = v[0];
    for (size_t k = 1; k < v.size(); ++k) t = t + v[k];
    return t;
  }
};

std::vector<at::Tensor> add_zero(const AddCall& c) {  // LRP-0 and LRP-epsilon
  const at::Tensor s = c.div(c.r, c.z);
  std::vector<at::Tensor> out;
  for (const at::Tensor& x : c.in) out.push_back(gather(x, c.rows) * s);
  return out;
}

std::vector<at::Tensor> add_gamma(const AddCall& c) {  // W = 1: W^ = 1 + g, Wv = 1
  const double g = c.rule.p1;
  const std::vector<at::Tensor> pos = c.parts(true), neg = c.parts(false);
  const at::Tensor sp_ = AddCall::sum(pos), sn_ = AddCall::sum(neg);
  const at::Tensor zr = gather(c.z, c.rows).reshape(c.r.sizes());
  const at::Tensor sp = c.div(at::where(zr > 0, c.r, at::zeros_like(c.r)), sp_ * (1 + g) + sn_);
  const at::Tensor sn = c.div(at::where(zr < 0, c.r, at::zeros_like(c.r)), sp_ + sn_ * (1 + g));
  std::vector<at::Tensor> out;
  for (size_t k = 0; k < c.in.size(); ++k)
    out.push_back(gather(pos[k], c.rows) * (sp * (1 + g) + sn) +
                  gather(neg[k], c.rows) * (sp + sn * (1 + g)));
  return out;
}

std::vector<at::Tensor> add_zplus(const AddCall& c) {
  const std::vector<at::Tensor> pos = c.parts(true);
  const at::Tensor s = c.div(c.r, AddCall::sum(pos));
  std::vector<at::Tensor> out;
  for (const at::Tensor& x : pos) out.push_back(gather(x, c.rows) * s);
  return out;
}

std::vector<at::Tensor> add_alphabeta(const AddCall& c) {
  const std::vector<at::Tensor> pos = c.parts(true), neg = c.parts(false);
  const at::Tensor sp = c.div(c.r, AddCall::sum(pos)), sn = c.div(c.r, AddCall::sum(neg));
  std::vector<at::Tensor> out;
  for (size_t k = 0; k < c.in.size(); ++k)
    out.push_back(gather(pos[k], c.rows) * sp * c.rule.p1 -
                  gather(neg[k], c.rows) * sn * c.rule.p2);
  return out;
}

std::vector<at::Tensor> add_spread(const AddCall& c) {  // flat and wsquare: equal shares
  const at::Tensor count = at::full_like(c.r, static_cast<double>(c.in.size()));
  const at::Tensor s = stabilized_divide(c.r, count, c.rule.eps(), c.rule.stab);
  return std::vector<at::Tensor>(c.in.size(), s);
}

using AddRule = std::vector<at::Tensor> (*)(const AddCall&);

}  // namespace

at::Tensor propagate_affine(const Layer& l, const Rule& rule_in, const at::Tensor& a,
                            const at::Tensor& z, const at::Tensor& r, const at::Tensor& rows) {
  const Rule rule = rule_in.normalized();
  if (rule.kind == RuleKind::Pass) return r;
  require(rule.kind == RuleKind::Zero || rule.kind == RuleKind::Epsilon,
          "internal: rule " + rule.text() + " on a BatchNorm node");
  const at::Tensor s =
      stabilized_divide(r, gather(z, rows).reshape(r.sizes()), rule.eps(), rule.stab);
  return gather(a, rows) * s * l.weight.view({1, -1, 1, 1});
}

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
    return stabilized_divide(r, gather(zz, rows), eps, rule.stab);
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
    return (gather(x3, rows) * lin_t(l, s, w3, x3)).view(split).sum(1);
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
  return (gather(a, rows) - h) * c2.narrow(1, 0, ch) + lh * c2.narrow(1, ch, ch);
}

}  // namespace

namespace {

// One call of a rule on a node with weights or a pooling: the layer, the (normalised) rule,
// the layer's input a, its plain output z (may be undefined), the relevance r at its output,
// the image of each row, the zbox bounds and whether a >= 0 is known from the graph.
struct LinearCall {
  const Layer& l;
  const Rule& rule;
  const at::Tensor& a;
  const at::Tensor& z;
  const at::Tensor& r;
  const at::Tensor& rows;
  const std::vector<double>& lo;
  const std::vector<double>& hi;
  bool nonneg;

  at::Tensor div(const at::Tensor& zz) const {
    return stabilized_divide(r, gather(zz, rows), rule.eps(), rule.stab);
  }
  at::Tensor plain_z() const { return z.defined() ? z : lin(l, a, plain(l)); }
};

at::Tensor linear_zero(const LinearCall& c) {  // LRP-0 and LRP-epsilon
  const at::Tensor s = c.div(c.plain_z());
  return lin_t(c.l, s, plain(c.l), c.a).mul_(gather(c.a, c.rows));
}

at::Tensor linear_gamma(const LinearCall& c) {
  return propagate_gamma(c.l, c.rule, c.a, c.plain_z(), c.r, c.rows, c.nonneg);
}

at::Tensor linear_zbox(const LinearCall& c) {
  return propagate_zbox(c.l, c.rule, c.a, c.z, c.r, c.rows, c.lo, c.hi);
}

at::Tensor linear_zplus(const LinearCall& c) {
  const Layer& l = c.l;
  const at::Tensor ap = c.a.clamp_min(0), an = c.a.clamp_max(0);
  const Params wp = positive(l, true), wn = negative(l, false);
  const at::Tensor s = c.div(lin(l, ap, wp) + lin(l, an, wn));
  return gather(ap, c.rows) * lin_t(l, s, wp, c.a) + gather(an, c.rows) * lin_t(l, s, wn, c.a);
}

at::Tensor linear_alphabeta(const LinearCall& c) {
  const Layer& l = c.l;
  const double alpha = c.rule.p1, beta = c.rule.p2;
  const at::Tensor ap = c.a.clamp_min(0), an = c.a.clamp_max(0);
  const Params wp_b = positive(l, true), wn_b = negative(l, true);
  const Params wp = positive(l, false), wn = negative(l, false);
  const at::Tensor sp = c.div(lin(l, ap, wp_b) + lin(l, an, wn));
  const at::Tensor sn = c.div(lin(l, ap, wn_b) + lin(l, an, wp));
  const at::Tensor gp = gather(ap, c.rows), gn = gather(an, c.rows);
  at::Tensor out = (gp * lin_t(l, sp, wp, c.a) + gn * lin_t(l, sp, wn, c.a)) * alpha;
  if (beta != 0.0) out = out - (gp * lin_t(l, sn, wn, c.a) + gn * lin_t(l, sn, wp, c.a)) * beta;
  return out;
}

at::Tensor linear_pass(const LinearCall& c) { return c.r; }

// flat (unit weights) and wsquare (squared weights): relevance spread by the modified
// weights alone, independent of the input.
at::Tensor linear_spread(const LinearCall& c) {
  const at::Tensor ones = at::ones_like(c.a.narrow(0, 0, 1));
  const Params p = c.rule.kind == RuleKind::Flat ? ones_params(c.l, c.a) : square_params(c.l, c.a);
  const at::Tensor zz = lin(c.l, ones, p);  // one image: the same for every row
  const at::Tensor s = stabilized_divide(c.r, zz.expand_as(c.r), c.rule.eps(), c.rule.stab);
  return lin_t(c.l, s, p, c.a);
}

using LinearRule = at::Tensor (*)(const LinearCall&);

// The engine's half of the rule table (lrp/rule.h has the other): how each rule moves
// relevance through a node with weights or a pooling, and through an add node (none where
// the rule does not apply there: rule_applies refuses it before the engine runs).
struct Propagation {
  LinearRule linear;
  AddRule add;
};

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
  };
  const auto it = table.find(rule.kind);
  if (it == table.end()) throw std::logic_error("rule " + rule.text() + " has no propagation");
  return it->second;
}

}  // namespace

at::Tensor propagate_linear(const Layer& l, const Rule& rule_in, const at::Tensor& a,
                            const at::Tensor& z, const at::Tensor& r, const at::Tensor& rows,
                            const std::vector<double>& lo, const std::vector<double>& hi,
                            bool nonneg_input) {
  const Rule rule = rule_in.normalized();
  return propagation(rule).linear(LinearCall{l, rule, a, z, r, rows, lo, hi, nonneg_input});
}

std::vector<at::Tensor> propagate_add(const Rule& rule_in, const std::vector<at::Tensor>& in,
                                      const at::Tensor& z, const at::Tensor& r,
                                      const at::Tensor& rows) {
  const Rule rule = rule_in.normalized();
  const AddRule add = propagation(rule).add;
  if (!add) throw std::logic_error("rule " + rule.text() + " on an add node");
  return add(AddCall{rule, in, z, r, rows});
}

namespace {

// Rows of the backward pass: each row carries the relevance of one image under a set of
// composites that agree on every rule-carrying node above.
struct Row {
  int64_t image;
  std::vector<int> comps;
};

// The backward pass over the graph, in reverse execution order. Relevance waiting at a
// node's output (from each consumer, summed) is kept per node; when composites disagree at
// a node, its rows split and every waiting tensor follows the split.
class Backward {
 public:
  Backward(const Network& net, const ForwardRecord& rec, const std::vector<Composite>& comps,
           int64_t n, const ExplainOptions& opt)
      : net_(net), rec_(rec), comps_(comps), n_(n), opt_(opt) {
    for (size_t c = 0; c < net.mean.size(); ++c) {
      lo_.push_back((0.0 - net.mean[c]) / net.std[c]);
      hi_.push_back((1.0 - net.mean[c]) / net.std[c]);
    }
    idx_opts_ = at::TensorOptions().dtype(at::kLong).device(rec.input.device());
    std::vector<int> all(comps.size());
    for (size_t c = 0; c < comps.size(); ++c) all[c] = static_cast<int>(c);
    for (int64_t i = 0; i < n; ++i) rows_.push_back({i, all});
    waiting_.assign(net.layers.size(), at::Tensor());
    nonneg_ = nonnegative_outputs(net);
  }

  struct NodeSums {
    size_t pos;
    std::vector<Row> rows;
    std::vector<std::string> rules;  // rule text per row
    at::Tensor in_sum, out_sum;
  };

  // Runs the pass from the relevance at the output; returns the relevance at the input
  // (rows x C x H x W).
  at::Tensor run(const at::Tensor& start) {
    waiting_.back() = start;
    for (size_t pos = net_.layers.size(); pos-- > 0;) {
      at::Tensor rel = std::move(waiting_[pos]);
      waiting_[pos] = at::Tensor();
      if (!rel.defined()) continue;
      const Layer& l = net_.layers[pos];
      if (l.slot >= 0)
        rule_node(pos, rel);
      else
        plain_node(pos, rel);
    }
    return input_rel_;
  }

  const std::vector<Row>& rows() const { return rows_; }
  const std::vector<NodeSums>& sums() const { return sums_; }
  int64_t node_rows() const { return node_rows_; }

 private:
  const Network& net_;
  const ForwardRecord& rec_;
  const std::vector<Composite>& comps_;
  const int64_t n_;
  const ExplainOptions& opt_;
  std::vector<double> lo_, hi_;
  at::TensorOptions idx_opts_;
  std::vector<Row> rows_;
  std::vector<at::Tensor> waiting_;  // relevance at each node's output, summed over consumers
  at::Tensor input_rel_;
  std::vector<NodeSums> sums_;
  int64_t node_rows_ = 0;
  std::vector<bool> nonneg_;  // per node: its output is >= 0 by construction

  // Which node outputs are non-negative by the graph alone: a ReLU's, and what pooling,
  // reshaping, concatenating or adding such outputs gives.
  static std::vector<bool> nonnegative_outputs(const Network& net) {
    std::vector<bool> out(net.layers.size(), false);
    for (size_t pos = 0; pos < net.layers.size(); ++pos) {
      const Layer& l = net.layers[pos];
      auto inputs_nonneg = [&] {
        for (int in : l.inputs)
          if (in == kNetworkInput || !out[static_cast<size_t>(in)]) return false;
        return !l.inputs.empty();
      };
      switch (l.kind) {
        case LayerKind::ReLU:
          out[pos] = true;
          break;
        case LayerKind::MaxPool2d:
        case LayerKind::AvgPool2d:
        case LayerKind::AdaptiveAvgPool2d:
        case LayerKind::Flatten:
        case LayerKind::Dropout:
        case LayerKind::Concat:
        case LayerKind::Add:
          out[pos] = inputs_nonneg();
          break;
        default:
          break;
      }
    }
    return out;
  }

  // Image of each row (undefined when rows are the images in order).
  at::Tensor row_images(const std::vector<Row>& rs) const {
    bool identity = static_cast<int64_t>(rs.size()) == n_;
    for (size_t i = 0; identity && i < rs.size(); ++i)
      identity = rs[i].image == static_cast<int64_t>(i);
    if (identity) return {};
    std::vector<int64_t> v;
    for (const Row& r : rs) v.push_back(r.image);
    return at::tensor(v, idx_opts_);
  }

  std::vector<int64_t> shape_with_rows(const at::Tensor& t) const {
    std::vector<int64_t> s = t.sizes().vec();
    s[0] = static_cast<int64_t>(rows_.size());
    return s;
  }

  void deliver(int src, const at::Tensor& r) {
    at::Tensor& d = src == kNetworkInput ? input_rel_ : waiting_[static_cast<size_t>(src)];
    d = d.defined() ? d + r : r;
  }

  // Splits rows whose composites disagree at `slot`; returns each row's rule text.
  std::vector<std::string> split_rows(int slot, at::Tensor& rel) {
    std::vector<Row> next;
    std::vector<int64_t> src;
    std::vector<std::string> keys;
    for (size_t ri = 0; ri < rows_.size(); ++ri) {
      std::vector<std::pair<std::string, std::vector<int>>> parts;
      for (int c : rows_[ri].comps) {
        const std::string key = comps_[static_cast<size_t>(c)].at(slot).text();
        auto it = std::find_if(parts.begin(), parts.end(),
                               [&](const auto& p) { return p.first == key; });
        if (it == parts.end())
          parts.push_back({key, {c}});
        else
          it->second.push_back(c);
      }
      for (auto& [key, cs] : parts) {
        next.push_back({rows_[ri].image, cs});
        src.push_back(static_cast<int64_t>(ri));
        keys.push_back(key);
      }
    }
    if (next.size() != rows_.size()) {
      const at::Tensor sel = at::tensor(src, idx_opts_);
      rel = rel.index_select(0, sel);
      for (at::Tensor& w : waiting_)
        if (w.defined()) w = w.index_select(0, sel);
      if (input_rel_.defined()) input_rel_ = input_rel_.index_select(0, sel);
    }
    rows_ = std::move(next);
    return keys;
  }

  // Relevance at the inputs of rule node `pos` for the relevance `rel` of rows showing the
  // images `rows` (undefined: every image in order).
  std::vector<at::Tensor> propagate(size_t pos, const Rule& rule, const at::Tensor& rel,
                                    const at::Tensor& rows) {
    const Layer& l = net_.layers[pos];
    const at::Tensor& z = rec_.outputs[pos];
    if (l.kind == LayerKind::Add) {
      std::vector<at::Tensor> in;
      for (size_t k = 0; k < l.inputs.size(); ++k) in.push_back(rec_.in(net_, pos, k));
      return propagate_add(rule, in, z, rel, rows);
    }
    const at::Tensor& a = rec_.in(net_, pos);
    if (l.kind == LayerKind::BatchNorm2d) return {propagate_affine(l, rule, a, z, rel, rows)};
    const int src = l.inputs[0];
    const bool nonneg = src != kNetworkInput && nonneg_[static_cast<size_t>(src)];
    return {propagate_linear(l, rule, a, z, rel, rows, lo_, hi_, nonneg)};
  }

  void rule_node(size_t pos, at::Tensor rel) {
    const Layer& l = net_.layers[pos];
    const std::vector<std::string> keys = split_rows(l.slot, rel);
    node_rows_ += static_cast<int64_t>(rows_.size());
    // Group rows by rule and propagate each group in one batched call.
    std::map<std::string, std::vector<int64_t>> groups;
    for (size_t ri = 0; ri < rows_.size(); ++ri)
      groups[keys[ri]].push_back(static_cast<int64_t>(ri));
    const size_t m = l.inputs.size();
    std::vector<at::Tensor> rel_in(m);
    for (const auto& [key, ids] : groups) {
      const Rule& rule =
          comps_[static_cast<size_t>(rows_[static_cast<size_t>(ids[0])].comps[0])].at(l.slot);
      if (groups.size() == 1) {
        std::vector<at::Tensor> parts = propagate(pos, rule, rel, row_images(rows_));
        for (size_t k = 0; k < m; ++k)
          rel_in[k] = parts[k].reshape(shape_with_rows(rec_.in(net_, pos, k)));
        break;
      }
      std::vector<int64_t> img;
      for (int64_t id : ids) img.push_back(rows_[static_cast<size_t>(id)].image);
      const at::Tensor sel = at::tensor(ids, idx_opts_);
      std::vector<at::Tensor> parts =
          propagate(pos, rule, rel.index_select(0, sel), at::tensor(img, idx_opts_));
      for (size_t k = 0; k < m; ++k) {
        const at::Tensor& a = rec_.in(net_, pos, k);
        if (!rel_in[k].defined()) rel_in[k] = at::empty(shape_with_rows(a), a.options());
        std::vector<int64_t> part_shape = shape_with_rows(a);
        part_shape[0] = static_cast<int64_t>(ids.size());
        rel_in[k].index_copy_(0, sel, parts[k].reshape(part_shape));
      }
    }
    if (opt_.diagnostics) {
      const int64_t r = static_cast<int64_t>(rows_.size());
      at::Tensor in_sum = rel_in[0].reshape({r, -1}).sum(1);
      for (size_t k = 1; k < m; ++k) in_sum = in_sum + rel_in[k].reshape({r, -1}).sum(1);
      sums_.push_back({pos, rows_, keys, in_sum, rel.reshape({r, -1}).sum(1)});
    }
    for (size_t k = 0; k < m; ++k) deliver(l.inputs[k], rel_in[k]);
  }

  void plain_node(size_t pos, const at::Tensor& rel) {
    const Layer& l = net_.layers[pos];
    switch (l.kind) {
      case LayerKind::MaxPool2d: {
        const at::Tensor& a = rec_.in(net_, pos);
        const at::Tensor idx = gather(rec_.pool_indices[pos], row_images(rows_));
        const at::Tensor like = at::empty(shape_with_rows(a), a.options());
        deliver(l.inputs[0], at::max_pool2d_with_indices_backward(
                                 rel.reshape(idx.sizes()), like, l.kernel, l.stride, l.padding,
                                 l.dilation, l.ceil_mode, idx));
        return;
      }
      case LayerKind::Concat: {
        int64_t offset = 0;
        for (size_t k = 0; k < l.inputs.size(); ++k) {
          const int64_t c = rec_.in(net_, pos, k).size(1);
          deliver(l.inputs[k], rel.narrow(1, offset, c));
          offset += c;
        }
        return;
      }
      case LayerKind::Pad: {  // the padding's relevance is dropped
        const at::Tensor& a = rec_.in(net_, pos);
        deliver(l.inputs[0], rel.reshape(shape_with_rows(rec_.outputs[pos]))
                                 .narrow(2, l.pad[2], a.size(2))
                                 .narrow(3, l.pad[0], a.size(3)));
        return;
      }
      default:  // ReLU, Dropout, Flatten: unchanged
        deliver(l.inputs[0], rel.reshape(shape_with_rows(rec_.in(net_, pos))));
        return;
    }
  }
};

void fill_diagnostics(const Network& net, const Backward& bw, const at::Tensor& relevance,
                      const at::Tensor& target_logits, Explanation& out) {
  const int64_t n = relevance.size(0), k = relevance.size(1);
  const at::Tensor flat = relevance.reshape({n, k, -1}).to(at::kCPU).to(at::kDouble);
  const at::Tensor finite = at::isfinite(flat);
  const at::Tensor tl = target_logits.to(at::kCPU).to(at::kDouble);
  out.diagnostics.assign(static_cast<size_t>(n), std::vector<Diagnostics>(static_cast<size_t>(k)));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < k; ++c) {
      Diagnostics& d = out.diagnostics[static_cast<size_t>(i)][static_cast<size_t>(c)];
      const at::Tensor v = flat[i][c];
      const at::Tensor fin = finite[i][c];
      d.target = out.targets[static_cast<size_t>(i)];
      d.logit = tl[i].item<double>();
      d.negative_logit = d.logit < 0;
      d.nonfinite = (~fin).sum().item<int64_t>();
      const at::Tensor good = v.masked_select(fin);
      d.relevance_sum = good.sum().item<double>();
      d.relevance_min = good.numel() ? good.min().item<double>() : 0.0;
      d.relevance_max = good.numel() ? good.max().item<double>() : 0.0;
      const double denom = std::fabs(d.logit) > 0 ? std::fabs(d.logit) : 1.0;
      d.conservation_error = std::fabs(d.relevance_sum - d.logit) / denom;
    }
  for (const Backward::NodeSums& s : bw.sums()) {
    const Layer& l = net.layers[s.pos];
    const at::Tensor in = s.in_sum.to(at::kCPU).to(at::kDouble);
    const at::Tensor outv = s.out_sum.to(at::kCPU).to(at::kDouble);
    for (size_t ri = 0; ri < s.rows.size(); ++ri)
      for (int c : s.rows[ri].comps) {
        Diagnostics& d =
            out.diagnostics[static_cast<size_t>(s.rows[ri].image)][static_cast<size_t>(c)];
        const double denom = std::fabs(d.logit) > 0 ? std::fabs(d.logit) : 1.0;
        const double vin = in[static_cast<int64_t>(ri)].item<double>();
        const double vout = outv[static_cast<int64_t>(ri)].item<double>();
        d.layers.push_back(
            {l.index, l.name, node_kind_name(l.kind), s.rules[ri], vin, std::fabs(vin - vout) / denom});
      }
  }
}

std::atomic<int64_t> explain_calls{0};

}  // namespace

int64_t explain_call_count() {
  return explain_calls.load();
}

Explanation explain(const Network& net, const at::Tensor& x, const std::vector<int64_t>& targets,
                    const std::vector<Composite>& composites, const ExplainOptions& opt) {
  ++explain_calls;
  require(net.canonical, "internal: explain needs a canonical network");
  require(!composites.empty(), "explain: no composite given");
  c10::InferenceMode guard;
  const int64_t n = x.size(0);
  const int64_t k = static_cast<int64_t>(composites.size());
  require(static_cast<int64_t>(targets.size()) == n, "explain: one target per image needed");
  const auto idx_opts = at::TensorOptions().dtype(at::kLong).device(x.device());

  ForwardRecord rec;
  const at::Tensor logits = forward(net, x, &rec);
  Explanation out;
  out.logits = logits;
  out.targets = targets;
  for (int64_t i = 0; i < n; ++i) {
    if (out.targets[static_cast<size_t>(i)] < 0)
      out.targets[static_cast<size_t>(i)] = logits[i].argmax().item<int64_t>();
    require(out.targets[static_cast<size_t>(i)] < logits.size(1),
            "--target " + std::to_string(out.targets[static_cast<size_t>(i)]) +
                " is not a class of model " + net.arch + " (" + std::to_string(logits.size(1)) +
                " classes)");
  }
  const at::Tensor tgt = at::tensor(out.targets, idx_opts);
  const at::Tensor target_logits = logits.gather(1, tgt.view({n, 1})).view({n});
  const at::Tensor start =
      at::zeros_like(logits).scatter(1, tgt.view({n, 1}), target_logits.view({n, 1}));

  Backward bw(net, rec, composites, n, opt);
  const at::Tensor rel = bw.run(start);

  // Scatter rows back to [N, K, ...].
  std::vector<int64_t> dest(static_cast<size_t>(n * k), -1);
  for (size_t ri = 0; ri < bw.rows().size(); ++ri)
    for (int c : bw.rows()[ri].comps)
      dest[static_cast<size_t>(bw.rows()[ri].image * k + c)] = static_cast<int64_t>(ri);
  std::vector<int64_t> shape = {n, k};
  for (int64_t d = 1; d < x.dim(); ++d) shape.push_back(x.size(d));
  out.relevance = rel.index_select(0, at::tensor(dest, idx_opts)).reshape(shape);
  out.shared_rows = static_cast<int64_t>(bw.rows().size());
  out.node_rows = bw.node_rows();
  if (opt.diagnostics) fill_diagnostics(net, bw, out.relevance, target_logits, out);
  return out;
}

at::Tensor explain_in_batches(const Network& net, const at::Tensor& x,
                              std::vector<int64_t>& targets, const Composite& composite,
                              int64_t batch, std::vector<Diagnostics>* diagnostics) {
  std::vector<at::Tensor> parts;
  const int64_t n = x.size(0);
  const at::Device device = net.device();
  for (int64_t s = 0; s < n; s += batch) {
    const int64_t e = std::min(n, s + batch);
    const std::vector<int64_t> t(targets.begin() + s, targets.begin() + e);
    const Explanation ex = explain(net, x.slice(0, s, e).to(device), t, {composite},
                                   ExplainOptions{diagnostics != nullptr});
    parts.push_back(ex.relevance.select(1, 0).to(at::kCPU));
    std::copy(ex.targets.begin(), ex.targets.end(), targets.begin() + s);
    if (diagnostics)
      for (const auto& d : ex.diagnostics) diagnostics->push_back(d[0]);
  }
  return at::cat(parts);
}

}  // namespace lrpbench
