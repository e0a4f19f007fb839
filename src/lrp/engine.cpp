#include "lrp/engine.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

#include <atomic>
#include <algorithm>
#include <map>
#include <stdexcept>

#include "lrp/node_gradients.h"
#include "lrp/propagation.h"
#include "lrp/stabilizer.h"
#include "util/error.h"

namespace lrpbench {

at::Tensor propagate_affine(const Layer& l, const Rule& rule_in, const at::Tensor& a,
                            const at::Tensor& z, const at::Tensor& r, const at::Tensor& rows) {
  const Rule rule = rule_in.normalized();
  if (rule.kind == RuleKind::Pass) return r;
  require(rule.kind == RuleKind::Zero || rule.kind == RuleKind::Epsilon,
          "internal: rule " + rule.text() + " on a BatchNorm node");
  const at::Tensor s =
      stabilized_divide(r, gather_rows(z, rows).reshape(r.sizes()), rule.eps(), rule.stab);
  return gather_rows(a, rows) * s * l.weight.view({1, -1, 1, 1});
}

at::Tensor propagate_linear(const Layer& l, const Rule& rule_in, const at::Tensor& a,
                            const at::Tensor& z, const at::Tensor& r, const at::Tensor& rows,
                            const std::vector<double>& lo, const std::vector<double>& hi,
                            bool nonneg_input) {
  const Rule rule = rule_in.normalized();
  return rules::propagation(rule).linear(
      rules::LinearCall{l, rule, a, z, r, rows, lo, hi, nonneg_input});
}

std::vector<at::Tensor> propagate_add(const Rule& rule_in, const std::vector<at::Tensor>& in,
                                      const at::Tensor& z, const at::Tensor& r,
                                      const at::Tensor& rows) {
  const Rule rule = rule_in.normalized();
  const rules::AddRule add = rules::propagation(rule).add;
  if (!add) throw std::logic_error("rule " + rule.text() + " on an add node");
  return add(rules::AddCall{rule, in, z, r, rows});
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
  // reshaping, padding, concatenating or adding such outputs gives (NodeKindInfo).
  static std::vector<bool> nonnegative_outputs(const Network& net) {
    std::vector<bool> out(net.layers.size(), false);
    for (size_t pos = 0; pos < net.layers.size(); ++pos) {
      const Layer& l = net.layers[pos];
      const NodeKindInfo& info = node_kind_info(l.kind);
      bool inputs_nonneg = !l.inputs.empty();
      for (int in : l.inputs)
        inputs_nonneg = inputs_nonneg && in != kNetworkInput && out[static_cast<size_t>(in)];
      out[pos] = info.nonneg_out || (info.keeps_nonneg && inputs_nonneg);
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
    // Rows with one rule side by side (stable: each group keeps its rows' order), so that
    // rule_node hands every group its slice of the rows without copying it out.
    const bool sorted = std::is_sorted(keys.begin(), keys.end());
    if (next.size() != rows_.size() || !sorted) {
      std::vector<size_t> perm(next.size());
      for (size_t i = 0; i < perm.size(); ++i) perm[i] = i;
      std::stable_sort(perm.begin(), perm.end(),
                       [&keys](size_t x, size_t y) { return keys[x] < keys[y]; });
      std::vector<Row> sorted_rows;
      std::vector<int64_t> sorted_src;
      std::vector<std::string> sorted_keys;
      for (size_t i : perm) {
        sorted_rows.push_back(std::move(next[i]));
        sorted_src.push_back(src[i]);
        sorted_keys.push_back(std::move(keys[i]));
      }
      next = std::move(sorted_rows);
      src = std::move(sorted_src);
      keys = std::move(sorted_keys);
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
    auto inputs = [&] {
      std::vector<at::Tensor> in;
      for (size_t k = 0; k < l.inputs.size(); ++k) in.push_back(rec_.in(net_, pos, k));
      return in;
    };
    if (l.kind == LayerKind::Add) return propagate_add(rule, inputs(), z, rel, rows);
    if (!is_linear(l.kind) && l.kind != LayerKind::BatchNorm2d) {  // norm, act, attention, product
      const std::vector<at::Tensor> in = inputs();
      const Rule r = rule.normalized();
      const rules::NodeRule fn = rules::propagation(r).node;
      if (!fn) throw std::logic_error("rule " + r.text() + " on a " + node_kind_name(l.kind) + " node");
      return fn(rules::NodeCall{l, r, in, z, rel, rows});
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
    // Rows with one rule are side by side (split_rows): each group, a slice of the rows, is
    // propagated in one batched call.
    const size_t m = l.inputs.size();
    std::vector<at::Tensor> rel_in(m);
    const int64_t total = static_cast<int64_t>(rows_.size());
    for (int64_t b = 0, e = 0; b < total; b = e) {
      e = b + 1;
      while (e < total && keys[static_cast<size_t>(e)] == keys[static_cast<size_t>(b)]) ++e;
      const Rule& rule = comps_[static_cast<size_t>(rows_[static_cast<size_t>(b)].comps[0])].at(l.slot);
      if (b == 0 && e == total) {
        std::vector<at::Tensor> parts = propagate(pos, rule, rel, row_images(rows_));
        for (size_t k = 0; k < m; ++k)
          rel_in[k] = parts[k].reshape(shape_with_rows(rec_.in(net_, pos, k)));
        break;
      }
      std::vector<int64_t> img;
      for (int64_t id = b; id < e; ++id) img.push_back(rows_[static_cast<size_t>(id)].image);
      std::vector<at::Tensor> parts =
          propagate(pos, rule, rel.narrow(0, b, e - b).contiguous(), at::tensor(img, idx_opts_));
      for (size_t k = 0; k < m; ++k) {
        const at::Tensor& a = rec_.in(net_, pos, k);
        if (!rel_in[k].defined()) rel_in[k] = at::empty(shape_with_rows(a), a.options());
        std::vector<int64_t> part_shape = shape_with_rows(a);
        part_shape[0] = e - b;
        rel_in[k].narrow(0, b, e - b).copy_(parts[k].reshape(part_shape));
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

  // Nodes without a rule hand relevance to their inputs as their kind's row of
  // plain_backward() says: unchanged (reshaped to the input) unless listed.
  void plain_node(size_t pos, const at::Tensor& rel) {
    const Layer& l = net_.layers[pos];
    const PlainBackward back = plain_backward(l.kind);
    if (back) {
      (this->*back)(pos, rel);
      return;
    }
    deliver(l.inputs[0], rel.reshape(shape_with_rows(rec_.in(net_, pos))));
  }

  using PlainBackward = void (Backward::*)(size_t pos, const at::Tensor& rel);

  static PlainBackward plain_backward(LayerKind kind) {
    static const std::pair<LayerKind, PlainBackward> table[] = {
        {LayerKind::MaxPool2d, &Backward::maxpool_backward},
        {LayerKind::Concat, &Backward::concat_backward},
        {LayerKind::Pad, &Backward::pad_backward},
        {LayerKind::Tokens, &Backward::tokens_backward},
        {LayerKind::ClassToken, &Backward::class_token_backward},
        {LayerKind::Scale, &Backward::scale_backward},
        {LayerKind::Softmax, &Backward::softmax_backward},
        {LayerKind::Select, &Backward::select_backward},
        {LayerKind::Map, &Backward::map_backward},
    };  // ReLU, Dropout, Flatten: unchanged
    for (const auto& [k, fn] : table)
      if (k == kind) return fn;
    return nullptr;
  }

  // Winner takes all: each window's relevance goes to its recorded maximum.
  void maxpool_backward(size_t pos, const at::Tensor& rel) {
    const Layer& l = net_.layers[pos];
    const at::Tensor& a = rec_.in(net_, pos);
    const at::Tensor& rec_idx = rec_.pool_indices[pos];
    const at::Tensor rows = row_images(rows_);
    std::vector<int64_t> out_shape = rec_idx.sizes().vec();
    out_shape[0] = static_cast<int64_t>(rows_.size());
    const at::Tensor r = rel.reshape(out_shape);
    if (rows.defined() && rows.device().is_cpu() && r.device().is_cpu() &&
        r.scalar_type() == at::kFloat && r.is_contiguous() && rec_idx.is_contiguous() &&
        a.dim() == 4 && rec_idx.dim() == 4) {
      deliver(l.inputs[0], maxpool_scatter(r, rec_idx, rows, shape_with_rows(a)));
      return;
    }
    const at::Tensor idx = gather_rows(rec_idx, rows);
    const at::Tensor like = at::empty(shape_with_rows(a), a.options());
    deliver(l.inputs[0],
            at::max_pool2d_with_indices_backward(r, like, l.kernel, l.stride, l.padding,
                                                 l.dilation, l.ceil_mode, idx));
  }

  // max_pool2d_with_indices_backward on contiguous CPU floats, reading each row's indices
  // from its image's (rows: CPU int64, the image of each row) instead of a gathered copy.
  // The same sums in the same order as LibTorch's kernel: every plane zeroed, then each
  // pooled value added to the input it came from, output positions in row-major order.
  static at::Tensor maxpool_scatter(const at::Tensor& rel, const at::Tensor& indices,
                                    const at::Tensor& rows, const std::vector<int64_t>& shape) {
    at::Tensor out = at::zeros(shape, rel.options());
    const int64_t channels = rel.size(1), pooled = rel.size(2) * rel.size(3);
    const int64_t plane = shape[2] * shape[3];
    const at::Tensor map = rows.contiguous();
    const int64_t* mp = map.data_ptr<int64_t>();
    const float* rp = rel.data_ptr<float>();
    const int64_t* ip = indices.data_ptr<int64_t>();
    float* op = out.data_ptr<float>();
    at::parallel_for(0, rel.size(0) * channels, 0, [&](int64_t begin, int64_t end) {
      for (int64_t pc = begin; pc < end; ++pc) {
        const int64_t row = pc / channels, c = pc % channels;
        const int64_t* idx = ip + (mp[row] * channels + c) * pooled;
        const float* g = rp + pc * pooled;
        float* o = op + pc * plane;
        for (int64_t p = 0; p < pooled; ++p)
          if (idx[p] != -1) o[idx[p]] += g[p];
      }
    });
    return out;
  }

  // Each input receives its own channels.
  void concat_backward(size_t pos, const at::Tensor& rel) {
    const Layer& l = net_.layers[pos];
    int64_t offset = 0;
    for (size_t k = 0; k < l.inputs.size(); ++k) {
      const int64_t c = rec_.in(net_, pos, k).size(1);
      deliver(l.inputs[k], rel.narrow(1, offset, c));
      offset += c;
    }
  }

  // Tokens back to the map they came from: rows x T x C -> rows x C x H x W.
  void tokens_backward(size_t pos, const at::Tensor& rel) {
    const Layer& l = net_.layers[pos];
    deliver(l.inputs[0],
            rel.transpose(1, 2).reshape(shape_with_rows(rec_.in(net_, pos))).contiguous());
  }

  void map_backward(size_t pos, const at::Tensor& rel) {
    deliver(net_.layers[pos].inputs[0], rel.flatten(2).transpose(1, 2).contiguous());
  }

  // The class token is a constant: it keeps its share.
  void class_token_backward(size_t pos, const at::Tensor& rel) {
    const Layer& l = net_.layers[pos];
    deliver(l.inputs[0], rel.narrow(1, 1, rel.size(1) - 1));
  }

  // y = x * w + b with constants: x gets x * w * r / y (all of r without a bias).
  void scale_backward(size_t pos, const at::Tensor& rel) {
    const Layer& l = net_.layers[pos];
    if (!l.bias.defined()) {
      deliver(l.inputs[0], rel);
      return;
    }
    const at::Tensor rows = row_images(rows_);
    const at::Tensor g = stabilized_divide(rel, rec_.outputs[pos], 0.0, Stabilizer::None, rows);
    at::Tensor x = gather_rows(rec_.in(net_, pos), rows);
    if (l.weight.defined()) x = x * l.weight;
    deliver(l.inputs[0], x * g);
  }

  // A softmax outside attention: its exact gradient.
  void softmax_backward(size_t pos, const at::Tensor& rel) {
    const Layer& l = net_.layers[pos];
    const at::Tensor rows = row_images(rows_);
    const at::Tensor y = gather_rows(rec_.outputs[pos], rows);
    const at::Tensor g = stabilized_divide(rel, rec_.outputs[pos], 0.0, Stabilizer::None, rows);
    deliver(l.inputs[0], gather_rows(rec_.in(net_, pos), rows) * rules::softmax_gradient(y, g));
  }

  // One token: the others receive nothing.
  void select_backward(size_t pos, const at::Tensor& rel) {
    const Layer& l = net_.layers[pos];
    at::Tensor out = at::zeros(shape_with_rows(rec_.in(net_, pos)), rel.options());
    out.select(1, l.token).copy_(rel);
    deliver(l.inputs[0], out);
  }

  // The padding's relevance is dropped.
  void pad_backward(size_t pos, const at::Tensor& rel) {
    const Layer& l = net_.layers[pos];
    const at::Tensor& a = rec_.in(net_, pos);
    deliver(l.inputs[0], rel.reshape(shape_with_rows(rec_.outputs[pos]))
                             .narrow(2, l.pad[2], a.size(2))
                             .narrow(3, l.pad[0], a.size(3)));
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
