#include "model/graph_check.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "util/error.h"

namespace lrpbench {
namespace {

std::string dims_text(const std::vector<int64_t>& d) {
  std::string s = "[";
  for (size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
  return s + "]";
}

std::string pair_text(const std::array<int64_t, 2>& p) {
  return std::to_string(p[0]) + "x" + std::to_string(p[1]);
}

std::string shape_text(const ActShape& a) {
  if (a.tokens()) return std::to_string(a.t) + " tokens x " + std::to_string(a.c);
  return a.spatial ? std::to_string(a.c) + "x" + std::to_string(a.h) + "x" + std::to_string(a.w)
                   : std::to_string(a.c) + " features";
}

// Products and sums of sizes that never overflow: anything past kLarge is kLarge.
constexpr int64_t kLarge = int64_t{1} << 62;
int64_t mul(int64_t a, int64_t b) {
  int64_t r = 0;
  return __builtin_mul_overflow(a, b, &r) || r > kLarge ? kLarge : r;
}
int64_t numel(const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims) n = mul(n, d);
  return n;
}
int64_t numel(const ActShape& a) {
  if (a.tokens()) return mul(a.t, a.c);
  return a.spatial ? mul(mul(a.c, a.h), a.w) : a.c;
}

// The size-independent checks of one node; `bad` throws naming the node.
class NodeChecker {
 public:
  NodeChecker(const NodeSpec& n, const std::string& what) : n_(n), what_(what) {}

  // Bounds of every parameter, then the kind's own checks (its row in kind_rules).
  void run(void (NodeChecker::*attributes)() const) const {
    for (const ParamShape* p : {&n_.weight, &n_.bias, &n_.running_mean, &n_.running_var})
      if (p->defined) param_bounds(*p);
    (this->*attributes)();
  }

  [[noreturn]] void bad(const std::string& why) const {
    throw InputError(what_ + ": node '" + n_.name + "' (" + node_kind_name(n_.kind) + ") " + why);
  }

 private:
  const NodeSpec& n_;
  const std::string& what_;

  void param_bounds(const ParamShape& p) const {
    for (int64_t d : p.dims)
      if (d < 1) bad("has a parameter of shape " + dims_text(p.dims) + " (empty or negative)");
    if (numel(p.dims) > kMaxParameterValues)
      bad("has a parameter of shape " + dims_text(p.dims) + " (over " +
          std::to_string(kMaxParameterValues) + " values)");
  }
  void in_range(const std::array<int64_t, 2>& v, int64_t lo, const char* what) const {
    for (int64_t x : v)
      if (x < lo || x > kMaxGraphAttribute)
        bad("has " + std::string(what) + " " + pair_text(v) + " (each " + std::to_string(lo) +
            " to " + std::to_string(kMaxGraphAttribute) + ")");
  }
  void positive(const std::array<int64_t, 2>& v, const char* what) const { in_range(v, 1, what); }
  void vector_of(const ParamShape& p, int64_t length, const char* what, bool required) const {
    if (!p.defined) {
      if (required) bad("has no " + std::string(what));
      return;
    }
    if (p.dims.size() != 1 || p.dims[0] != length)
      bad("has a " + std::string(what) + " of shape " + dims_text(p.dims) + " for " +
          std::to_string(length) + " channels");
  }


 public:
  // The kinds' own checks.
  void none() const {}
  void adaptive() const { positive(n_.output_size, "output size"); }
  void relu() const {
    if (!(n_.clamp_max > 0.0)) bad("clamps at " + std::to_string(n_.clamp_max) + " (above 0 expected)");
  }
  void conv() const {
    positive(n_.kernel, "kernel");
    positive(n_.stride, "stride");
    positive(n_.dilation, "dilation");
    in_range(n_.padding, 0, "padding");
    if (n_.groups < 1 || n_.groups > kMaxGraphAttribute) bad("has " + std::to_string(n_.groups) + " groups");
    if (n_.in_channels < 1 || n_.out_channels < 1)
      bad("has " + std::to_string(n_.in_channels) + " input and " +
          std::to_string(n_.out_channels) + " output channels");
    if (n_.in_channels % n_.groups != 0 || n_.out_channels % n_.groups != 0)
      bad("has " + std::to_string(n_.groups) + " groups, which do not divide its " +
          std::to_string(n_.in_channels) + " input and " + std::to_string(n_.out_channels) +
          " output channels");
    if (n_.weight.defined) {
      const auto& d = n_.weight.dims;
      if (d.size() != 4) bad("has a weight of shape " + dims_text(d) + " (4-D expected)");
      if (d[0] != n_.out_channels || mul(d[1], n_.groups) != n_.in_channels ||
          d[2] != n_.kernel[0] || d[3] != n_.kernel[1])
        bad("has a weight of shape " + dims_text(d) + " for " + std::to_string(n_.in_channels) +
            " -> " + std::to_string(n_.out_channels) + " channels, kernel " +
            pair_text(n_.kernel) + ", " + std::to_string(n_.groups) + " groups");
    }
    vector_of(n_.bias, n_.out_channels, "bias", false);
  }

  void linear() const {
    if (n_.in_channels < 1 || n_.out_channels < 1)
      bad("has " + std::to_string(n_.in_channels) + " input and " +
          std::to_string(n_.out_channels) + " output features");
    if (n_.weight.defined &&
        (n_.weight.dims.size() != 2 || n_.weight.dims[0] != n_.out_channels ||
         n_.weight.dims[1] != n_.in_channels))
      bad("has a weight of shape " + dims_text(n_.weight.dims) + " for " +
          std::to_string(n_.in_channels) + " -> " + std::to_string(n_.out_channels) +
          " features (2-D expected)");
    vector_of(n_.bias, n_.out_channels, "bias", false);
  }

  void batchnorm() const {
    if (n_.in_channels < 1 || n_.out_channels != n_.in_channels)
      bad("has " + std::to_string(n_.in_channels) + " channels");
    if (!std::isfinite(n_.bn_eps) || n_.bn_eps < 0.0)
      bad("has epsilon " + std::to_string(n_.bn_eps));
    const bool weights = n_.weight.defined;  // built-ins: none before they are loaded
    vector_of(n_.weight, n_.in_channels, "weight", false);
    vector_of(n_.bias, n_.in_channels, "bias", weights);
    vector_of(n_.running_mean, n_.in_channels, "running mean", false);
    vector_of(n_.running_var, n_.in_channels, "running variance", false);
  }

  void pool() const {
    positive(n_.kernel, "kernel");
    positive(n_.stride, "stride");
    positive(n_.dilation, "dilation");
    in_range(n_.padding, 0, "padding");
    if (n_.kind == LayerKind::AvgPool2d && (n_.dilation[0] != 1 || n_.dilation[1] != 1))
      bad("has dilation " + pair_text(n_.dilation));
    if (n_.padding[0] > n_.kernel[0] / 2 || n_.padding[1] > n_.kernel[1] / 2)
      bad("has padding " + pair_text(n_.padding) + " over half its kernel " + pair_text(n_.kernel));
  }

  // Transformer kinds.
  void norm() const {
    if (n_.in_channels < 1) bad("normalises " + std::to_string(n_.in_channels) + " features");
    if (!std::isfinite(n_.bn_eps) || n_.bn_eps < 0.0) bad("has epsilon " + std::to_string(n_.bn_eps));
    vector_of(n_.weight, n_.in_channels, "weight", false);
    vector_of(n_.bias, n_.in_channels, "bias", false);
  }
  void attention() const {
    if (n_.heads < 1 || n_.heads > kMaxGraphAttribute) bad("has " + std::to_string(n_.heads) + " heads");
  }
  void class_token() const {
    if (n_.weight.defined && (n_.weight.dims.size() != 3 || n_.weight.dims[0] != 1 || n_.weight.dims[1] != 1))
      bad("has a class token of shape " + dims_text(n_.weight.dims) + " (1 x 1 x D expected)");
  }
  void product() const {
    if (n_.inputs.size() != 2) bad("multiplies " + std::to_string(n_.inputs.size()) + " inputs (2 expected)");
  }
  void select() const {
    if (n_.token < 0 || n_.token > kMaxGraphAttribute) bad("selects token " + std::to_string(n_.token));
  }

  void padding() const {
    if (n_.pad.size() != 4) bad("has " + std::to_string(n_.pad.size()) + " padding amounts (4 expected)");
    for (int64_t p : n_.pad)
      if (p < 0 || p > kMaxGraphAttribute)
        bad("pads by " + dims_text(n_.pad) + " (each 0 to " + std::to_string(kMaxGraphAttribute) + ")");
  }
};

// The shape rules, one per kind: the output for the inputs, or a fault (why, and whether it
// is a dense layer's features only).
struct Fault {
  std::string why;
  bool features = false;
};

class ShapeRule {
 public:
  ShapeRule(const NodeSpec& n, const std::vector<ActShape>& in) : n_(n), in_(in) {}

  // The output from the inputs, or a fault: whether every input must be a C x H x W map,
  // then the kind's own rule (its row in kind_rules).
  std::optional<Fault> apply(bool needs_map, std::optional<Fault> (ShapeRule::*output)(ActShape*) const,
                             ActShape* out) const {
    for (const ActShape& a : in_)
      if (needs_map && !a.spatial) return Fault{"reads " + shape_text(a) + ", not a C x H x W map"};
    *out = in_[0];
    return (this->*output)(out);
  }

  // The kinds' own rules; `out` starts as the first input's shape.
  std::optional<Fault> same(ActShape* /*out*/) const { return {}; }
  std::optional<Fault> conv(ActShape* out) const {
    if (x().c != n_.in_channels)
      return Fault{"expects " + std::to_string(n_.in_channels) + " input channels, gets " +
                   shape_text(x())};
    out->c = n_.out_channels;
    return window(1, out);
  }
  std::optional<Fault> maxpool(ActShape* out) const { return window(1, out); }
  std::optional<Fault> avgpool(ActShape* out) const { return window(0, out); }
  std::optional<Fault> adaptive(ActShape* out) const {
    out->h = n_.output_size[0];
    out->w = n_.output_size[1];
    return {};
  }
  std::optional<Fault> pad(ActShape* out) const {
    if (n_.pad.size() != 4) return Fault{"has no 4 padding amounts"};
    out->w = x().w + n_.pad[0] + n_.pad[1];
    out->h = x().h + n_.pad[2] + n_.pad[3];
    return {};
  }
  std::optional<Fault> batchnorm(ActShape* /*out*/) const {
    if (x().c != n_.in_channels)
      return Fault{"has " + std::to_string(n_.in_channels) + " channels, gets " + shape_text(x())};
    return {};
  }
  std::optional<Fault> linear(ActShape* out) const {
    if (x().tokens()) {  // token-wise: the last axis
      if (x().c != n_.in_channels)
        return Fault{"expects " + std::to_string(n_.in_channels) + " features per token, gets " +
                     shape_text(x())};
      out->c = n_.out_channels;
      return {};
    }
    if (numel(x()) != n_.in_channels)
      return Fault{"expects " + std::to_string(n_.in_channels) + " input features, gets " +
                       shape_text(x()) + " (" + std::to_string(numel(x())) + " values)",
                   true};
    *out = {n_.out_channels, 0, 0, false};
    return {};
  }
  std::optional<Fault> flatten(ActShape* out) const {
    *out = {numel(x()), 0, 0, false};
    return {};
  }
  std::optional<Fault> add(ActShape* /*out*/) const {
    for (const ActShape& a : in_)
      if (a.spatial != x().spatial || a.c != x().c || a.h != x().h || a.w != x().w ||
          a.t != x().t)
        return Fault{"adds " + shape_text(x()) + " and " + shape_text(a)};
    return {};
  }
  // Transformer kinds.
  std::optional<Fault> tokens(ActShape* out) const {
    *out = {x().c, 0, 0, false, mul(x().h, x().w)};
    return {};
  }
  std::optional<Fault> needs_tokens() const {
    if (!x().tokens()) return Fault{"reads " + shape_text(x()) + ", not a token tensor"};
    return {};
  }
  std::optional<Fault> class_token(ActShape* out) const {
    if (auto f = needs_tokens()) return f;
    if (n_.weight.defined && n_.weight.dims.size() == 3 && n_.weight.dims[2] != x().c)
      return Fault{"prepends a token of " + std::to_string(n_.weight.dims[2]) + " features to " +
                   shape_text(x())};
    out->t = x().t + 1;
    return {};
  }
  std::optional<Fault> scale(ActShape* /*out*/) const {
    // weight and bias broadcast over one image's value (a leading 1 for the batch allowed)
    for (const ParamShape* p : {&n_.weight, &n_.bias}) {
      if (!p->defined) continue;
      std::vector<int64_t> want;
      if (x().tokens()) want = {x().t, x().c};
      else if (x().spatial) want = {x().c, x().h, x().w};
      else want = {x().c};
      std::vector<int64_t> d = p->dims;
      if (d.size() == want.size() + 1 && d[0] == 1) d.erase(d.begin());
      bool ok = d.size() <= want.size();
      for (size_t i = 0; ok && i < d.size(); ++i) {
        const int64_t have = d[d.size() - 1 - i], need = want[want.size() - 1 - i];
        ok = have == 1 || have == need;
      }
      if (!ok) return Fault{"scales " + shape_text(x()) + " by a constant of shape " + dims_text(p->dims)};
    }
    return {};
  }
  std::optional<Fault> norm(ActShape* /*out*/) const {
    if (x().spatial) return Fault{"normalises the last axis of " + shape_text(x()) + ", a map"};
    if (x().c != n_.in_channels)
      return Fault{"normalises " + std::to_string(n_.in_channels) + " features, gets " + shape_text(x())};
    return {};
  }
  std::optional<Fault> attention(ActShape* out) const {
    if (auto f = needs_tokens()) return f;
    if (x().c % 3 != 0 || (x().c / 3) % n_.heads != 0)
      return Fault{"reads packed q|k|v of " + std::to_string(x().c) + " features per token, not 3 x " +
                   std::to_string(n_.heads) + " heads x a head width"};
    out->c = x().c / 3;
    return {};
  }
  std::optional<Fault> product(ActShape* out) const {
    const ActShape& b = in_[1];
    const bool same_layout = b.spatial == x().spatial && b.tokens() == x().tokens();
    const auto fits = [](int64_t u, int64_t v) { return u == v || u == 1 || v == 1; };
    if (!same_layout || !fits(b.c, x().c) || !fits(b.h, x().h) || !fits(b.w, x().w) || !fits(b.t, x().t))
      return Fault{"multiplies " + shape_text(x()) + " and " + shape_text(b)};
    out->c = std::max(b.c, x().c);
    out->h = std::max(b.h, x().h);
    out->w = std::max(b.w, x().w);
    out->t = std::max(b.t, x().t);
    return {};
  }
  std::optional<Fault> select(ActShape* out) const {
    if (auto f = needs_tokens()) return f;
    if (n_.token >= x().t)
      return Fault{"selects token " + std::to_string(n_.token) + " of " + shape_text(x())};
    *out = {x().c, 0, 0, false, 0};
    return {};
  }
  std::optional<Fault> to_map(ActShape* out) const {
    if (auto f = needs_tokens()) return f;
    const int64_t h = n_.output_size[0], w = n_.output_size[1];
    if (x().t != mul(h, w))
      return Fault{"lays " + shape_text(x()) + " out as a " + std::to_string(h) + " x " +
                   std::to_string(w) + " map"};
    *out = {x().c, h, w, true, 0};
    return {};
  }
  std::optional<Fault> concat(ActShape* out) const {
    out->c = 0;
    for (const ActShape& a : in_) {
      if (a.h != x().h || a.w != x().w)
        return Fault{"concatenates " + shape_text(x()) + " and " + shape_text(a)};
      out->c += a.c;  // each at most kMaxActivation
    }
    return {};
  }

 private:
  const NodeSpec& n_;
  const std::vector<ActShape>& in_;

  const ActShape& x() const { return in_[0]; }

  std::optional<Fault> window(int64_t use_dilation, ActShape* out) const {
    const ActShape& x = in_[0];
    const std::array<int64_t, 2> in{x.h, x.w};
    std::array<int64_t, 2> o{};
    for (size_t a = 0; a < 2; ++a) {
      const int64_t d = use_dilation ? n_.dilation[a] : 1;
      const int64_t span = d * (n_.kernel[a] - 1) + 1;
      if (span > in[a] + 2 * n_.padding[a])
        return Fault{"has a kernel of " + pair_text(n_.kernel) + " (dilation " +
                     std::to_string(d) + ") larger than its input " + shape_text(x) +
                     " padded by " + pair_text(n_.padding)};
      o[a] = pooled_size(in[a], n_.kernel[a], n_.stride[a], n_.padding[a], d, n_.ceil_mode);
      if (o[a] < 1) return Fault{"gives an empty output from " + shape_text(x)};
    }
    out->h = o[0];
    out->w = o[1];
    return {};
  }
};

// Each kind's checks in one row: its attributes, whether it reads C x H x W maps only, and its
// output's shape. A new node kind adds its row here (see NodeKindInfo in model/shape.h).
struct KindRules {
  LayerKind kind;
  void (NodeChecker::*attributes)() const;
  bool needs_map;
  std::optional<Fault> (ShapeRule::*output)(ActShape*) const;
};

const KindRules& kind_rules(LayerKind kind) {
  using K = LayerKind;
  using N = NodeChecker;
  using S = ShapeRule;
  static const KindRules table[] = {
      {K::Conv2d, &N::conv, true, &S::conv},
      {K::Linear, &N::linear, false, &S::linear},
      {K::ReLU, &N::relu, false, &S::same},
      {K::MaxPool2d, &N::pool, true, &S::maxpool},
      {K::AvgPool2d, &N::pool, true, &S::avgpool},
      {K::AdaptiveAvgPool2d, &N::adaptive, true, &S::adaptive},
      {K::Flatten, &N::none, false, &S::flatten},
      {K::Dropout, &N::none, false, &S::same},
      {K::Pad, &N::padding, true, &S::pad},
      {K::BatchNorm2d, &N::batchnorm, true, &S::batchnorm},
      {K::Add, &N::none, false, &S::add},
      {K::Concat, &N::none, true, &S::concat},
      {K::Tokens, &N::none, true, &S::tokens},
      {K::ClassToken, &N::class_token, false, &S::class_token},
      {K::Scale, &N::none, false, &S::scale},
      {K::Norm, &N::norm, false, &S::norm},
      {K::Act, &N::none, false, &S::same},
      {K::Attention, &N::attention, false, &S::attention},
      {K::Product, &N::product, false, &S::product},
      {K::Softmax, &N::none, false, &S::same},
      {K::Select, &N::select, false, &S::select},
      {K::Map, &N::adaptive, false, &S::to_map},
  };
  for (const KindRules& r : table)
    if (r.kind == kind) return r;
  throw std::logic_error(std::string("node kind ") + layer_kind_name(kind) + " has no checks");
}

}  // namespace

int64_t act_values(const ActShape& a) { return numel(a); }

int64_t pooled_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil) {
  const int64_t span = in + 2 * p - d * (k - 1) - 1;
  int64_t out = (ceil ? (span + s - 1) / s : span / s) + 1;
  if (ceil && (out - 1) * s >= in + p) --out;  // PyTorch: the last window starts inside
  return out;
}

void check_finite(const float* values, size_t count, const std::string& what) {
  for (size_t i = 0; i < count; ++i)
    if (!std::isfinite(values[i])) throw InputError(what + " holds NaN or infinite values");
}

void check_nodes(const std::vector<NodeSpec>& nodes, const std::string& what, size_t from) {
  for (size_t i = from; i < nodes.size(); ++i) {
    const NodeSpec& n = nodes[i];
    const NodeChecker c(n, what);
    const bool multi = node_kind_info(n.kind).several_inputs;
    if (multi ? n.inputs.size() < 2 : n.inputs.size() != 1)
      c.bad("has " + std::to_string(n.inputs.size()) + " inputs");
    for (int src : n.inputs)
      if (src < -1 || src >= static_cast<int>(i)) c.bad("reads a node that does not run before it");
    c.run(kind_rules(n.kind).attributes);
  }
}

GraphShapes infer_graph_shapes(const std::vector<NodeSpec>& nodes, const ActShape& input,
                               const std::string& what, GraphShapes g) {
  if (g.fault || g.out.size() > nodes.size()) return g;
  if (input.c < 1 || (input.spatial && (input.h < 1 || input.w < 1)) ||
      numel(input) > kMaxActivation || input.h > kMaxGraphInputSide ||
      input.w > kMaxGraphInputSide) {
    g.fault = what + ": the input " + shape_text(input) + " is empty or too large";
    return g;
  }
  for (size_t i = g.out.size(); i < nodes.size(); ++i) {
    const NodeSpec& n = nodes[i];
    std::vector<ActShape> in;
    for (int src : n.inputs) {
      if (src >= static_cast<int>(g.out.size())) {
        g.fault = what + ": node '" + n.name + "' reads a node that does not run before it";
        return g;
      }
      in.push_back(src < 0 ? input : g.out[static_cast<size_t>(src)]);
    }
    if (in.empty()) {
      g.fault = what + ": node '" + n.name + "' has no input";
      return g;
    }
    ActShape out;
    const KindRules& rules = kind_rules(n.kind);
    std::optional<Fault> f = ShapeRule(n, in).apply(rules.needs_map, rules.output, &out);
    if (!f && numel(out) > kMaxActivation)
      f = Fault{"gives " + shape_text(out) + ", over " + std::to_string(kMaxActivation) +
                " values per image"};
    if (f) {
      g.fault = what + ": node '" + n.name + "' (" + node_kind_name(n.kind) + ") " + f->why;
      g.features_fault = f->features;
      return g;
    }
    g.out.push_back(out);
  }
  return g;
}

}  // namespace lrpbench
