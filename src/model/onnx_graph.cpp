#include "model/onnx_graph.h"

#include <ATen/ATen.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <map>
#include <set>
#include <unordered_map>

#include "util/error.h"

namespace lrpbench {
namespace {

// What a value of the ONNX graph stands for.
struct Val {
  bool tensor = false;   // an activation: the node producing it
  int node = kNetworkInput;
  at::Tensor constant;  // an initializer or Constant
};

at::Tensor to_tensor(const onnx::TensorProto& t, const std::string& path) {
  std::vector<int64_t> dims(t.dims().begin(), t.dims().end());
  int64_t n = 1;
  for (int64_t d : dims) {
    require(d >= 0 && d <= (int64_t{1} << 32), path + ": tensor '" + t.name() + "' has a bad shape");
    n *= d;
    require(n <= (int64_t{1} << 33), path + ": tensor '" + t.name() + "' is too large");
  }
  require(t.data_location() != onnx::TensorProto::EXTERNAL,
          path + ": tensor '" + t.name() + "' is stored in an external file (not supported)");
  const std::string& raw = t.raw_data();
  if (t.data_type() == onnx::TensorProto::FLOAT) {
    at::Tensor out = at::empty(dims, at::kFloat);
    if (!raw.empty()) {
      require(raw.size() == static_cast<size_t>(n) * 4,
              path + ": tensor '" + t.name() + "' holds " + std::to_string(raw.size()) +
                  " bytes for " + std::to_string(n) + " floats");
      std::memcpy(out.data_ptr<float>(), raw.data(), raw.size());
    } else {
      require(t.float_data_size() == n, path + ": tensor '" + t.name() + "' has the wrong size");
      std::copy(t.float_data().begin(), t.float_data().end(), out.data_ptr<float>());
    }
    require(at::isfinite(out).all().item<bool>(),
            path + ": tensor '" + t.name() + "' holds NaN or infinite values");
    return out;
  }
  if (t.data_type() == onnx::TensorProto::INT64) {
    at::Tensor out = at::empty(dims, at::kLong);
    if (!raw.empty()) {
      require(raw.size() == static_cast<size_t>(n) * 8,
              path + ": tensor '" + t.name() + "' has the wrong size");
      std::memcpy(out.data_ptr<int64_t>(), raw.data(), raw.size());
    } else {
      require(t.int64_data_size() == n, path + ": tensor '" + t.name() + "' has the wrong size");
      std::copy(t.int64_data().begin(), t.int64_data().end(), out.data_ptr<int64_t>());
    }
    return out;
  }
  throw InputError(path + ": tensor '" + t.name() + "' has data type " +
                   std::to_string(t.data_type()) + " (float32 and int64 are read)");
}

}  // namespace

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

namespace {

std::string scope_path(const std::string& name) {
  return onnx_scope_path(name);
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

class Builder {
 public:
  Builder(const onnx::ModelProto& m, std::string path) : m_(m), file_(std::move(path)) {}

  Network build() {
    opset_ = 0;
    for (const auto& o : m_.opset_import())
      if (o.domain().empty() || o.domain() == "ai.onnx") opset_ = o.version();
    require(opset_ >= 9 && opset_ <= 17, file_ + ": opset " + std::to_string(opset_) +
                                             " (lrpbench reads ONNX opsets 9 to 17)");
    const onnx::GraphProto& g = m_.graph();
    for (const auto& init : g.initializer()) env_[init.name()] = {false, kNetworkInput, to_tensor(init, file_)};
    int images = 0;
    for (const auto& in : g.input()) {
      if (env_.count(in.name())) continue;
      ++images;
      env_[in.name()] = {true, kNetworkInput, {}};
      input_shape(in);
    }
    require(images == 1, file_ + ": the graph has " + std::to_string(images) +
                             " inputs; a classifier takes one image tensor");
    for (const auto& n : g.node()) node(n);
    require(g.output_size() == 1, file_ + ": the graph has several outputs, not logits");
    auto it = env_.find(g.output(0).name());
    require(it != env_.end() && it->second.tensor && it->second.node >= 0,
            file_ + ": the graph's output is not computed from its input");
    require(it->second.node == static_cast<int>(net_.layers.size()) - 1,
            file_ + ": the graph's output is not its last operation");
    net_.arch = file_;
    return net_;
  }

 private:
  const onnx::ModelProto& m_;
  std::string file_;
  int64_t opset_ = 0;
  Network net_;
  std::unordered_map<std::string, Val> env_;
  std::map<std::string, int> op_count_;

  void input_shape(const onnx::ValueInfoProto& in) {
    const auto& t = in.type().tensor_type();
    require(t.shape().dim_size() == 4, file_ + ": the input '" + in.name() + "' is not N x C x H x W");
    const auto& d = t.shape().dim();
    require(d[1].has_dim_value(), file_ + ": the input's channel count is not fixed");
    net_.in_channels = d[1].dim_value();
    if (d[2].has_dim_value() && d[3].has_dim_value()) {
      require(d[2].dim_value() == d[3].dim_value() && d[2].dim_value() >= 8,
              file_ + ": the input is " + std::to_string(d[2].dim_value()) + "x" +
                  std::to_string(d[3].dim_value()) + "; lrpbench reads square images of 8x8 or more");
      net_.default_size = d[2].dim_value();
      net_.fixed_size = true;
    }
  }

  [[noreturn]] void unsupported(const std::string& what, const std::string& node) const {
    throw InputError(file_ + ": unsupported operation '" + what + "' in node '" + node + "'");
  }

  // Scoped names ("/layer1/layer1.0/conv1/Conv") give module paths; an operation of a
  // module's own forward is the path plus "." and the operation ("/layer1/layer1.0/Add" is
  // layer1.0.add, "/Add" add); unscoped names give "<op>_<k>".
  std::string node_name(const onnx::NodeProto& n, bool module_op) {
    const std::string op = lower(n.op_type());
    if (n.name().empty() || n.name()[0] != '/') return op + "_" + std::to_string(op_count_[op]++);
    const std::string path = scope_path(n.name());
    if (path.empty()) return op;
    return module_op ? path : path + "." + op;
  }

  const Val& value(const std::string& name, const std::string& node) const {
    auto it = env_.find(name);
    if (it == env_.end()) throw InputError(file_ + ": node '" + node + "' reads '" + name + "', which nothing computes");
    return it->second;
  }
  int activation(const onnx::NodeProto& n, int k, const std::string& node) const {
    if (k >= n.input_size() || n.input(k).empty()) unsupported(n.op_type() + " without input", node);
    const Val& v = value(n.input(k), node);
    if (!v.tensor) unsupported(n.op_type() + " on a constant", node);
    return v.node;
  }
  at::Tensor constant(const onnx::NodeProto& n, int k, const std::string& node,
                      bool optional = false) const {
    if (k >= n.input_size() || n.input(k).empty()) {
      if (optional) return {};
      unsupported(n.op_type() + " without its parameters", node);
    }
    const Val& v = value(n.input(k), node);
    if (v.tensor) unsupported(n.op_type() + " with a computed weight", node);
    return v.constant;
  }

  const onnx::AttributeProto* attr(const onnx::NodeProto& n, const std::string& name) const {
    for (const auto& a : n.attribute())
      if (a.name() == name) return &a;
    return nullptr;
  }
  std::vector<int64_t> ints(const onnx::NodeProto& n, const std::string& name,
                            std::vector<int64_t> def) const {
    const auto* a = attr(n, name);
    return a ? std::vector<int64_t>(a->ints().begin(), a->ints().end()) : def;
  }
  int64_t integer(const onnx::NodeProto& n, const std::string& name, int64_t def) const {
    const auto* a = attr(n, name);
    return a ? a->i() : def;
  }
  double real(const onnx::NodeProto& n, const std::string& name, double def) const {
    const auto* a = attr(n, name);
    return a ? a->f() : def;
  }

  Pair pair_of(const std::vector<int64_t>& v, const std::string& what, const std::string& node,
               const onnx::NodeProto& n) const {
    if (v.size() == 2) return {v[0], v[1]};
    unsupported(n.op_type() + " with " + what + " that is not 2-D", node);
  }
  // ONNX pads are [top, left, bottom, right]; ours are symmetric.
  Pair pads_of(const onnx::NodeProto& n, const std::string& node) const {
    const auto* ap = attr(n, "auto_pad");
    if (ap && ap->s() != "NOTSET" && ap->s() != "VALID") unsupported(n.op_type() + " with auto_pad " + ap->s(), node);
    const auto p = ints(n, "pads", {0, 0, 0, 0});
    if (p.size() != 4 || p[0] != p[2] || p[1] != p[3]) unsupported(n.op_type() + " with asymmetric padding", node);
    return {p[0], p[1]};
  }

  // Shape arithmetic on constants (torch's exporter computes Pad's amounts this way):
  // ConstantOfShape, Concat, Reshape, Slice, Transpose, Cast, Unsqueeze, Squeeze whose
  // inputs are all constants become a constant. Results are small by nature: a larger one
  // (a hostile file) is refused.
  bool fold(const onnx::NodeProto& n, const std::string& op, const std::string& where) {
    static const std::set<std::string> kFoldable = {"ConstantOfShape", "Concat",    "Reshape",
                                                    "Slice",           "Transpose", "Cast",
                                                    "Unsqueeze",       "Squeeze"};
    if (!kFoldable.count(op) || n.output_size() < 1) return false;
    std::vector<at::Tensor> in;
    for (int k = 0; k < n.input_size(); ++k) {
      if (n.input(k).empty()) {
        in.emplace_back();
        continue;
      }
      const Val& v = value(n.input(k), where);
      if (v.tensor) return false;
      in.push_back(v.constant);
    }
    if (in.empty() || !in[0].defined()) return false;
    auto longs = [&](const at::Tensor& t) {
      if (t.scalar_type() != at::kLong || t.dim() > 1 || t.numel() > 64)
        unsupported(op + " with a computed shape of another kind", where);
      const at::Tensor c = t.contiguous();
      return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
    };
    auto axes_or = [&](size_t k, const char* name) {
      return opset_ >= 13 && in.size() > k && in[k].defined() ? longs(in[k]) : ints(n, name, {});
    };
    at::Tensor out;
    if (op == "ConstantOfShape") {
      const std::vector<int64_t> shape = longs(in[0]);
      int64_t count = 1;
      for (int64_t d : shape) {
        if (d < 0 || d > (1 << 20)) unsupported(op + " of a bad shape", where);
        count *= d;
        if (count > (1 << 20)) unsupported(op + " of a large shape", where);
      }
      const auto* a = attr(n, "value");
      const at::Tensor v = a && a->has_t() ? to_tensor(a->t(), file_) : at::zeros({1}, at::kFloat);
      if (v.numel() != 1) unsupported(op + " with a value that is not one number", where);
      out = v.reshape({}).expand(shape).clone();
    } else if (op == "Concat") {
      out = at::cat(in, integer(n, "axis", 0));
    } else if (op == "Reshape") {
      std::vector<int64_t> shape = longs(in[1]);
      for (size_t d = 0; d < shape.size(); ++d)
        if (shape[d] == 0 && static_cast<int64_t>(d) < in[0].dim()) shape[d] = in[0].size(d);
      out = in[0].reshape(shape).clone();
    } else if (op == "Slice") {
      const bool attrs = opset_ < 10;
      const std::vector<int64_t> starts = attrs ? ints(n, "starts", {}) : longs(in[1]);
      const std::vector<int64_t> ends = attrs ? ints(n, "ends", {}) : longs(in[2]);
      std::vector<int64_t> axes = attrs ? ints(n, "axes", {})
                                        : (in.size() > 3 && in[3].defined() ? longs(in[3])
                                                                            : std::vector<int64_t>());
      const std::vector<int64_t> steps = !attrs && in.size() > 4 && in[4].defined()
                                             ? longs(in[4])
                                             : std::vector<int64_t>(starts.size(), 1);
      if (axes.empty())
        for (size_t k = 0; k < starts.size(); ++k) axes.push_back(static_cast<int64_t>(k));
      if (ends.size() != starts.size() || axes.size() != starts.size() ||
          steps.size() != starts.size())
        unsupported(op + " with inconsistent starts, ends, axes and steps", where);
      out = in[0];
      for (size_t k = 0; k < starts.size(); ++k) {  // ONNX's clamping, steps of either sign
        if (steps[k] == 0) unsupported(op + " with step 0", where);
        const int64_t axis = axes[k] < 0 ? axes[k] + out.dim() : axes[k];
        if (axis < 0 || axis >= out.dim()) unsupported(op + " along a missing axis", where);
        const int64_t dim = out.size(axis), step = steps[k];
        int64_t b = starts[k] < 0 ? starts[k] + dim : starts[k];
        int64_t e = ends[k] < 0 ? ends[k] + dim : ends[k];
        std::vector<int64_t> idx;
        if (step > 0) {
          b = std::clamp<int64_t>(b, 0, dim);
          e = std::clamp<int64_t>(e, 0, dim);
          for (int64_t i = b; i < e; i += step) idx.push_back(i);
        } else {
          b = std::clamp<int64_t>(b, 0, dim - 1);
          e = std::clamp<int64_t>(e, -1, dim - 1);
          for (int64_t i = b; i > e; i += step) idx.push_back(i);
        }
        out = out.index_select(axis, at::tensor(idx, at::kLong));
      }
    } else if (op == "Transpose") {
      std::vector<int64_t> perm = ints(n, "perm", {});
      if (perm.empty())
        for (int64_t d = in[0].dim() - 1; d >= 0; --d) perm.push_back(d);
      out = in[0].permute(perm).contiguous();
    } else if (op == "Cast") {
      const int64_t to = integer(n, "to", 0);
      const std::map<int64_t, at::ScalarType> kinds = {
          {1, at::kFloat}, {6, at::kInt}, {7, at::kLong}, {9, at::kBool}, {11, at::kDouble}};
      if (!kinds.count(to)) unsupported(op + " to type " + std::to_string(to), where);
      out = in[0].to(kinds.at(to));
    } else if (op == "Unsqueeze") {
      out = in[0];
      std::vector<int64_t> axes = axes_or(1, "axes");
      std::sort(axes.begin(), axes.end());
      for (int64_t a : axes) out = out.unsqueeze(a < 0 ? a + out.dim() + 1 : a);
      out = out.clone();
    } else {  // Squeeze
      out = in[0];
      std::vector<int64_t> axes = axes_or(1, "axes");
      std::sort(axes.rbegin(), axes.rend());
      if (axes.empty()) out = out.squeeze();
      for (int64_t a : axes) out = out.squeeze(a);
      out = out.clone();
    }
    if (out.numel() > (1 << 20)) unsupported(op + " with a large result", where);
    env_[n.output(0)] = {false, kNetworkInput, out};
    return true;
  }

  void emit(const onnx::NodeProto& n, Layer l, std::vector<int> inputs, bool module_op) {
    l.name = node_name(n, module_op);
    l.inputs = std::move(inputs);
    net_.layers.push_back(std::move(l));
    require(n.output_size() >= 1, file_ + ": node '" + n.name() + "' has no output");
    env_[n.output(0)] = {true, static_cast<int>(net_.layers.size()) - 1, {}};
  }

  void node(const onnx::NodeProto& n) {
    const std::string op = n.op_type();
    const std::string where = n.name().empty() ? op : n.name();
    if (!n.domain().empty() && n.domain() != "ai.onnx") unsupported(n.domain() + "." + op, where);
    Layer l;
    if (op == "Constant") {
      const auto* a = attr(n, "value");
      if (!a || !a->has_t()) unsupported("Constant without a tensor value", where);
      env_[n.output(0)] = {false, kNetworkInput, to_tensor(a->t(), file_)};
      return;
    }
    try {
      if (fold(n, op, where)) return;
    } catch (const c10::Error& e) {  // shapes that do not fit (a hostile file)
      unsupported(op + " on constants that do not fit (" +
                      first_line(e.what_without_backtrace()) + ")",
                  where);
    }
    if (op == "Conv") {
      l.kind = LayerKind::Conv2d;
      l.weight = constant(n, 1, where);
      l.bias = constant(n, 2, where, true);
      if (l.weight.dim() != 4) unsupported("Conv that is not 2-D", where);
      l.has_bias = l.bias.defined();
      l.groups = integer(n, "group", 1);
      l.stride = pair_of(ints(n, "strides", {1, 1}), "strides", where, n);
      l.dilation = pair_of(ints(n, "dilations", {1, 1}), "dilations", where, n);
      l.padding = pads_of(n, where);
      l.out_channels = l.weight.size(0);
      l.in_channels = l.weight.size(1) * l.groups;
      l.kernel = {l.weight.size(2), l.weight.size(3)};
      emit(n, l, {activation(n, 0, where)}, true);
    } else if (op == "Gemm") {
      if (real(n, "alpha", 1.0) != 1.0 || real(n, "beta", 1.0) != 1.0 || integer(n, "transA", 0) != 0)
        unsupported("Gemm with alpha, beta or transA", where);
      l.kind = LayerKind::Linear;
      l.weight = constant(n, 1, where);
      if (integer(n, "transB", 0) == 0) l.weight = l.weight.t().contiguous();
      l.bias = constant(n, 2, where, true);
      l.has_bias = l.bias.defined();
      l.out_channels = l.weight.size(0);
      l.in_channels = l.weight.size(1);
      emit(n, l, {activation(n, 0, where)}, true);
    } else if (op == "MatMul") {
      l.kind = LayerKind::Linear;
      const at::Tensor w = constant(n, 1, where);
      if (w.dim() != 2) unsupported("MatMul with a weight that is not 2-D", where);
      l.weight = w.t().contiguous();
      l.has_bias = false;
      l.out_channels = l.weight.size(0);
      l.in_channels = l.weight.size(1);
      emit(n, l, {activation(n, 0, where)}, true);
    } else if (op == "BatchNormalization") {
      if (integer(n, "training_mode", 0) != 0) unsupported("BatchNormalization in training mode", where);
      l.kind = LayerKind::BatchNorm2d;
      l.weight = constant(n, 1, where);
      l.bias = constant(n, 2, where);
      l.running_mean = constant(n, 3, where);
      l.running_var = constant(n, 4, where);
      l.bn_eps = real(n, "epsilon", 1e-5);
      l.in_channels = l.out_channels = l.weight.size(0);
      emit(n, l, {activation(n, 0, where)}, true);
    } else if (op == "Relu") {
      l.kind = LayerKind::ReLU;
      emit(n, l, {activation(n, 0, where)}, true);
    } else if (op == "Clip") {
      double lo = real(n, "min", -3.4e38), hi = real(n, "max", 3.4e38);
      if (opset_ >= 11) {
        const at::Tensor a = constant(n, 1, where, true), b = constant(n, 2, where, true);
        lo = a.defined() ? a.item<double>() : -3.4e38;
        hi = b.defined() ? b.item<double>() : 3.4e38;
      }
      if (lo != 0.0) unsupported("Clip with a lower bound other than 0", where);
      l.kind = LayerKind::ReLU;
      if (hi < 3.4e38) l.clamp_max = hi;
      emit(n, l, {activation(n, 0, where)}, true);
    } else if (op == "MaxPool") {
      if (n.output_size() > 1) unsupported("MaxPool with indices", where);
      l.kind = LayerKind::MaxPool2d;
      l.kernel = pair_of(ints(n, "kernel_shape", {}), "kernel_shape", where, n);
      l.stride = pair_of(ints(n, "strides", {1, 1}), "strides", where, n);
      l.dilation = pair_of(ints(n, "dilations", {1, 1}), "dilations", where, n);
      l.padding = pads_of(n, where);
      l.ceil_mode = integer(n, "ceil_mode", 0) != 0;
      emit(n, l, {activation(n, 0, where)}, true);
    } else if (op == "AveragePool") {
      l.kind = LayerKind::AvgPool2d;
      l.kernel = pair_of(ints(n, "kernel_shape", {}), "kernel_shape", where, n);
      l.stride = pair_of(ints(n, "strides", {1, 1}), "strides", where, n);
      l.padding = pads_of(n, where);
      l.ceil_mode = integer(n, "ceil_mode", 0) != 0;
      if (l.padding != Pair{0, 0} && integer(n, "count_include_pad", 0) == 0)
        unsupported("AveragePool with padding that is not counted", where);
      emit(n, l, {activation(n, 0, where)}, true);
    } else if (op == "GlobalAveragePool" || op == "ReduceMean") {
      l.kind = LayerKind::AdaptiveAvgPool2d;
      l.output_size = {1, 1};
      bool flatten = false;
      if (op == "ReduceMean") {
        std::vector<int64_t> axes = ints(n, "axes", {});
        if (axes.empty() && n.input_size() > 1) {
          const at::Tensor a = constant(n, 1, where);
          axes.assign(a.data_ptr<int64_t>(), a.data_ptr<int64_t>() + a.numel());
        }
        const bool spatial = axes.size() == 2 && ((axes[0] == 2 && axes[1] == 3) || (axes[0] == -2 && axes[1] == -1));
        if (!spatial) unsupported("ReduceMean over axes other than the spatial ones", where);
        flatten = integer(n, "keepdims", 1) == 0;
      }
      emit(n, l, {activation(n, 0, where)}, op == "GlobalAveragePool");
      if (flatten) {
        Layer f;
        f.kind = LayerKind::Flatten;
        emit(n, f, {static_cast<int>(net_.layers.size()) - 1}, false);
      }
    } else if (op == "Flatten") {
      if (integer(n, "axis", 1) != 1) unsupported("Flatten at an axis other than 1", where);
      l.kind = LayerKind::Flatten;
      emit(n, l, {activation(n, 0, where)}, false);
    } else if (op == "Reshape") {
      const at::Tensor shape = constant(n, 1, where);
      const bool ok = shape.numel() == 2 && shape.scalar_type() == at::kLong &&
                      shape[1].item<int64_t>() == -1 && shape[0].item<int64_t>() >= -1 &&
                      shape[0].item<int64_t>() <= 1;
      if (!ok) unsupported("Reshape to a shape other than (N, -1)", where);
      l.kind = LayerKind::Flatten;
      emit(n, l, {activation(n, 0, where)}, false);
    } else if (op == "Add") {
      const Val& a = value(n.input(0), where);
      const Val& b = value(n.input(1), where);
      if (a.tensor && b.tensor) {
        l.kind = LayerKind::Add;
        emit(n, l, {a.node, b.node}, false);
      } else if (a.tensor != b.tensor) {  // MatMul + Add: the dense layer's bias
        const Val& t = a.tensor ? a : b;
        const at::Tensor c = (a.tensor ? b : a).constant;
        if (t.node < 0 || net_.layers[static_cast<size_t>(t.node)].kind != LayerKind::Linear ||
            net_.layers[static_cast<size_t>(t.node)].has_bias || c.dim() != 1 ||
            c.size(0) != net_.layers[static_cast<size_t>(t.node)].out_channels)
          unsupported("Add of a constant other than a dense layer's bias", where);
        Layer& d = net_.layers[static_cast<size_t>(t.node)];
        d.bias = c.to(at::kFloat).contiguous();
        d.has_bias = true;
        env_[n.output(0)] = t;
      } else {
        unsupported("Add of constants", where);
      }
    } else if (op == "Concat") {
      if (integer(n, "axis", 0) != 1) unsupported("Concat along an axis other than the channels", where);
      l.kind = LayerKind::Concat;
      std::vector<int> inputs;
      for (int k = 0; k < n.input_size(); ++k) inputs.push_back(activation(n, k, where));
      if (inputs.size() == 1) l.kind = LayerKind::Dropout;
      emit(n, l, inputs, false);
    } else if (op == "Pad") {
      std::vector<int64_t> pads = ints(n, "pads", {});
      if (opset_ >= 11) {
        const at::Tensor p = constant(n, 1, where);
        pads.assign(p.data_ptr<int64_t>(), p.data_ptr<int64_t>() + p.numel());
      }
      const auto* mode = attr(n, "mode");
      if (mode != nullptr && mode->s() != "constant") unsupported("Pad in mode '" + mode->s() + "'", where);
      if (opset_ >= 11 && n.input_size() > 2 && !n.input(2).empty() &&
          constant(n, 2, where).to(at::kDouble).item<double>() != 0.0)
        unsupported("Pad with a value other than 0", where);
      if (opset_ < 11 && attr(n, "value") != nullptr && attr(n, "value")->f() != 0.0f)
        unsupported("Pad with a value other than 0", where);
      // ONNX: begins of every axis, then ends (N, C, H, W); only H and W may be padded.
      const bool four = pads.size() == 8 && pads[0] == 0 && pads[1] == 0 && pads[4] == 0 &&
                        pads[5] == 0;
      l.pad = four ? spatial_padding({pads[3], pads[7], pads[2], pads[6]}) : std::vector<int64_t>();
      if (l.pad.empty()) unsupported("Pad of axes other than the spatial ones, or negative", where);
      const bool none = std::all_of(l.pad.begin(), l.pad.end(), [](int64_t v) { return v == 0; });
      l.kind = none ? LayerKind::Dropout : LayerKind::Pad;  // no padding at all: the identity
      emit(n, l, {activation(n, 0, where)}, false);
    } else if ((op == "Identity" || op == "Dropout") && !value(n.input(0), where).tensor) {
      env_[n.output(0)] = value(n.input(0), where);  // a weight passed on
    } else if (op == "Identity" || op == "Dropout") {
      if (op == "Dropout" && opset_ >= 12 && n.input_size() > 2 && !n.input(2).empty()) {
        const at::Tensor t = constant(n, 2, where);
        if (t.numel() == 1 && t.item<double>() != 0.0) unsupported("Dropout in training mode", where);
      }
      l.kind = LayerKind::Dropout;
      emit(n, l, {activation(n, 0, where)}, true);
    } else {
      unsupported(op, node_name(n, false));
    }
  }
};

}  // namespace

bool looks_like_onnx(const std::string& bytes) {
  // A ModelProto starts with field 1 (ir_version, varint: tag 0x08).
  return !bytes.empty() && bytes[0] == 0x08;
}

Network read_onnx_graph(const std::string& bytes, const std::string& path) {
  onnx::ModelProto model;
  require(bytes.size() < (size_t{1} << 31),
          path + ": ONNX file over 2 GiB (external data is not supported)");
  require(model.ParseFromString(bytes),
          path + ": not a valid ONNX model (truncated or not a ModelProto)");
  require(model.has_graph(), path + ": the ONNX model has no graph");
  return Builder(model, path).build();
}

}  // namespace lrpbench
