// The ONNX reader's token tensors and decomposed operations (docs/method.md, section 1c,
// "Models from files"): patches to tokens, the class token, LayerNorm (fused, or decomposed as opsets < 17
// write it), GELU's Div - Erf - Add - Mul - Mul, SiLU and hard-swish as x times a gate of x,
// element-wise scales and products, and attention from the packed projection's slices to the
// merged heads. Every activation carries its form (Val::Form): how its layout in the file
// relates to the network node that computes it.
#include "model/onnx_builder.h"

namespace lrpbench {
namespace onnx_detail {
namespace {

using Form = Val::Form;
using Step = Pattern::Step;

bool token_form(Form f) {
  return f == Form::SeqFirst || f == Form::RowsTB || f == Form::RowsBT || f == Form::ChannelsLast;
}

bool near(double a, double b, double tol) { return std::fabs(a - b) <= tol * std::max(1.0, std::fabs(b)); }

// A constant's one value, or NaN when it holds more or is not a number.
double scalar(const Plain& c) { return c.numel() == 1 && c.floating() ? c.value(0) : std::nan(""); }

OnnxParam filled(int64_t d, float v) { return {true, {d}, std::vector<float>(static_cast<size_t>(d), v)}; }

// ONNX Reshape's target: 0 copies the input's size, -1 takes what is left.
std::vector<int64_t> resolve_shape(const std::vector<int64_t>& in, std::vector<int64_t> shape) {
  int64_t known = 1, total = 1, unknown = -1;
  for (int64_t d : in) total *= d;  // (an activation's dimensions: at most 2^26 values)
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 0 && d < in.size()) shape[d] = in[d];
    if (shape[d] == -1 && unknown < 0) unknown = static_cast<int64_t>(d);
    else if (shape[d] < 1 || shape[d] > kMaxFolded || known > kMaxParameterValues / shape[d]) return {};
    else known *= shape[d];
  }
  if (unknown >= 0) {
    if (known == 0 || total % known != 0) return {};
    shape[static_cast<size_t>(unknown)] = total / known;
  } else if (known != total) {
    return {};
  }
  return shape;
}

// The groups of atoms a token or attention layout may merge into one axis.
bool allowed_group(const std::string& g) {
  static const std::set<std::string> kGroups = {"T", "S", "B", "H", "h", "D", "BH", "TB", "BT",
                                                "SB", "BS", "Hh"};
  return kGroups.count(g) > 0;
}

}  // namespace

std::string Builder::form_text(const Val& v) {
  switch (v.form) {
    case Form::Plain: return "a tensor";
    case Form::SeqFirst: return "tokens in T x B x D order";
    case Form::RowsTB:
    case Form::RowsBT: return "tokens as rows";
    case Form::ChannelTokens: return "a flattened map";
    case Form::ChannelsLast: return "a map with channels last";
    case Form::Pattern: break;
  }
  const Step s = v.pattern->step;
  if (s <= Step::LnStd) return "part of a decomposed LayerNorm";
  if (s <= Step::GeluProduct) return "part of a decomposed GELU";
  return "part of an attention";
}

NodeSpec Builder::spec_of(const OnnxNode& n) const {
  NodeSpec s = n.spec;
  s.weight = shape_of(n.weight);
  s.bias = shape_of(n.bias);
  s.running_mean = shape_of(n.running_mean);
  s.running_var = shape_of(n.running_var);
  return s;
}

std::vector<NodeSpec> Builder::specs() const {
  std::vector<NodeSpec> out;
  for (const OnnxNode& n : out_.nodes) out.push_back(spec_of(n));
  return out;
}

void Builder::bind(const onnx::NodeProto& n, Val v) {
  const std::string& out = n.output(0);
  if (v.tensor && v.node >= 0 && v.form != Form::Pattern) {
    auto it = node_reads_.find(v.node);
    if (it == node_reads_.end()) node_reads_[v.node] = uses(out);  // the node's own value
    else it->second += uses(out) - 1;  // an alias: the operation making it read the value once
  }
  env_[out] = std::move(v);
}

ActShape Builder::shape_of_node(int node, const std::string& where) {
  if (out_.size == 0) unsupported("token or shape operations on an input of free height and width", where);
  const ActShape in{out_.in_channels, out_.size, out_.size, true};
  if (node < 0) return in;
  if (shapes_.out.size() != out_.nodes.size()) {  // the new nodes only (shapes never change)
    const size_t done = checked_.size();
    for (size_t i = done; i < out_.nodes.size(); ++i) checked_.push_back(spec_of(out_.nodes[i]));
    check_nodes(checked_, file_, done);  // the attributes the shapes divide by, first
    shapes_ = infer_graph_shapes(checked_, in, file_, std::move(shapes_));
    if (shapes_.fault) throw InputError(*shapes_.fault);
  }
  return shapes_.out[static_cast<size_t>(node)];
}

std::vector<int64_t> Builder::dims_of(const Val& v, const std::string& where) {
  if (!v.tensor) return v.constant->dims;
  if (v.form == Form::Pattern) {
    const Pattern& p = *v.pattern;
    if (p.step >= Step::Q) return p.dims;
    std::vector<int64_t> d = dims_of(p.x, where);
    const bool reduced = p.step == Step::LnMean || p.step == Step::LnVar ||
                         p.step == Step::LnVarEps || p.step == Step::LnStd;
    if (reduced) d.back() = 1;
    return d;
  }
  const ActShape a = shape_of_node(v.node, where);
  const int64_t b = batch_;
  switch (v.form) {
    case Form::SeqFirst: return {a.t, b, a.c};
    case Form::RowsTB: return {a.t * b, a.c};
    case Form::RowsBT: return {b * a.t, a.c};
    case Form::ChannelTokens: return {b, a.c, a.h * a.w};
    case Form::ChannelsLast: {
      const std::array<int64_t, 2> hw = map_size(v.node, where);
      return {b, hw[0], hw[1], a.c};
    }
    default: break;
  }
  if (a.tokens()) return {b, a.t, a.c};
  if (a.spatial) return {b, a.c, a.h, a.w};
  return {b, a.c};
}

std::array<int64_t, 2> Builder::map_size(int node, const std::string& where) {
  // Token-wise nodes keep the map's pixels: back to the Tokens node that made them.
  while (node >= 0 && out_.nodes[static_cast<size_t>(node)].spec.kind != LayerKind::Tokens)
    node = out_.nodes[static_cast<size_t>(node)].spec.inputs.at(0);
  if (node < 0) unsupported("channels-last tokens without their map", where);
  const ActShape m = shape_of_node(out_.nodes[static_cast<size_t>(node)].spec.inputs.at(0), where);
  return {m.h, m.w};
}

Val Builder::part(const Pattern& p) const {
  Val v = Val::of_node(p.step >= Step::Q ? p.proj : p.x.node);
  v.form = Form::Pattern;
  v.pattern = std::make_shared<const Pattern>(p);
  return v;
}

bool Builder::step_to(const onnx::NodeProto& n, Pattern p, Step step) {
  p.step = step;
  bind(n, part(p));
  return true;
}

bool Builder::token_node(const onnx::NodeProto& n, const std::string& op, const std::string& where) {
  if (n.input_size() == 0 || n.output_size() == 0) return false;  // (unknown operations: refused by name)
  if (op == "Shape") {
    const Val v = value(n.input(0), where);
    std::vector<int64_t> d = dims_of(v, where);
    const int64_t r = static_cast<int64_t>(d.size());
    int64_t s = integer(n, "start", 0), e = integer(n, "end", r);
    s = std::min(std::max(s < 0 ? s + r : s, int64_t{0}), r);
    e = std::min(std::max(e < 0 ? e + r : e, int64_t{0}), r);
    Plain c;
    c.type = Plain::Type::Int64;
    c.i.assign(d.begin() + s, d.begin() + std::max(s, e));
    c.dims = {static_cast<int64_t>(c.i.size())};
    bind(n, Val::of_constant(std::make_shared<const Plain>(std::move(c))));
    return true;
  }
  return attention_steps(n, op, where) || layer_norm_steps(n, op, where) ||
         gelu_steps(n, op, where) || tokens_ops(n, op, where) || elementwise(n, op, where);
}

// --- LayerNorm ---------------------------------------------------------------------------

void Builder::emit_norm(const onnx::NodeProto& n, const Val& x, OnnxParam weight, OnnxParam bias,
                        double eps, const std::string& where) {
  if (x.form == Form::Plain && !shape_of_node(x.node, where).tokens())
    unsupported("LayerNorm of a tensor that is not a token tensor", where);
  const int64_t d = dims_of(x, where).back();
  OnnxNode l;
  l.spec.kind = LayerKind::Norm;
  l.spec.in_channels = l.spec.out_channels = d;
  l.spec.bn_eps = eps;
  l.weight = weight.defined ? std::move(weight) : filled(d, 1.0f);
  l.bias = bias.defined ? std::move(bias) : filled(d, 0.0f);
  l.open_affine = true;
  emit_node(n, std::move(l), {x.node}, true, x.form);
}

bool Builder::layer_norm_steps(const onnx::NodeProto& n, const std::string& op,
                               const std::string& where) {
  if (op == "LayerNormalization") {
    const Val x = value(n.input(0), where);
    if (!x.tensor || !(x.form == Form::Plain || token_form(x.form))) return false;
    const int64_t rank = static_cast<int64_t>(dims_of(x, where).size());
    const int64_t axis = integer(n, "axis", -1);
    if (axis != -1 && axis != rank - 1) unsupported("LayerNormalization over more than the last axis", where);
    OnnxParam w = param(n, 1, where, 1);
    OnnxParam b = param(n, 2, where, 1, true);
    emit_norm(n, x, std::move(w), std::move(b), real(n, "epsilon", 1e-5), where);
    out_.nodes.back().open_affine = false;
    return true;
  }
  const auto pattern_in = [&](int k) -> const Pattern* {
    if (k >= n.input_size()) return nullptr;
    const Val& v = value(n.input(k), where);
    return v.form == Form::Pattern ? v.pattern.get() : nullptr;
  };
  const auto next = [&](const Pattern& from, Step step) { return step_to(n, from, step); };
  if (op == "ReduceMean") {
    const std::vector<int64_t> axes = reduce_axes(n, where);
    const Val x = value(n.input(0), where);
    if (!x.tensor || integer(n, "keepdims", 1) != 1 || axes.size() != 1 || out_.size == 0) return false;
    const int64_t rank = static_cast<int64_t>(dims_of(x, where).size());
    if (axes[0] != -1 && axes[0] != rank - 1) return false;
    if (const Pattern* p = pattern_in(0)) {
      if (p->step != Step::LnSquare) return false;
      return next(*p, Step::LnVar);
    }
    if (x.form != Form::Plain && !token_form(x.form)) return false;
    Pattern p;
    p.step = Step::LnMean;
    p.x = x;
    p.x_name = n.input(0);
    return next(p, Step::LnMean);
  }
  if (op == "Sub") {
    const Pattern* mean = pattern_in(1);
    if (!mean || mean->step != Step::LnMean || n.input(0) != mean->x_name) return false;
    Pattern p = *mean;
    p.centered = n.output(0);
    return next(p, Step::LnCentered);
  }
  const Pattern* p = pattern_in(0);
  if (!p || p->step > Step::LnStd) return false;
  if (op == "Pow" && p->step == Step::LnCentered && number(n, 1, where) == 2.0)
    return next(*p, Step::LnSquare);
  if (op == "Add" && p->step == Step::LnVar) {
    Pattern q = *p;
    q.eps = number(n, 1, where);
    if (!(q.eps > 0.0 && q.eps < 1.0)) unsupported("LayerNorm with epsilon " + std::to_string(q.eps), where);
    return next(q, Step::LnVarEps);
  }
  if (op == "Sqrt" && p->step == Step::LnVarEps) return next(*p, Step::LnStd);
  if (op == "Div" && n.input(0) == p->centered) {
    const Pattern* s = pattern_in(1);
    if (!s || s->step != Step::LnStd || s->centered != p->centered) return false;
    emit_norm(n, p->x, {}, {}, s->eps, where);
    return true;
  }
  return false;
}

// --- GELU --------------------------------------------------------------------------------

bool Builder::gelu_steps(const onnx::NodeProto& n, const std::string& op, const std::string& where) {
  if (n.input_size() < 1) return false;
  const Val a = value(n.input(0), where);
  const Val b = n.input_size() > 1 ? value(n.input(1), where) : Val{};
  const auto next = [&](const Pattern& from, Step step) { return step_to(n, from, step); };
  const auto step_of = [](const Val& v) {
    return v.form == Form::Pattern ? v.pattern->step : Step::Q;  // Q: not a GELU step
  };
  if (op == "Div" && a.tensor && a.form != Form::Pattern && !b.tensor &&
      near(scalar(*b.constant), std::sqrt(2.0), 1e-6)) {
    Pattern p;
    p.x = a;
    p.x_name = n.input(0);
    return next(p, Step::GeluDiv);
  }
  if (op == "Erf" && step_of(a) == Step::GeluDiv) return next(*a.pattern, Step::GeluErf);
  if (op == "Add" && step_of(a) == Step::GeluErf && !b.tensor && scalar(*b.constant) == 1.0)
    return next(*a.pattern, Step::GeluErfPlus1);
  if (op == "Mul") {
    for (int k = 0; k < 2; ++k) {
      const Val& g = k == 0 ? b : a;
      if (step_of(g) == Step::GeluErfPlus1 && n.input(k) == g.pattern->x_name)
        return next(*g.pattern, Step::GeluProduct);
      if (step_of(g) == Step::GeluProduct) {
        const Val& c = k == 0 ? a : b;
        if (c.tensor || scalar(*c.constant) != 0.5) return false;
        const Val& x = g.pattern->x;
        OnnxNode l;
        l.spec.kind = LayerKind::Act;
        l.activation = Activation::GeluErf;
        emit_node(n, std::move(l), {x.node}, true, x.form);
        return true;
      }
    }
  }
  return false;
}

// --- tokens ------------------------------------------------------------------------------

bool Builder::tokens_ops(const onnx::NodeProto& n, const std::string& op, const std::string& where) {
  const Val x = value(n.input(0), where);
  // (a free input size: a CNN's graph, whose operations the CNN reader takes)
  if (!x.tensor || x.form == Form::Pattern || (x.form == Form::Plain && out_.size == 0)) return false;
  if (op == "Reshape") {
    const std::vector<int64_t> in = dims_of(x, where);
    const std::vector<int64_t> to = resolve_shape(in, int_list(n, 1, where));
    if (to.empty()) return false;  // (the CNN reader's message)
    if (to == in) {
      bind(n, x);
      return true;
    }
    const ActShape a = shape_of_node(x.node, where);
    const int64_t b = batch_;
    Val v = x;
    if (x.form == Form::Plain && a.spatial && to == std::vector<int64_t>{b, a.c, a.h * a.w}) {
      v.form = Form::ChannelTokens;
    } else if (x.form == Form::Plain && a.tokens() && to == std::vector<int64_t>{b * a.t, a.c}) {
      v.form = Form::RowsBT;
    } else if (x.form == Form::SeqFirst && to == std::vector<int64_t>{a.t * b, a.c}) {
      v.form = Form::RowsTB;
    } else if (x.form == Form::RowsTB && to == std::vector<int64_t>{a.t, b, a.c}) {
      v.form = Form::SeqFirst;
    } else if (x.form == Form::RowsBT && to == std::vector<int64_t>{b, a.t, a.c}) {
      v.form = Form::Plain;
    } else {
      return false;
    }
    bind(n, v);
    return true;
  }
  if (op == "Transpose") {
    const std::vector<int64_t> perm = ints(n, "perm", {});
    Val v = x;
    if (x.form == Form::ChannelTokens && perm == std::vector<int64_t>{0, 2, 1}) {
      OnnxNode l;
      l.spec.kind = LayerKind::Tokens;
      emit_node(n, std::move(l), {x.node}, false, Form::Plain);
      return true;
    }
    const ActShape a = shape_of_node(x.node, where);
    if (x.form == Form::Plain && a.spatial && perm == std::vector<int64_t>{0, 2, 3, 1}) {
      OnnxNode l;  // a map's pixels as tokens, channels last (ConvNeXt's permute)
      l.spec.kind = LayerKind::Tokens;
      emit_node(n, std::move(l), {x.node}, false, Form::ChannelsLast);
      return true;
    }
    if (x.form == Form::ChannelsLast && perm == std::vector<int64_t>{0, 3, 1, 2}) {
      OnnxNode l;  // and back
      l.spec.kind = LayerKind::Map;
      const std::array<int64_t, 2> hw = map_size(x.node, where);
      l.spec.output_size = {hw[0], hw[1]};
      emit_node(n, std::move(l), {x.node}, false, Form::Plain);
      return true;
    }
    const bool swap = perm == std::vector<int64_t>{1, 0, 2};
    if (swap && x.form == Form::Plain && shape_of_node(x.node, where).tokens()) v.form = Form::SeqFirst;
    else if (swap && x.form == Form::SeqFirst) v.form = Form::Plain;
    else return false;
    bind(n, v);
    return true;
  }
  if (op == "Gather") {
    const PlainPtr idx = constant(n, 1, where);
    const ActShape a = shape_of_node(x.node, where);
    if (!a.tokens() || idx->numel() != 1 || idx->floating() || !idx->dims.empty())
      unsupported("Gather other than of one token", where);
    const int64_t axis = integer(n, "axis", 0);
    const bool ok = (x.form == Form::Plain && (axis == 1 || axis == -2)) ||
                    (x.form == Form::SeqFirst && (axis == 0 || axis == -3));
    if (!ok) unsupported("Gather other than of one token", where);
    int64_t t = idx->i[0];
    if (t < -a.t || t >= a.t) unsupported("Gather of token " + std::to_string(t) + " of " + std::to_string(a.t), where);
    OnnxNode l;
    l.spec.kind = LayerKind::Select;
    l.spec.token = t < 0 ? t + a.t : t;
    emit_node(n, std::move(l), {x.node}, false, Form::Plain);
    return true;
  }
  if (op == "MatMul" || op == "Gemm") {
    if (x.form == Form::ChannelTokens) return false;  // (refused by the CNN reader: not tokens)
    const ActShape a = shape_of_node(x.node, where);
    if (x.form == Form::Plain && !a.tokens()) return false;  // a flat input: the CNN reader's
    if (op == "Gemm" && x.form != Form::RowsTB && x.form != Form::RowsBT)
      unsupported("Gemm on a 3-D input", where);
    const bool after_attention =
        x.node >= 0 && out_.nodes[static_cast<size_t>(x.node)].spec.kind == LayerKind::Attention;
    const int at = emit_node(n, dense(n, op, where), {x.node}, true, x.form);
    if (after_attention) {
      out_.nodes[static_cast<size_t>(at)].spec.name = out_.nodes[static_cast<size_t>(x.node)].spec.name + ".out_proj";
      out_.nodes[static_cast<size_t>(at)].attention_projection = true;
    }
    return true;
  }
  return false;
}

// --- element-wise ------------------------------------------------------------------------

bool Builder::elementwise(const onnx::NodeProto& n, const std::string& op, const std::string& where) {
  Val a = value(n.input(0), where);
  if (op == "Mul" && !a.tensor && value(n.input(1), where).tensor) {  // c * x: x * c
    onnx::NodeProto swapped = n;
    swapped.set_input(0, n.input(1));
    swapped.set_input(1, n.input(0));
    return elementwise(swapped, op, where);
  }
  if (op == "Concat" && n.input_size() == 2 && !a.tensor) {  // the class token, prepended
    const Val t = value(n.input(1), where);
    if (!t.tensor || t.form != Form::Plain || !shape_of_node(t.node, where).tokens()) return false;
    const int64_t axis = integer(n, "axis", 0);
    if (axis != 1 && axis != -2) unsupported("Concat of a constant along an axis other than the tokens", where);
    const Plain& c = *a.constant;
    const int64_t d = shape_of_node(t.node, where).c;
    if (!c.floating() || c.dims.size() != 3 || c.dims[0] < 1 || c.dims[1] != 1 || c.dims[2] != d)
      unsupported("Concat of a constant that is not one token of " + std::to_string(d) + " features", where);
    for (size_t k = 0; k < c.f.size(); ++k)  // every image's copy the same
      if (c.f[k] != c.f[k % static_cast<size_t>(d)]) unsupported("Concat of tokens that differ by image", where);
    check_finite(c.f.data(), c.f.size(), file_ + ": the class token of node '" + where + "'");
    OnnxNode l;
    l.spec.kind = LayerKind::ClassToken;
    l.spec.in_channels = l.spec.out_channels = d;
    l.weight = {true, {1, 1, d}, std::vector<float>(c.f.begin(), c.f.begin() + d)};
    emit_node(n, std::move(l), {t.node}, false, Form::Plain);
    return true;
  }
  if (!a.tensor || a.form == Form::Pattern) return false;
  const bool spatial_only = a.form == Form::ChannelTokens;
  if (spatial_only) return false;
  static const std::map<std::string, Activation> kActs = {{"Sigmoid", Activation::Sigmoid},
                                                          {"Tanh", Activation::Tanh},
                                                          {"HardSigmoid", Activation::Hardsigmoid},
                                                          {"HardSwish", Activation::Hardswish}};
  if (kActs.count(op)) {
    if (op == "HardSigmoid" && (!near(real(n, "alpha", 0.2), 1.0 / 6.0, 1e-6) || real(n, "beta", 0.5) != 0.5))
      unsupported("HardSigmoid other than torch's (alpha 1/6, beta 0.5)", where);
    OnnxNode l;
    l.spec.kind = LayerKind::Act;
    l.activation = kActs.at(op);
    emit_node(n, std::move(l), {a.node}, true, a.form);
    return true;
  }
  if ((op == "Relu" || op == "Identity" || op == "Dropout") && a.form != Form::Plain) {
    if (op == "Relu") {
      OnnxNode l;
      l.spec.kind = LayerKind::ReLU;
      emit_node(n, std::move(l), {a.node}, true, a.form);
    } else {
      bind(n, a);
    }
    return true;
  }
  if (op != "Mul" && op != "Div") return false;
  const Val b = value(n.input(1), where);
  if (b.tensor) {
    if (op == "Div" || b.form == Form::Pattern) return false;
    // x * gate(x): SiLU or hard-swish, the gate's node becoming the activation.
    for (int k = 0; k < 2; ++k) {
      const Val& g = k == 0 ? b : a;
      const Val& x = k == 0 ? a : b;
      if (g.node < 0 || g.form != x.form || !read_once(g)) continue;
      OnnxNode& gate = out_.nodes[static_cast<size_t>(g.node)];
      const bool of_x = gate.spec.kind == LayerKind::Act && gate.spec.inputs == std::vector<int>{x.node};
      if (!of_x || (gate.activation != Activation::Sigmoid && gate.activation != Activation::Hardsigmoid)) continue;
      gate.activation = gate.activation == Activation::Sigmoid ? Activation::SiLU : Activation::Hardswish;
      bind(n, g);
      return true;
    }
    if (a.form != b.form) unsupported("Mul of tensors in different layouts", where);
    OnnxNode l;
    l.spec.kind = LayerKind::Product;
    emit_node(n, std::move(l), {a.node, b.node}, false, a.form);
    return true;
  }
  // A tensor times or over a constant: into a decomposed LayerNorm's affine map, else a Scale.
  if (a.form == Form::Plain && out_.size == 0) return false;  // (a CNN of free input size)
  const Plain& c = *b.constant;
  if (!c.floating()) unsupported(op + " by integers", where);
  check_finite(c.f.data(), c.f.size(), file_ + ": the constant of node '" + where + "'");
  std::vector<float> f = c.f;
  if (op == "Div")
    for (float& v : f) {
      if (v == 0.0f) unsupported("Div by zero", where);
      v = 1.0f / v;
    }
  OnnxNode* norm = a.node >= 0 ? &out_.nodes[static_cast<size_t>(a.node)] : nullptr;
  const int64_t d = dims_of(a, where).back();
  const bool per_feature = static_cast<int64_t>(f.size()) == d &&
                           std::all_of(c.dims.begin(), c.dims.end() - (c.dims.empty() ? 0 : 1),
                                       [](int64_t s) { return s == 1; });
  if (c.dims.size() > dims_of(a, where).size())
    unsupported(op + " by a constant of more dimensions than the tensor", where);
  if (norm && norm->spec.kind == LayerKind::Norm && norm->open_affine && read_once(a) &&
      (per_feature || f.size() == 1)) {
    for (int64_t k = 0; k < d; ++k) {
      const float s = f[f.size() == 1 ? 0 : static_cast<size_t>(k)];
      norm->weight.values[static_cast<size_t>(k)] *= s;
      norm->bias.values[static_cast<size_t>(k)] *= s;
    }
    bind(n, a);
    return true;
  }
  if (a.form != Form::Plain && !per_feature && f.size() != 1)
    unsupported(op + " of tokens in another layout by a constant over more than the features", where);
  OnnxNode l;
  l.spec.kind = LayerKind::Scale;
  l.weight = {true, per_feature ? std::vector<int64_t>{d} : c.dims, f};
  emit_node(n, std::move(l), {a.node}, true, a.form);
  return true;
}

// --- attention ---------------------------------------------------------------------------

namespace {

// The partitions of `atoms` into contiguous groups whose sizes are `target`, each an allowed
// group; `size` gives an atom's size.
template <class Size>
void partitions(const std::string& atoms, size_t from, const std::vector<int64_t>& target,
                size_t k, std::vector<std::string>& groups, const Size& size,
                std::vector<std::vector<std::string>>* out) {
  if (k == target.size()) {
    if (from == atoms.size()) out->push_back(groups);
    return;
  }
  int64_t product = 1;
  for (size_t e = from + 1; e <= atoms.size(); ++e) {
    product *= size(atoms[e - 1]);
    if (product > target[k]) break;
    if (product != target[k]) continue;
    const std::string g = atoms.substr(from, e - from);
    if (!allowed_group(g)) continue;
    groups.push_back(g);
    partitions(atoms, e, target, k + 1, groups, size, out);
    groups.pop_back();
  }
}

}  // namespace

bool Builder::attention_steps(const onnx::NodeProto& n, const std::string& op,
                              const std::string& where) {
  const Val a = value(n.input(0), where);
  if (op == "Slice" && a.tensor && a.form != Form::Pattern && a.node >= 0) {
    // q, k or v: a third of a packed projection's last axis.
    OnnxNode& proj = out_.nodes[static_cast<size_t>(a.node)];
    if (proj.spec.kind != LayerKind::Linear || !(a.form == Form::SeqFirst || a.form == Form::Plain) ||
        !shape_of_node(a.node, where).tokens() || opset_ < 10)
      return false;
    const int64_t width = proj.spec.out_channels;
    const std::vector<int64_t> starts = int_list(n, 1, where), ends = int_list(n, 2, where);
    const std::vector<int64_t> axes = n.input_size() > 3 && !n.input(3).empty() ? int_list(n, 3, where)
                                                                                 : std::vector<int64_t>{0};
    const bool stepped = n.input_size() > 4 && !n.input(4).empty() && int_list(n, 4, where) != std::vector<int64_t>{1};
    if (starts.size() != 1 || ends.size() != 1 || axes.size() != 1 || stepped || width % 3 != 0 ||
        (axes[0] != -1 && axes[0] != 2))
      return false;
    const int64_t d = width / 3, s = starts[0], e = std::min(ends[0], width);
    if (d < 1 || s < 0 || s >= width || s % d != 0 || e != s + d) return false;
    const ActShape t = shape_of_node(a.node, where);
    Pattern p;
    p.step = s == 0 ? Step::Q : s == d ? Step::K : Step::V;
    p.proj = a.node;
    p.tokens = t.t;
    p.width = d;
    const std::string tok = p.step == Step::Q ? "T" : "S";
    p.axes = a.form == Form::SeqFirst ? std::vector<std::string>{tok, "B", "D"}
                                      : std::vector<std::string>{"B", tok, "D"};
    p.dims = a.form == Form::SeqFirst ? std::vector<int64_t>{t.t, batch_, d}
                                      : std::vector<int64_t>{batch_, t.t, d};
    const std::string scope = onnx_scope_path(n.name());
    if (!proj.attention_projection) {
      proj.attention_projection = true;
      if (!scope.empty() && proj.spec.name == scope) proj.spec.name = scope + ".in_proj";
    }
    bind(n, part(p));
    return true;
  }
  const auto attention_part = [](const Val& v) {
    return v.form == Form::Pattern && v.pattern->step >= Step::Q;
  };
  const bool first = attention_part(a);
  // Otherwise only a constant times or plus a part (a scale or a mask written first).
  if (!first && (a.tensor || (op != "Mul" && op != "Add") || n.input_size() < 2 ||
                 !attention_part(value(n.input(1), where))))
    return false;
  const Val& pv = first ? a : value(n.input(1), where);
  const Pattern& p = *pv.pattern;
  if (op == "Transpose") {
    const std::vector<int64_t> perm = ints(n, "perm", {});
    std::vector<int64_t> sorted = perm;
    std::sort(sorted.begin(), sorted.end());
    for (size_t k = 0; k < sorted.size(); ++k)
      if (sorted.size() != p.axes.size() || sorted[k] != static_cast<int64_t>(k))
        unsupported("Transpose of a part of an attention without a permutation of its axes", where);
    Pattern q = p;
    for (size_t k = 0; k < perm.size(); ++k) {
      q.axes[k] = p.axes[static_cast<size_t>(perm[k])];
      q.dims[k] = p.dims[static_cast<size_t>(perm[k])];
    }
    bind(n, part(q));
    return true;
  }
  if (op == "Reshape") {
    const std::vector<int64_t> to = resolve_shape(p.dims, int_list(n, 1, where));
    if (to.empty()) unsupported("Reshape to a shape that does not fit its input", where);
    if (to == p.dims) {  // the same shape: nothing regroups (and no head count is learnt)
      bind(n, pv);
      return true;
    }
    std::string atoms;
    for (const std::string& g : p.axes) atoms += g;
    // Candidate head counts: the known one, else every divisor of D (D left whole too).
    std::vector<int64_t> heads_options = {p.heads};
    if (p.heads == 0)
      for (int64_t h = 1; h <= p.width; ++h)
        if (p.width % h == 0) heads_options.push_back(h);
    struct Candidate { int64_t heads; std::vector<std::string> groups; int score; };
    std::vector<Candidate> found;
    for (int64_t h : heads_options) {
      Pattern q = p;
      q.heads = h;
      std::string split = atoms;
      if (h > 0) {
        const size_t at = split.find('D');
        if (at != std::string::npos) split.replace(at, 1, "Hh");
      } else if (atoms.find('D') == std::string::npos) {
        continue;
      }
      const auto sz = [&](char atom) -> int64_t {
        if (atom == 'H') return h;
        if (atom == 'h') return p.width / h;
        if (atom == 'T' || atom == 'S') return p.tokens;
        if (atom == 'B') return batch_;
        return p.width;
      };
      std::vector<std::vector<std::string>> parts;
      std::vector<std::string> groups;
      partitions(split, 0, to, 0, groups, sz, &parts);
      for (auto& g : parts) {
        int score = 0;
        for (std::string& s : g) {
          if (s == "BH") score += 2;
          if (s == "TB" || s == "BT" || s == "SB" || s == "BS") score -= 1;
          if (s == "Hh") s = "D";
        }
        // D kept whole when its heads are unknown: no head count is fixed by this reshape.
        const bool split_used = std::any_of(g.begin(), g.end(), [](const std::string& s) {
          return s.find('H') != std::string::npos || s == "h";
        });
        found.push_back({split_used ? h : p.heads, g, score + (split_used ? 0 : 1)});
      }
    }
    if (found.empty()) unsupported("Reshape of a part of an attention to a layout it does not read as", where);
    std::stable_sort(found.begin(), found.end(), [](const Candidate& x, const Candidate& y) { return x.score > y.score; });
    found.erase(std::unique(found.begin(), found.end(),
                            [](const Candidate& x, const Candidate& y) {
                              return x.score == y.score && x.groups == y.groups && x.heads == y.heads;
                            }),
                found.end());
    if (found.size() > 1 && found[1].score == found[0].score &&
        (found[1].groups != found[0].groups || found[1].heads != found[0].heads))
      unsupported("Reshape of a part of an attention that reads two ways", where);
    Pattern q = p;
    q.axes = found[0].groups;
    q.dims = to;
    q.heads = found[0].heads;
    if (p.step == Step::Out) {
      // Heads merged back into tokens: the attention's output.
      const std::vector<std::pair<std::vector<std::string>, Form>> outs = {
          {{"T", "B", "D"}, Form::SeqFirst}, {{"TB", "D"}, Form::RowsTB},
          {{"B", "T", "D"}, Form::Plain},    {{"BT", "D"}, Form::RowsBT}};
      for (const auto& [axes, form] : outs)
        if (q.axes == axes) {
          emit_attention(n, q, form);
          return true;
        }
    }
    bind(n, part(q));
    return true;
  }
  if ((op == "Div" || op == "Mul") && (p.step == Step::Q || p.step == Step::K || p.step == Step::Scores)) {
    const Val c = value(n.input(first ? 1 : 0), where);
    const double s = c.tensor || c.constant->dims.size() > p.dims.size() ? std::nan("") : scalar(*c.constant);
    if (!std::isfinite(s) || s == 0.0) unsupported(op + " of a part of an attention by other than a number", where);
    Pattern q = p;
    q.scale = op == "Div" ? p.scale / s : p.scale * s;
    bind(n, part(q));
    return true;
  }
  if (op == "Add" && p.step == Step::Scores) {
    const Val c = value(n.input(first ? 1 : 0), where);
    bool zeros = !c.tensor && c.constant->floating() && c.constant->dims.size() <= p.dims.size() &&
                 std::all_of(c.constant->f.begin(), c.constant->f.end(), [](float v) { return v == 0.0f; });
    for (size_t k = 0; zeros && k < c.constant->dims.size(); ++k) {  // broadcasting over the scores only
      const int64_t have = c.constant->dims[c.constant->dims.size() - 1 - k];
      zeros = have == 1 || have == p.dims[p.dims.size() - 1 - k];
    }
    if (!zeros) unsupported("attention with a mask (an Add to its scores)", where);
    bind(n, pv);
    return true;
  }
  if (op == "Softmax" && p.step == Step::Scores) {
    const int64_t axis = integer(n, "axis", opset_ >= 13 ? -1 : 1);
    const bool keys_last = p.axes.size() >= 2 && p.axes.back() == "S" && p.axes[p.axes.size() - 2] == "T";
    if ((axis != -1 && axis != static_cast<int64_t>(p.axes.size()) - 1) || !keys_last)
      unsupported("Softmax of attention scores over other than the keys", where);
    const double want = 1.0 / std::sqrt(static_cast<double>(p.width / p.heads));
    if (!near(p.scale, want, 1e-5))
      unsupported("attention with scale " + std::to_string(p.scale) + " (lrpbench's is 1/sqrt(head width) = " +
                      std::to_string(want) + ")",
                  where);
    Pattern q = p;
    q.step = Step::Probs;
    bind(n, part(q));
    return true;
  }
  if (op == "MatMul") {
    const Val b = value(n.input(1), where);
    if (!first || b.form != Form::Pattern || b.pattern->step < Step::Q) return false;
    const Pattern& r = single_head(*b.pattern);
    const Pattern& l = single_head(p);
    return attention_product(n, l, r, where);
  }
  unsupported(op + " of " + form_text(pv), where);
}

// A part whose width never split (a single head): its batch axis is batch x 1 head.
Pattern Builder::single_head(const Pattern& p) {
  if (p.heads != 0) return p;
  Pattern q = p;
  q.heads = 1;
  for (std::string& a : q.axes) {
    if (a == "B") a = "BH";
    if (a == "D") a = "h";
  }
  return q;
}

// q k^T (the scores) or softmax(scores) v (the heads' output), as node n's output.
bool Builder::attention_product(const onnx::NodeProto& n, const Pattern& p, const Pattern& r,
                                const std::string& where) {
  const size_t k = p.axes.size();
  if (k < 3 || r.axes.size() != k || r.proj != p.proj || p.heads == 0 || r.heads == 0)
    unsupported("MatMul of parts of an attention that do not belong together", where);
  if (r.heads != p.heads)
    unsupported("attention whose parts split into " + std::to_string(p.heads) + " and " +
                    std::to_string(r.heads) + " heads",
                where);
  const std::vector<std::string> lead(p.axes.begin(), p.axes.end() - 2);
  std::string heads_axes;
  for (const std::string& g : lead) heads_axes += g;
  std::sort(heads_axes.begin(), heads_axes.end());
  const bool same_lead = std::equal(lead.begin(), lead.end(), r.axes.begin()) && heads_axes == "BH";
  const auto last2 = [](const Pattern& x) { return x.axes[x.axes.size() - 2] + "," + x.axes.back(); };
  Pattern q = p;
  if (same_lead && p.step == Step::Q && r.step == Step::K && last2(p) == "T,h" && last2(r) == "h,S") {
    q.step = Step::Scores;
    q.scale = p.scale * r.scale;
    q.axes.back() = "S";
    q.dims.back() = p.tokens;
  } else if (same_lead && p.step == Step::Probs && r.step == Step::V && last2(p) == "T,S" &&
             last2(r) == "S,h") {
    if (r.scale != 1.0) unsupported("attention with v scaled", where);
    q.step = Step::Out;
    q.axes.back() = "h";
    q.dims.back() = p.width / p.heads;
  } else {
    unsupported("MatMul of parts of an attention in an order lrpbench does not read", where);
  }
  bind(n, part(q));
  return true;
}

void Builder::emit_attention(const onnx::NodeProto& n, const Pattern& out, Val::Form form) {
  OnnxNode l;
  l.spec.kind = LayerKind::Attention;
  l.spec.heads = out.heads;
  emit_node(n, std::move(l), {out.proj}, true, form);
}

}  // namespace onnx_detail
}  // namespace lrpbench
