#include "model/onnx_spec.h"

#include "model/onnx_builder.h"

namespace lrpbench {
namespace onnx_detail {
namespace {

// The inputs and outputs each operation needs at least (its inputs may be constants).
struct Arity {
  const char* op;
  int inputs, outputs;
};
constexpr Arity kArity[] = {
    {"Conv", 2, 1},       {"Gemm", 2, 1},        {"MatMul", 2, 1},
    {"BatchNormalization", 5, 1}, {"Relu", 1, 1}, {"Clip", 1, 1},
    {"MaxPool", 1, 1},    {"AveragePool", 1, 1}, {"GlobalAveragePool", 1, 1},
    {"ReduceMean", 1, 1}, {"Flatten", 1, 1},     {"Reshape", 2, 1},
    {"Add", 2, 1},        {"Concat", 1, 1},      {"Pad", 1, 1},
    {"Identity", 1, 1},   {"Dropout", 1, 1},     {"Constant", 0, 1},
    {"ConstantOfShape", 1, 1}, {"Slice", 1, 1},  {"Transpose", 1, 1},
    {"Cast", 1, 1},       {"Unsqueeze", 1, 1},   {"Squeeze", 1, 1},
    {"Shape", 1, 1},      {"Gather", 2, 1},      {"Expand", 2, 1},
    {"Where", 3, 1},      {"Equal", 2, 1},       {"Sub", 2, 1},
    {"Mul", 2, 1},        {"Div", 2, 1},         {"Pow", 2, 1},
    {"Sqrt", 1, 1},       {"Erf", 1, 1},         {"Softmax", 1, 1},
    {"LayerNormalization", 1, 1}, {"Sigmoid", 1, 1}, {"HardSigmoid", 1, 1},
    {"HardSwish", 1, 1},  {"Tanh", 1, 1},
};


}  // namespace

// Refuses a node with fewer inputs or outputs than its operation needs (before any is
// read); unknown operations are refused by name later.
void Builder::check_arity(const onnx::NodeProto& n, const std::string& node) const {
  const std::string& op = n.op_type();
  for (const Arity& a : kArity) {
    if (op != a.op) continue;
    int inputs = a.inputs;
    if (op == "Slice" && opset_ >= 10) inputs = 3;
    if (op == "Pad" && opset_ >= 11) inputs = 2;
    if (n.input_size() < inputs || n.output_size() < a.outputs || n.output(0).empty())
      throw InputError(file_ + ": node '" + node + "' (" + op + ") has " +
                       std::to_string(n.input_size()) + " inputs and " +
                       std::to_string(n.output_size()) + " outputs (" + op + " needs " +
                       std::to_string(inputs) + " and " + std::to_string(a.outputs) + ")");
    return;
  }
}


OnnxNode Builder::dense(const onnx::NodeProto& n, const std::string& op, const std::string& where) const {
  OnnxNode l;
  l.spec.kind = LayerKind::Linear;
  l.weight = param(n, 1, where, 2);
  if (op == "Gemm") {
    if (real(n, "alpha", 1.0) != 1.0 || real(n, "beta", 1.0) != 1.0 || integer(n, "transA", 0) != 0)
      unsupported("Gemm with alpha, beta or transA", where);
    if (integer(n, "transB", 0) == 0) l.weight = transposed(l.weight);
    l.bias = param(n, 2, where, 1, true);
  } else {
    l.weight = transposed(l.weight);  // MatMul's weight: in x out
  }
  l.spec.out_channels = l.weight.dims[0];
  l.spec.in_channels = l.weight.dims[1];
  return l;
}

std::vector<int64_t> Builder::reduce_axes(const onnx::NodeProto& n, const std::string& where) const {
  std::vector<int64_t> axes = ints(n, "axes", {});  // an attribute before opset 18
  if (axes.empty() && n.input_size() > 1) axes = int_list(n, 1, where);
  return axes;
}

void Builder::emit(const onnx::NodeProto& n, OnnxNode l, std::vector<int> inputs, bool module_op) {
  emit_node(n, std::move(l), std::move(inputs), module_op, Val::Form::Plain);
}

int Builder::emit_node(const onnx::NodeProto& n, OnnxNode l, std::vector<int> inputs,
                       bool module_op, Val::Form form) {
  l.spec.name = node_name(n, module_op);
  l.spec.inputs = std::move(inputs);
  out_.nodes.push_back(std::move(l));
  const int at = static_cast<int>(out_.nodes.size()) - 1;
  Val v = Val::of_node(at);
  v.form = form;
  bind(n, v);
  return at;
}


void Builder::node(const onnx::NodeProto& n) {
  const std::string op = n.op_type();
  const std::string where = Builder::where(n);
  if (!n.domain().empty() && n.domain() != "ai.onnx") unsupported(n.domain() + "." + op, where);
  check_arity(n, where);
  // Single assignment: a name is computed once (a second producer would silently win).
  for (const std::string& o : n.output())
    if (!o.empty() && env_.count(o))
      throw InputError(file_ + ": node '" + where + "' computes '" + o +
                       "', which an initializer, the input or an earlier node already names");
  OnnxNode l;
  NodeSpec& s = l.spec;
  if (op == "Constant") {
    const auto* a = typed(n, "value", onnx::AttributeProto::TENSOR);
    if (!a || !a->has_t()) unsupported("Constant without a tensor value", where);
    env_[n.output(0)] = Val::of_constant(std::make_shared<const Plain>(to_plain(a->t(), where)));
    return;
  }
  if (fold(n, op, where)) return;
  if (token_node(n, op, where)) return;
  if (op == "Conv") {
    s.kind = LayerKind::Conv2d;
    l.weight = param(n, 1, where, 4);
    l.bias = param(n, 2, where, 1, true);
    s.groups = integer(n, "group", 1);
    s.stride = pair_of(ints(n, "strides", {1, 1}), "strides", where, n);
    s.dilation = pair_of(ints(n, "dilations", {1, 1}), "dilations", where, n);
    s.padding = pads_of(n, where);
    s.out_channels = l.weight.dims[0];
    // (groups out of range: check_nodes names them)
    s.in_channels = s.groups >= 1 && s.groups <= kMaxGraphAttribute ? l.weight.dims[1] * s.groups : 0;
    s.kernel = {l.weight.dims[2], l.weight.dims[3]};
    if (typed(n, "kernel_shape", onnx::AttributeProto::INTS)) {  // optional: the weights' if given
      const std::array<int64_t, 2> k = pair_of(ints(n, "kernel_shape", {}), "kernel_shape", where, n);
      if (k[0] != s.kernel[0] || k[1] != s.kernel[1])
        throw InputError(file_ + ": node '" + where + "' declares kernel_shape [" +
                         std::to_string(k[0]) + ", " + std::to_string(k[1]) +
                         "] for weights of " + std::to_string(s.kernel[0]) + " x " +
                         std::to_string(s.kernel[1]));
    }
    emit(n, std::move(l), {activation(n, 0, where)}, true);
  } else if (op == "Gemm" || op == "MatMul") {
    emit(n, dense(n, op, where), {activation(n, 0, where)}, true);
  } else if (op == "BatchNormalization") {
    if (integer(n, "training_mode", 0) != 0) unsupported("BatchNormalization in training mode", where);
    s.kind = LayerKind::BatchNorm2d;
    l.weight = param(n, 1, where, 1);
    l.bias = param(n, 2, where, 1);
    l.running_mean = param(n, 3, where, 1);
    l.running_var = param(n, 4, where, 1);
    s.bn_eps = real(n, "epsilon", 1e-5);
    s.in_channels = s.out_channels = l.weight.dims[0];
    emit(n, std::move(l), {activation(n, 0, where)}, true);
  } else if (op == "Relu") {
    s.kind = LayerKind::ReLU;
    emit(n, std::move(l), {activation(n, 0, where)}, true);
  } else if (op == "Clip") {
    double lo = real(n, "min", -3.4e38), hi = real(n, "max", 3.4e38);
    if (opset_ >= 11) {
      const bool a = n.input_size() > 1 && !n.input(1).empty();
      const bool b = n.input_size() > 2 && !n.input(2).empty();
      lo = a ? number(n, 1, where) : -3.4e38;
      hi = b ? number(n, 2, where) : 3.4e38;
    }
    if (lo != 0.0) unsupported("Clip with a lower bound other than 0", where);
    s.kind = LayerKind::ReLU;
    if (!(hi >= 3.4e38)) s.clamp_max = hi;  // NaN stays, for check_nodes to name
    emit(n, std::move(l), {activation(n, 0, where)}, true);
  } else if (op == "MaxPool") {
    if (n.output_size() > 1) unsupported("MaxPool with indices", where);
    s.kind = LayerKind::MaxPool2d;
    s.kernel = pair_of(ints(n, "kernel_shape", {}), "kernel_shape", where, n);
    s.stride = pair_of(ints(n, "strides", {1, 1}), "strides", where, n);
    s.dilation = pair_of(ints(n, "dilations", {1, 1}), "dilations", where, n);
    s.padding = pads_of(n, where);
    s.ceil_mode = integer(n, "ceil_mode", 0) != 0;
    emit(n, std::move(l), {activation(n, 0, where)}, true);
  } else if (op == "AveragePool") {
    s.kind = LayerKind::AvgPool2d;
    s.kernel = pair_of(ints(n, "kernel_shape", {}), "kernel_shape", where, n);
    s.stride = pair_of(ints(n, "strides", {1, 1}), "strides", where, n);
    s.padding = pads_of(n, where);
    s.ceil_mode = integer(n, "ceil_mode", 0) != 0;
    if (s.padding != std::array<int64_t, 2>{0, 0} && integer(n, "count_include_pad", 0) == 0)
      unsupported("AveragePool with padding that is not counted", where);
    emit(n, std::move(l), {activation(n, 0, where)}, true);
  } else if (op == "GlobalAveragePool" || op == "ReduceMean") {
    s.kind = LayerKind::AdaptiveAvgPool2d;
    s.output_size = {1, 1};
    bool flatten = false;
    if (op == "ReduceMean") {
      const std::vector<int64_t> axes = reduce_axes(n, where);
      const bool spatial = axes.size() == 2 && ((axes[0] == 2 && axes[1] == 3) || (axes[0] == -2 && axes[1] == -1));
      if (!spatial) unsupported("ReduceMean over axes other than the spatial ones", where);
      flatten = integer(n, "keepdims", 1) == 0;
    }
    emit(n, std::move(l), {activation(n, 0, where)}, op == "GlobalAveragePool");
    if (flatten) {
      OnnxNode f;
      f.spec.kind = LayerKind::Flatten;
      emit(n, std::move(f), {static_cast<int>(out_.nodes.size()) - 1}, false);
    }
  } else if (op == "Flatten") {
    if (integer(n, "axis", 1) != 1) unsupported("Flatten at an axis other than 1", where);
    s.kind = LayerKind::Flatten;
    emit(n, std::move(l), {activation(n, 0, where)}, false);
  } else if (op == "Reshape") {
    const std::vector<int64_t> shape = int_list(n, 1, where);
    const bool ok = shape.size() == 2 && shape[1] == -1 && shape[0] >= -1 && shape[0] <= 1;
    if (!ok) unsupported("Reshape to a shape other than (N, -1)", where);
    s.kind = LayerKind::Flatten;
    emit(n, std::move(l), {activation(n, 0, where)}, false);
  } else if (op == "Add") {
    add(n, where);
  } else if (op == "Concat") {
    if (integer(n, "axis", 0) != 1) unsupported("Concat along an axis other than the channels", where);
    s.kind = LayerKind::Concat;
    std::vector<int> inputs;
    for (int k = 0; k < n.input_size(); ++k) inputs.push_back(activation(n, k, where));
    if (inputs.size() == 1) s.kind = LayerKind::Dropout;
    emit(n, std::move(l), inputs, false);
  } else if (op == "Pad") {
    pad(n, where);
  } else if ((op == "Identity" || op == "Dropout") && !value(n.input(0), where).tensor) {
    const Val passed = value(n.input(0), where);  // a weight passed on (copied: env_ may grow)
    env_[n.output(0)] = passed;
  } else if (op == "Identity" || op == "Dropout") {
    if (op == "Dropout" && opset_ >= 12 && n.input_size() > 2 && !n.input(2).empty() &&
        number(n, 2, where) != 0.0)
      unsupported("Dropout in training mode", where);
    s.kind = LayerKind::Dropout;
    emit(n, std::move(l), {activation(n, 0, where)}, true);
  } else {
    unsupported(op, node_name(n, false));
  }
}

// Add of two activations, or of a constant to a bias-free dense layer (MatMul + Add).
void Builder::add(const onnx::NodeProto& n, const std::string& where) {
  const Val a = value(n.input(0), where);
  const Val b = value(n.input(1), where);
  for (const Val* v : {&a, &b})
    if (v->tensor && v->form == Val::Form::Pattern) unsupported("Add of " + form_text(*v), where);
  if (a.tensor && b.tensor) {
    if (a.form != b.form) unsupported("Add of tensors in different layouts", where);
    OnnxNode l;
    l.spec.kind = LayerKind::Add;
    emit_node(n, std::move(l), {a.node, b.node}, false, a.form);
    return;
  }
  if (!a.tensor && !b.tensor) unsupported("Add of constants", where);
  const Val& t = a.tensor ? a : b;
  const int k = a.tensor ? 1 : 0;
  const bool only_use = read_once(t);  // a fold changes every reader of t
  OnnxNode* d = t.node >= 0 ? &out_.nodes[static_cast<size_t>(t.node)] : nullptr;
  const PlainPtr c = constant(n, k, where);
  const bool vector = c->floating() && c->dims.size() == 1;
  if (d && only_use && vector && d->spec.kind == LayerKind::Linear && !d->bias.defined &&
      c->dims[0] == d->spec.out_channels) {
    d->bias = param(n, k, where, 1);  // MatMul + Add: a dense layer's bias
    bind(n, t);
    return;
  }
  if (d && only_use && vector && d->spec.kind == LayerKind::Norm && d->open_affine &&
      c->dims[0] == d->spec.out_channels) {
    const OnnxParam bias = param(n, k, where, 1);  // a decomposed LayerNorm's shift
    for (size_t i = 0; i < bias.values.size(); ++i) d->bias.values[i] += bias.values[i];
    bind(n, t);
    return;
  }
  // A constant added to a map or to tokens (a positional embedding): a Scale's shift.
  if (t.node < 0 || !c->floating())
    unsupported("Add of a constant other than a dense layer's bias", where);
  if (t.form != Val::Form::Plain && !vector)
    unsupported("Add of a constant to tokens in another layout", where);
  OnnxNode l;
  l.spec.kind = LayerKind::Scale;
  l.bias = param(n, k, where, c->dims.size());
  emit_node(n, std::move(l), {t.node}, false, t.form);
}

void Builder::pad(const onnx::NodeProto& n, const std::string& where) {
  std::vector<int64_t> pads = ints(n, "pads", {});
  if (opset_ >= 11) pads = int_list(n, 1, where);
  const auto* mode = typed(n, "mode", onnx::AttributeProto::STRING);
  if (mode != nullptr && mode->s() != "constant") unsupported("Pad in mode '" + mode->s() + "'", where);
  if (opset_ >= 11 && n.input_size() > 2 && !n.input(2).empty() && number(n, 2, where) != 0.0)
    unsupported("Pad with a value other than 0", where);
  if (opset_ < 11 && real(n, "value", 0.0) != 0.0) unsupported("Pad with a value other than 0", where);
  // ONNX: begins of every axis, then ends (N, C, H, W); only H and W may be padded, by
  // {left, right, top, bottom}.
  const bool four = pads.size() == 8 && pads[0] == 0 && pads[1] == 0 && pads[4] == 0 && pads[5] == 0;
  const bool ok = four && std::all_of(pads.begin(), pads.end(), [](int64_t v) { return v >= 0; });
  if (!ok) unsupported("Pad of axes other than the spatial ones, or negative", where);
  OnnxNode l;
  l.spec.pad = {pads[3], pads[7], pads[2], pads[6]};
  const bool none = std::all_of(pads.begin(), pads.end(), [](int64_t v) { return v == 0; });
  l.spec.kind = none ? LayerKind::Dropout : LayerKind::Pad;  // no padding at all: the identity
  emit(n, std::move(l), {activation(n, 0, where)}, false);
}

}  // namespace onnx_detail


std::string onnx_scope_path(const std::string& name) {
  std::vector<std::string> parts;
  size_t p = 0;
  while (p < name.size()) {
    const size_t e = std::min(name.find('/', p), name.size());
    if (e > p) parts.push_back(name.substr(p, e - p));
    p = e + 1;
  }
  if (parts.size() < 2) return "";
  parts.pop_back();  // the operation
  // A scope named by extending the one before it ("layer1" then "layer1.0", "conv" then
  // "conv.0") replaces that one's part of the path; any other is a child.
  std::string path, last;
  for (const std::string& c : parts) {
    if (!last.empty() && c.rfind(last + ".", 0) == 0)
      path = path.substr(0, path.size() - last.size()) + c;
    else
      path = path.empty() ? c : path + "." + c;
    last = c;
  }
  return path;
}

bool looks_like_onnx(const std::string& bytes) {
  // A ModelProto starts with field 1 (ir_version, varint: tag 0x08).
  return !bytes.empty() && bytes[0] == 0x08;
}

OnnxGraph parse_onnx_graph(const std::string& bytes, const std::string& path) {
  onnx::ModelProto model;
  require(bytes.size() < (size_t{1} << 31),
          path + ": ONNX file over 2 GiB (external data is not supported)");
  require(model.ParseFromString(bytes),
          path + ": not a valid ONNX model (truncated or not a ModelProto)");
  require(model.has_graph(), path + ": the ONNX model has no graph");
  return onnx_detail::Builder(model, path).build();
}

}  // namespace lrpbench
