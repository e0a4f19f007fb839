#include "lrp/engine.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <map>

#include "lrp/stabilizer.h"
#include "util/error.h"

namespace lrpbench {
namespace {

// A linear layer's parameters under a weight modifier. Pooling layers have no weight
// tensor: their modified "weights" are the pooling weights times `scale`.
struct Params {
  at::Tensor w, b;
  double scale = 1.0;
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
  return {l.weight, l.bias, 1.0};
}

Params positive(const Layer& l, bool bias) {
  if (is_pool(l)) return {{}, {}, 1.0};
  return {l.weight.clamp_min(0), bias && l.bias.defined() ? l.bias.clamp_min(0) : at::Tensor(),
          1.0};
}

Params negative(const Layer& l, bool bias) {
  if (is_pool(l)) return {{}, {}, 0.0};
  return {l.weight.clamp_max(0), bias && l.bias.defined() ? l.bias.clamp_max(0) : at::Tensor(),
          1.0};
}

Params gamma_params(const Layer& l, double g) {
  if (is_pool(l)) return {{}, {}, 1.0 + g};
  return {l.weight + l.weight.clamp_min(0) * g,
          l.bias.defined() ? l.bias + l.bias.clamp_min(0) * g : at::Tensor(), 1.0};
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
      return at::conv2d(x, p.w, p.b, l.stride, l.padding, l.dilation);
    case LayerKind::Linear:
      return at::linear(x.dim() == 2 ? x : x.flatten(1), p.w, p.b);
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
      const bool flip = l.stride[0] == 1 && l.stride[1] == 1 && l.dilation[0] == 1 &&
                        l.dilation[1] == 1 && l.padding[0] < l.kernel[0] &&
                        l.padding[1] < l.kernel[1];
      if (flip)
        return at::conv2d(s, p.w.transpose(0, 1).flip({2, 3}), {}, 1,
                          {l.kernel[0] - 1 - l.padding[0], l.kernel[1] - 1 - l.padding[1]});
      const at::Tensor like = at::empty(in_shape, a.options());
      return std::get<0>(at::convolution_backward(s, like, p.w, c10::nullopt, l.stride, l.padding,
                                                  l.dilation, false, {0, 0}, 1,
                                                  {true, false, false}));
    }
    case LayerKind::Linear:
      return s.mm(p.w).view(in_shape);
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

}  // namespace

at::Tensor propagate_linear(const Layer& l, const Rule& rule_in, const at::Tensor& a,
                            const at::Tensor& z, const at::Tensor& r, const at::Tensor& rows,
                            const std::vector<double>& lo, const std::vector<double>& hi) {
  const Rule rule = rule_in.normalized();
  const double eps = rule.eps();
  const Stabilizer st = rule.stab;
  auto div = [&](const at::Tensor& zz) { return stabilized_divide(r, gather(zz, rows), eps, st); };
  switch (rule.kind) {
    case RuleKind::Zero:
    case RuleKind::Epsilon: {
      const at::Tensor s = div(z.defined() ? z : lin(l, a, plain(l)));
      return gather(a, rows) * lin_t(l, s, plain(l), a);
    }
    case RuleKind::Gamma: {
      const Params p = gamma_params(l, rule.p1);
      const at::Tensor s = div(lin(l, a, p));
      return gather(a, rows) * lin_t(l, s, p, a);
    }
    case RuleKind::ZBox: {
      require(l.kind == LayerKind::Conv2d || l.kind == LayerKind::Linear,
              "zbox needs a conv or dense first layer");
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
    case RuleKind::ZPlus: {
      const at::Tensor ap = a.clamp_min(0), an = a.clamp_max(0);
      const Params wp = positive(l, true), wn = negative(l, false);
      const at::Tensor s = div(lin(l, ap, wp) + lin(l, an, wn));
      return gather(ap, rows) * lin_t(l, s, wp, a) + gather(an, rows) * lin_t(l, s, wn, a);
    }
    case RuleKind::AlphaBeta: {
      const double alpha = rule.p1, beta = rule.p2;
      const at::Tensor ap = a.clamp_min(0), an = a.clamp_max(0);
      const Params wp_b = positive(l, true), wn_b = negative(l, true);
      const Params wp = positive(l, false), wn = negative(l, false);
      const at::Tensor sp = div(lin(l, ap, wp_b) + lin(l, an, wn));
      const at::Tensor sn = div(lin(l, ap, wn_b) + lin(l, an, wp));
      const at::Tensor gp = gather(ap, rows), gn = gather(an, rows);
      at::Tensor out = (gp * lin_t(l, sp, wp, a) + gn * lin_t(l, sp, wn, a)) * alpha;
      if (beta != 0.0) out = out - (gp * lin_t(l, sn, wn, a) + gn * lin_t(l, sn, wp, a)) * beta;
      return out;
    }
    case RuleKind::Flat:
    case RuleKind::WSquare: {
      const at::Tensor ones = at::ones_like(a.narrow(0, 0, 1));
      const Params p = rule.kind == RuleKind::Flat ? ones_params(l, a) : square_params(l, a);
      const at::Tensor zz = lin(l, ones, p);  // one image: the same for every row
      const at::Tensor s = stabilized_divide(r, zz.expand_as(r), eps, st);
      return lin_t(l, s, p, a);
    }
  }
  return r;
}

Explanation explain(const Network& net, const at::Tensor& x, const std::vector<int64_t>& targets,
                    const std::vector<Composite>& composites, const ExplainOptions& opt) {
  require(net.canonical, "internal: explain needs a canonical network");
  require(!composites.empty(), "explain: no composite given");
  c10::InferenceMode guard;
  const int64_t n = x.size(0);
  const int64_t k = static_cast<int64_t>(composites.size());
  require(static_cast<int64_t>(targets.size()) == n, "explain: one target per image needed");
  const auto dev = x.device();
  const auto idx_opts = at::TensorOptions().dtype(at::kLong).device(dev);

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

  std::vector<double> lo, hi;
  for (size_t c = 0; c < net.mean.size(); ++c) {
    lo.push_back((0.0 - net.mean[c]) / net.std[c]);
    hi.push_back((1.0 - net.mean[c]) / net.std[c]);
  }

  // Rows of the backward pass: each row carries the relevance of one image under a set of
  // composites that agree on every layer above.
  struct Row {
    int64_t image;
    std::vector<int> comps;
  };
  std::vector<Row> rows;
  std::vector<int> all(static_cast<size_t>(k));
  for (int c = 0; c < k; ++c) all[static_cast<size_t>(c)] = c;
  for (int64_t i = 0; i < n; ++i) rows.push_back({i, all});
  at::Tensor rel = at::zeros_like(logits).scatter(1, tgt.view({n, 1}), target_logits.view({n, 1}));

  struct LayerSums {
    int index;
    std::vector<Row> rows;
    at::Tensor in_sum, out_sum;
  };
  std::vector<LayerSums> sums;

  auto row_images = [&](const std::vector<Row>& rs) -> at::Tensor {
    bool identity = static_cast<int64_t>(rs.size()) == n;
    for (size_t i = 0; identity && i < rs.size(); ++i)
      identity = rs[i].image == static_cast<int64_t>(i);
    if (identity) return {};
    std::vector<int64_t> v;
    for (const Row& r : rs) v.push_back(r.image);
    return at::tensor(v, idx_opts);
  };

  for (size_t pos = net.layers.size(); pos-- > 0;) {
    const Layer& l = net.layers[pos];
    const at::Tensor& a = rec.inputs[pos];
    std::vector<int64_t> in_shape = a.sizes().vec();
    if (is_linear(l.kind)) {
      // Split rows whose composites disagree on this layer.
      std::vector<Row> next;
      std::vector<int64_t> src;
      std::vector<std::string> keys;
      for (size_t ri = 0; ri < rows.size(); ++ri) {
        std::vector<std::pair<std::string, std::vector<int>>> parts;
        for (int c : rows[ri].comps) {
          const std::string key = composites[static_cast<size_t>(c)].at(l.index).text();
          auto it = std::find_if(parts.begin(), parts.end(),
                                 [&](const auto& p) { return p.first == key; });
          if (it == parts.end())
            parts.push_back({key, {c}});
          else
            it->second.push_back(c);
        }
        for (auto& [key, comps] : parts) {
          next.push_back({rows[ri].image, comps});
          src.push_back(static_cast<int64_t>(ri));
          keys.push_back(key);
        }
      }
      if (next.size() != rows.size()) rel = rel.index_select(0, at::tensor(src, idx_opts));
      rows = std::move(next);
      // Group rows by rule and propagate each group in one batched call.
      std::map<std::string, std::vector<int64_t>> groups;
      for (size_t ri = 0; ri < rows.size(); ++ri)
        groups[keys[ri]].push_back(static_cast<int64_t>(ri));
      in_shape[0] = static_cast<int64_t>(rows.size());
      at::Tensor rel_in;
      for (const auto& [key, ids] : groups) {
        const Rule& rule =
            composites[static_cast<size_t>(rows[static_cast<size_t>(ids[0])].comps[0])].at(l.index);
        if (groups.size() == 1) {
          rel_in = propagate_linear(l, rule, a, rec.outputs[pos], rel, row_images(rows), lo, hi)
                       .reshape(in_shape);
          break;
        }
        if (!rel_in.defined()) rel_in = at::empty(in_shape, a.options());
        std::vector<Row> sub;
        for (int64_t id : ids) sub.push_back(rows[static_cast<size_t>(id)]);
        const at::Tensor sel = at::tensor(ids, idx_opts);
        std::vector<int64_t> img;
        for (const Row& r : sub) img.push_back(r.image);
        const at::Tensor part =
            propagate_linear(l, rule, a, rec.outputs[pos], rel.index_select(0, sel),
                             at::tensor(img, idx_opts), lo, hi);
        std::vector<int64_t> part_shape = in_shape;
        part_shape[0] = static_cast<int64_t>(ids.size());
        rel_in.index_copy_(0, sel, part.reshape(part_shape));
      }
      if (opt.diagnostics)
        sums.push_back({l.index, rows, rel_in.reshape({in_shape[0], -1}).sum(1),
                        rel.reshape({in_shape[0], -1}).sum(1)});
      rel = rel_in;
      continue;
    }
    in_shape[0] = static_cast<int64_t>(rows.size());
    switch (l.kind) {
      case LayerKind::MaxPool2d: {
        const at::Tensor idx = gather(rec.pool_indices[pos], row_images(rows));
        const at::Tensor like = at::empty(in_shape, a.options());
        rel =
            at::max_pool2d_with_indices_backward(rel.reshape(idx.sizes()), like, l.kernel, l.stride,
                                                 l.padding, l.dilation, l.ceil_mode, idx);
        break;
      }
      default:
        rel = rel.reshape(in_shape);
        break;  // ReLU, Dropout, Flatten
    }
  }

  // Scatter rows back to [N, K, ...].
  std::vector<int64_t> dest(static_cast<size_t>(n * k), -1);
  for (size_t ri = 0; ri < rows.size(); ++ri)
    for (int c : rows[ri].comps)
      dest[static_cast<size_t>(rows[ri].image * k + c)] = static_cast<int64_t>(ri);
  std::vector<int64_t> shape = {n, k};
  for (int64_t d = 1; d < x.dim(); ++d) shape.push_back(x.size(d));
  out.relevance = rel.index_select(0, at::tensor(dest, idx_opts)).reshape(shape);
  out.shared_rows = static_cast<int64_t>(rows.size());

  if (opt.diagnostics) {
    const at::Tensor flat = out.relevance.reshape({n, k, -1}).to(at::kCPU).to(at::kDouble);
    const at::Tensor finite = at::isfinite(flat);
    const at::Tensor tl = target_logits.to(at::kCPU).to(at::kDouble);
    out.diagnostics.assign(static_cast<size_t>(n),
                           std::vector<Diagnostics>(static_cast<size_t>(k)));
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
    for (const LayerSums& s : sums) {
      const at::Tensor in = s.in_sum.to(at::kCPU).to(at::kDouble);
      const at::Tensor outv = s.out_sum.to(at::kCPU).to(at::kDouble);
      for (size_t ri = 0; ri < s.rows.size(); ++ri)
        for (int c : s.rows[ri].comps) {
          Diagnostics& d =
              out.diagnostics[static_cast<size_t>(s.rows[ri].image)][static_cast<size_t>(c)];
          const double denom = std::fabs(d.logit) > 0 ? std::fabs(d.logit) : 1.0;
          const double vin = in[static_cast<int64_t>(ri)].item<double>();
          const double vout = outv[static_cast<int64_t>(ri)].item<double>();
          d.layers.push_back({s.index, vin, std::fabs(vin - vout) / denom});
        }
    }
  }
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
