#include "model/onnx_spec.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <unordered_map>

#include "util/error.h"

namespace lrpbench {
namespace {

// Constants computed on the way (shape arithmetic) are small by nature; a larger one is a
// hostile file.
constexpr int64_t kMaxFolded = int64_t{1} << 20;
constexpr size_t kMaxRank = 8;

// A constant of the graph, row-major. Float and Double values live in `f`, Int32, Int64 and
// Bool values in `i` (a file's tensors are Float or Int64; Cast makes the others).
struct Plain {
  enum class Type { Float, Double, Int32, Int64, Bool } type = Type::Float;
  std::vector<int64_t> dims;
  std::vector<float> f;
  std::vector<int64_t> i;
  bool floating() const { return type == Type::Float || type == Type::Double; }
  int64_t numel() const {
    return static_cast<int64_t>(floating() ? f.size() : i.size());
  }
  double value(int64_t k) const {
    return floating() ? static_cast<double>(f[static_cast<size_t>(k)])
                      : static_cast<double>(i[static_cast<size_t>(k)]);
  }
};
using PlainPtr = std::shared_ptr<const Plain>;

int64_t count_of(const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0 || (d > 0 && n > kMaxParameterValues / d)) return -1;
    n *= d;
  }
  return n;
}

// A new constant of `dims` whose k-th value is `src`'s value at source(k).
template <class Source>
Plain remap(const Plain& src, std::vector<int64_t> dims, Source source) {
  Plain out;
  out.type = src.type;
  const int64_t n = count_of(dims);
  out.dims = std::move(dims);
  if (src.floating()) {
    out.f.resize(static_cast<size_t>(n));
    for (int64_t k = 0; k < n; ++k) out.f[static_cast<size_t>(k)] = src.f[static_cast<size_t>(source(k))];
  } else {
    out.i.resize(static_cast<size_t>(n));
    for (int64_t k = 0; k < n; ++k) out.i[static_cast<size_t>(k)] = src.i[static_cast<size_t>(source(k))];
  }
  return out;
}

std::vector<int64_t> strides_of(const std::vector<int64_t>& dims) {
  std::vector<int64_t> s(dims.size(), 1);
  for (size_t d = dims.size(); d-- > 1;) s[d - 1] = s[d] * dims[d];
  return s;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// What a value of the ONNX graph stands for.
struct Val {
  bool tensor = false;  // an activation: the node producing it
  int node = -1;        // -1: the network's input
  PlainPtr constant;    // an initializer or a computed constant
};

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
};

class Builder {
 public:
  Builder(const onnx::ModelProto& m, std::string path) : m_(m), file_(std::move(path)) {}

  OnnxGraph build() {
    opset_ = 0;
    for (const auto& o : m_.opset_import())
      if (o.domain().empty() || o.domain() == "ai.onnx") opset_ = o.version();
    require(opset_ >= 9 && opset_ <= 17, file_ + ": opset " + std::to_string(opset_) +
                                             " (lrpbench reads ONNX opsets 9 to 17)");
    const onnx::GraphProto& g = m_.graph();
    for (const auto& init : g.initializer())
      env_[init.name()] = {false, -1, std::make_shared<const Plain>(to_plain(init))};
    int images = 0;
    for (const auto& in : g.input()) {
      if (env_.count(in.name())) continue;
      ++images;
      env_[in.name()] = {true, -1, {}};
      input_shape(in);
    }
    require(images == 1, file_ + ": the graph has " + std::to_string(images) +
                             " inputs; a classifier takes one image tensor");
    for (const auto& n : g.node()) node(n);
    require(g.output_size() == 1, file_ + ": the graph has " + std::to_string(g.output_size()) +
                                      " outputs, not one of logits");
    auto it = env_.find(g.output(0).name());
    require(it != env_.end() && it->second.tensor && it->second.node >= 0,
            file_ + ": the graph's output is not computed from its input");
    require(it->second.node == static_cast<int>(out_.nodes.size()) - 1,
            file_ + ": the graph's output is not its last operation");
    std::vector<NodeSpec> specs;
    for (OnnxNode& n : out_.nodes) {
      n.spec.weight = shape_of(n.weight);
      n.spec.bias = shape_of(n.bias);
      n.spec.running_mean = shape_of(n.running_mean);
      n.spec.running_var = shape_of(n.running_var);
      specs.push_back(n.spec);
    }
    check_nodes(specs, file_);
    return std::move(out_);
  }

 private:
  const onnx::ModelProto& m_;
  std::string file_;
  int64_t opset_ = 0;
  OnnxGraph out_;
  std::unordered_map<std::string, Val> env_;
  std::map<std::string, int> op_count_;

  static ParamShape shape_of(const OnnxParam& p) {
    return p.defined ? ParamShape{true, p.dims} : ParamShape{};
  }

  // A float32 or int64 tensor of the file. Its shape is checked against the bytes or values
  // it holds before anything is allocated, so a small file cannot ask for a large tensor.
  // `node`: the Constant or ConstantOfShape whose value it is ("": an initializer).
  Plain to_plain(const onnx::TensorProto& t, const std::string& node = "") const {
    const std::string what = file_ + (node.empty() ? ": tensor '" + t.name() + "'"
                                                   : ": the value of node '" + node + "'");
    require(static_cast<size_t>(t.dims_size()) <= kMaxRank,
            what + " has " + std::to_string(t.dims_size()) + " dimensions");
    Plain out;
    out.dims.assign(t.dims().begin(), t.dims().end());
    const int64_t n = count_of(out.dims);
    require(n >= 0, what + " has shape " + dims_text(out.dims) + " (negative or over " +
                        std::to_string(kMaxParameterValues) + " values)");
    require(t.data_location() != onnx::TensorProto::EXTERNAL,
            what + " is stored in an external file (not supported)");
    const bool is_float = t.data_type() == onnx::TensorProto::FLOAT;
    if (!is_float && t.data_type() != onnx::TensorProto::INT64)
      throw InputError(what + " has data type " + std::to_string(t.data_type()) +
                       " (float32 and int64 are read)");
    const std::string& raw = t.raw_data();
    const size_t width = is_float ? 4 : 8;
    if (!raw.empty()) {
      require(raw.size() % width == 0 && static_cast<int64_t>(raw.size() / width) == n,
              what + " holds " + std::to_string(raw.size()) + " bytes for " + std::to_string(n) +
                  " values");
    } else {
      const int64_t held = is_float ? t.float_data_size() : t.int64_data_size();
      require(held == n, what + " holds " + std::to_string(held) + " values for " +
                             std::to_string(n));
    }
    if (is_float) {
      out.type = Plain::Type::Float;
      out.f.resize(static_cast<size_t>(n));
      if (!raw.empty())
        std::memcpy(out.f.data(), raw.data(), raw.size());
      else
        std::copy(t.float_data().begin(), t.float_data().end(), out.f.begin());
    } else {
      out.type = Plain::Type::Int64;
      out.i.resize(static_cast<size_t>(n));
      if (!raw.empty())
        std::memcpy(out.i.data(), raw.data(), raw.size());
      else
        std::copy(t.int64_data().begin(), t.int64_data().end(), out.i.begin());
    }
    return out;
  }

  static std::string dims_text(const std::vector<int64_t>& d) {
    std::string s = "[";
    for (size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
    return s + "]";
  }

  void input_shape(const onnx::ValueInfoProto& in) {
    const auto& t = in.type().tensor_type();
    require(t.shape().dim_size() == 4, file_ + ": the input '" + in.name() + "' is not N x C x H x W");
    const auto& d = t.shape().dim();
    require(d[1].has_dim_value(), file_ + ": the input's channel count is not fixed");
    out_.in_channels = d[1].dim_value();
    require(out_.in_channels == 1 || out_.in_channels == 3,
            file_ + ": the input '" + in.name() + "' has " + std::to_string(out_.in_channels) +
                " channels; lrpbench reads images with 1 or 3");
    // A fixed height or width is the model's size (images are square; a side left free
    // takes the other's); neither fixed: any size.
    if (d[2].has_dim_value() || d[3].has_dim_value()) {
      const int64_t h = d[2].has_dim_value() ? d[2].dim_value() : d[3].dim_value();
      const int64_t w = d[3].has_dim_value() ? d[3].dim_value() : h;
      require(h == w && h >= 8 && h <= kMaxGraphInputSide,
              file_ + ": the input is " + std::to_string(h) + "x" + std::to_string(w) +
                  "; lrpbench reads square images of 8x8 to " +
                  std::to_string(kMaxGraphInputSide) + "x" + std::to_string(kMaxGraphInputSide));
      out_.size = h;
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
    const std::string path = onnx_scope_path(n.name());
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
  // Input k as a constant; null when optional and absent.
  PlainPtr constant(const onnx::NodeProto& n, int k, const std::string& node,
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
  static std::string where(const onnx::NodeProto& n) {
    return n.name().empty() ? n.op_type() : n.name();
  }
  // An attribute of the type its operation defines (a list of floats where integers belong
  // is a lying file), else InputError naming the node and the attribute.
  const onnx::AttributeProto* typed(const onnx::NodeProto& n, const std::string& name,
                                    onnx::AttributeProto::AttributeType type) const {
    const auto* a = attr(n, name);
    if (a && a->type() != type && a->type() != onnx::AttributeProto::UNDEFINED)
      throw InputError(file_ + ": node '" + where(n) + "' (" + n.op_type() + ") has attribute '" +
                       name + "' of type " + onnx::AttributeProto::AttributeType_Name(a->type()) +
                       " (" + onnx::AttributeProto::AttributeType_Name(type) + " expected)");
    return a;
  }
  std::vector<int64_t> ints(const onnx::NodeProto& n, const std::string& name,
                            std::vector<int64_t> def) const {
    const auto* a = typed(n, name, onnx::AttributeProto::INTS);
    if (a && a->ints_size() > 64)
      throw InputError(file_ + ": node '" + where(n) + "' has attribute '" + name + "' of " +
                       std::to_string(a->ints_size()) + " values");
    return a ? std::vector<int64_t>(a->ints().begin(), a->ints().end()) : def;
  }
  int64_t integer(const onnx::NodeProto& n, const std::string& name, int64_t def) const {
    const auto* a = typed(n, name, onnx::AttributeProto::INT);
    return a ? a->i() : def;
  }
  double real(const onnx::NodeProto& n, const std::string& name, double def) const {
    const auto* a = typed(n, name, onnx::AttributeProto::FLOAT);
    return a ? a->f() : def;
  }

  // A constant input used as a parameter (a weight, a bias, BatchNorm's statistics): float,
  // of `rank` dimensions, finite; undefined when optional and absent.
  OnnxParam param(const onnx::NodeProto& n, int k, const std::string& node, size_t rank,
                  bool optional = false) const {
    const PlainPtr t = constant(n, k, node, optional);
    if (!t) return {};
    const std::string what = file_ + ": parameter '" + n.input(k) + "' of node '" + node + "' (" +
                             n.op_type() + ")";
    require(t->floating(), what + " holds integers (floating point expected)");
    require(t->dims.size() == rank, what + " has " + std::to_string(t->dims.size()) +
                                        " dimensions (" + std::to_string(rank) + " expected)");
    check_finite(t->f.data(), t->f.size(), what);
    return {true, t->dims, t->f};
  }
  // A constant input holding integers (pads, axes, shapes): int64, at most one dimension.
  std::vector<int64_t> int_list(const onnx::NodeProto& n, int k, const std::string& node) const {
    return longs(*constant(n, k, node), n.op_type() + " whose input '" + n.input(k) + "'", node);
  }
  std::vector<int64_t> longs(const Plain& t, const std::string& what, const std::string& node) const {
    if (t.type != Plain::Type::Int64 || t.dims.size() > 1 || t.numel() > 64)
      unsupported(what + " is not a short list of int64", node);
    return t.i;
  }
  // A constant input holding one number (Clip's bounds, Pad's value, Dropout's mode).
  double number(const onnx::NodeProto& n, int k, const std::string& node) const {
    const PlainPtr t = constant(n, k, node);
    if (t->numel() != 1) unsupported(n.op_type() + " whose input '" + n.input(k) + "' is not one number", node);
    return t->value(0);
  }

  std::array<int64_t, 2> pair_of(const std::vector<int64_t>& v, const std::string& what,
                                 const std::string& node, const onnx::NodeProto& n) const {
    if (v.size() == 2) return {v[0], v[1]};
    unsupported(n.op_type() + " with " + what + " that is not 2-D", node);
  }
  // ONNX pads are [top, left, bottom, right]; ours are symmetric.
  std::array<int64_t, 2> pads_of(const onnx::NodeProto& n, const std::string& node) const {
    const auto* ap = typed(n, "auto_pad", onnx::AttributeProto::STRING);
    if (ap && ap->s() != "NOTSET" && ap->s() != "VALID") unsupported(n.op_type() + " with auto_pad " + ap->s(), node);
    const auto p = ints(n, "pads", {0, 0, 0, 0});
    if (p.size() != 4 || p[0] != p[2] || p[1] != p[3]) unsupported(n.op_type() + " with asymmetric padding", node);
    return {p[0], p[1]};
  }

  // Refuses a node with fewer inputs or outputs than its operation needs (before any is
  // read); unknown operations are refused by name later.
  void check_arity(const onnx::NodeProto& n, const std::string& node) const {
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

  // Shape arithmetic on constants (torch's exporter computes Pad's amounts this way):
  // ConstantOfShape, Concat, Reshape, Slice, Transpose, Cast, Unsqueeze, Squeeze whose
  // inputs are all constants become a constant of at most kMaxFolded values.
  bool fold(const onnx::NodeProto& n, const std::string& op, const std::string& node) {
    static const std::set<std::string> kFoldable = {"ConstantOfShape", "Concat",    "Reshape",
                                                    "Slice",           "Transpose", "Cast",
                                                    "Unsqueeze",       "Squeeze"};
    if (!kFoldable.count(op)) return false;
    std::vector<PlainPtr> in;
    for (int k = 0; k < n.input_size(); ++k) {
      if (n.input(k).empty()) {
        in.emplace_back();
        continue;
      }
      const Val& v = value(n.input(k), node);
      if (v.tensor) return false;
      in.push_back(v.constant);
    }
    if (in.empty() || !in[0]) return false;
    const Folder f{*this, n, op, node, in};
    Plain out = f.run();
    if (out.numel() > kMaxFolded || out.dims.size() > kMaxRank)
      unsupported(op + " with a large result", node);
    env_[n.output(0)] = {false, -1, std::make_shared<const Plain>(std::move(out))};
    return true;
  }

  // The folding of one node: its operation on plain constants, ONNX's rules checked.
  struct Folder {
    const Builder& b;
    const onnx::NodeProto& n;
    const std::string& op;
    const std::string& node;
    const std::vector<PlainPtr>& in;

    [[noreturn]] void bad(const std::string& why) const { b.unsupported(op + " " + why, node); }
    const Plain& x() const { return *in[0]; }
    std::vector<int64_t> list(size_t k) const {
      if (in.size() <= k || !in[k]) bad("without its input " + std::to_string(k));
      return b.longs(*in[k], op + "'s input " + std::to_string(k), node);
    }
    std::vector<int64_t> axes(size_t k, const char* name) const {
      return b.opset_ >= 13 && in.size() > k && in[k] ? list(k) : b.ints(n, name, {});
    }
    int64_t axis(int64_t a, size_t rank) const {  // ONNX's negative axes
      const int64_t r = static_cast<int64_t>(rank);
      if (a < -r || a >= r) bad("along axis " + std::to_string(a) + " of a rank-" + std::to_string(r) + " value");
      return a < 0 ? a + r : a;
    }

    Plain run() const {
      if (op == "ConstantOfShape") return constant_of_shape();
      if (op == "Concat") return concat();
      if (op == "Reshape") return reshape();
      if (op == "Slice") return slice();
      if (op == "Transpose") return transpose();
      if (op == "Cast") return cast();
      if (op == "Unsqueeze") return unsqueeze();
      return squeeze();
    }

    Plain constant_of_shape() const {
      const std::vector<int64_t> shape = b.longs(x(), op + "'s shape", node);
      int64_t count = 1;
      for (int64_t d : shape) {
        if (d < 0 || d > kMaxFolded) bad("of a bad shape");
        count *= d;
        if (count > kMaxFolded) bad("of a large shape");
      }
      const auto* a = b.typed(n, "value", onnx::AttributeProto::TENSOR);
      Plain v;
      v.f = {0.0f};
      if (a && a->has_t()) v = b.to_plain(a->t(), node);
      if (v.numel() != 1) bad("with a value that is not one number");
      return remap(v, shape, [](int64_t) { return int64_t{0}; });
    }

    Plain concat() const {
      for (const PlainPtr& p : in)
        if (!p || p->type != x().type || p->dims.size() != x().dims.size())
          bad("of constants of different types or ranks");
      if (x().dims.empty()) bad("of scalars");
      const int64_t a = axis(b.integer(n, "axis", 0), x().dims.size());
      std::vector<int64_t> dims = x().dims;
      dims[static_cast<size_t>(a)] = 0;
      for (const PlainPtr& p : in) {
        for (size_t d = 0; d < dims.size(); ++d)
          if (static_cast<int64_t>(d) != a && p->dims[d] != dims[d]) bad("of constants of different shapes");
        dims[static_cast<size_t>(a)] += p->dims[static_cast<size_t>(a)];
        if (count_of(dims) < 0 || count_of(dims) > kMaxFolded) bad("with a large result");
      }
      // Each input is `outer` blocks of its axis length x inner values, interleaved in order.
      int64_t outer = 1, inner = 1;
      for (int64_t d = 0; d < a; ++d) outer *= dims[static_cast<size_t>(d)];
      for (size_t d = static_cast<size_t>(a) + 1; d < dims.size(); ++d) inner *= dims[d];
      Plain out;
      out.type = x().type;
      out.dims = dims;
      for (int64_t o = 0; o < outer; ++o)
        for (const PlainPtr& p : in) {
          const int64_t block = p->dims[static_cast<size_t>(a)] * inner;
          if (p->floating())
            out.f.insert(out.f.end(), p->f.begin() + o * block, p->f.begin() + (o + 1) * block);
          else
            out.i.insert(out.i.end(), p->i.begin() + o * block, p->i.begin() + (o + 1) * block);
        }
      return out;
    }

    Plain reshape() const {
      std::vector<int64_t> shape = list(1);
      if (shape.size() > kMaxRank) bad("to rank " + std::to_string(shape.size()));
      int64_t known = 1, unknown = -1;
      for (size_t d = 0; d < shape.size(); ++d) {
        if (shape[d] == 0 && d < x().dims.size()) shape[d] = x().dims[d];
        if (shape[d] == -1) {
          if (unknown >= 0) bad("with two -1 sizes");
          unknown = static_cast<int64_t>(d);
        } else if (shape[d] < 0) {
          bad("to a negative size");
        } else {
          known = count_of({known, shape[d]});
          if (known < 0) bad("to a large shape");
        }
      }
      if (unknown >= 0) {
        if (known == 0 || x().numel() % known != 0) bad("to a shape that does not fit its input");
        shape[static_cast<size_t>(unknown)] = x().numel() / known;
      } else if (known != x().numel()) {
        bad("to a shape that does not fit its input");
      }
      Plain out = x();
      out.dims = shape;
      return out;
    }

    Plain slice() const {
      const bool attrs = b.opset_ < 10;
      const std::vector<int64_t> starts = attrs ? b.ints(n, "starts", {}) : list(1);
      const std::vector<int64_t> ends = attrs ? b.ints(n, "ends", {}) : list(2);
      std::vector<int64_t> ax = attrs ? b.ints(n, "axes", {})
                                      : (in.size() > 3 && in[3] ? list(3) : std::vector<int64_t>());
      const std::vector<int64_t> steps = !attrs && in.size() > 4 && in[4]
                                             ? list(4)
                                             : std::vector<int64_t>(starts.size(), 1);
      if (ax.empty())
        for (size_t k = 0; k < starts.size(); ++k) ax.push_back(static_cast<int64_t>(k));
      if (ends.size() != starts.size() || ax.size() != starts.size() || steps.size() != starts.size())
        bad("with inconsistent starts, ends, axes and steps");
      Plain out = x();
      for (size_t k = 0; k < starts.size(); ++k) {  // ONNX's clamping, steps of either sign
        if (steps[k] == 0) bad("with step 0");
        const int64_t a = axis(ax[k], out.dims.size());
        const int64_t dim = out.dims[static_cast<size_t>(a)], step = steps[k];
        const auto clampi = [](int64_t v, int64_t lo, int64_t hi) { return std::min(std::max(v, lo), hi); };
        int64_t s = starts[k] < 0 ? clampi(starts[k], -dim, 0) + dim : starts[k];
        int64_t e = ends[k] < 0 ? clampi(ends[k], -dim - 1, 0) + dim : ends[k];
        std::vector<int64_t> idx;
        if (step > 0) {
          s = clampi(s, 0, dim);
          e = clampi(e, 0, dim);
          for (int64_t i = s; i < e; i += step) {
            idx.push_back(i);
            if (step > dim) break;
          }
        } else {
          s = clampi(s, 0, dim - 1);
          e = clampi(e, -1, dim - 1);
          for (int64_t i = s; i > e; i += step) {
            idx.push_back(i);
            if (step < -dim) break;
          }
        }
        std::vector<int64_t> dims = out.dims;
        dims[static_cast<size_t>(a)] = static_cast<int64_t>(idx.size());
        const std::vector<int64_t> from = strides_of(out.dims), to = strides_of(dims);
        out = remap(out, dims, [&](int64_t f) {
          int64_t src = 0;
          for (size_t d = 0; d < dims.size(); ++d) {
            const int64_t c = (f / to[d]) % dims[d];
            src += (static_cast<int64_t>(d) == a ? idx[static_cast<size_t>(c)] : c) * from[d];
          }
          return src;
        });
      }
      return out;
    }

    Plain transpose() const {
      const size_t r = x().dims.size();
      std::vector<int64_t> perm = b.ints(n, "perm", {});
      if (perm.empty())
        for (size_t d = r; d-- > 0;) perm.push_back(static_cast<int64_t>(d));
      std::vector<int64_t> sorted = perm;
      std::sort(sorted.begin(), sorted.end());
      for (size_t d = 0; d < sorted.size(); ++d)
        if (sorted.size() != r || sorted[d] != static_cast<int64_t>(d)) bad("with a bad permutation");
      std::vector<int64_t> dims(r);
      for (size_t d = 0; d < r; ++d) dims[d] = x().dims[static_cast<size_t>(perm[d])];
      const std::vector<int64_t> from = strides_of(x().dims), to = strides_of(dims);
      return remap(x(), dims, [&](int64_t f) {
        int64_t src = 0;
        for (size_t d = 0; d < r; ++d) src += ((f / to[d]) % dims[d]) * from[static_cast<size_t>(perm[d])];
        return src;
      });
    }

    Plain cast() const {
      using T = Plain::Type;
      const std::map<int64_t, T> kinds = {
          {1, T::Float}, {6, T::Int32}, {7, T::Int64}, {9, T::Bool}, {11, T::Double}};
      const int64_t to = b.integer(n, "to", 0);
      if (!kinds.count(to)) bad("to type " + std::to_string(to));
      Plain out;
      out.type = kinds.at(to);
      out.dims = x().dims;
      for (int64_t k = 0; k < x().numel(); ++k) {
        const double v = x().value(k);
        if (out.floating()) {
          out.f.push_back(static_cast<float>(v));
        } else if (out.type == T::Bool) {
          out.i.push_back(v != 0.0 ? 1 : 0);
        } else {
          if (!(std::fabs(v) < 9.2e18)) bad("of a value out of the integers' range");
          const auto w = static_cast<int64_t>(v);
          out.i.push_back(out.type == T::Int32 ? static_cast<int32_t>(w) : w);
        }
      }
      return out;
    }

    Plain unsqueeze() const {
      Plain out = x();
      std::vector<int64_t> ax = axes(1, "axes");
      if (ax.size() + out.dims.size() > kMaxRank) bad("to more than " + std::to_string(kMaxRank) + " dimensions");
      std::sort(ax.begin(), ax.end());
      for (int64_t a : ax) {
        const int64_t r = static_cast<int64_t>(out.dims.size()) + 1;
        if (a < -r || a >= r) bad("at axis " + std::to_string(a));
        out.dims.insert(out.dims.begin() + (a < 0 ? a + r : a), 1);
      }
      return out;
    }

    Plain squeeze() const {
      Plain out = x();
      std::vector<int64_t> ax = axes(1, "axes");
      if (ax.empty()) {
        out.dims.erase(std::remove(out.dims.begin(), out.dims.end(), 1), out.dims.end());
        return out;
      }
      for (int64_t& a : ax) a = axis(a, out.dims.size());
      std::sort(ax.rbegin(), ax.rend());
      ax.erase(std::unique(ax.begin(), ax.end()), ax.end());
      for (int64_t a : ax)
        if (out.dims[static_cast<size_t>(a)] == 1) out.dims.erase(out.dims.begin() + a);
      return out;
    }
  };

  void emit(const onnx::NodeProto& n, OnnxNode l, std::vector<int> inputs, bool module_op) {
    l.spec.name = node_name(n, module_op);
    l.spec.inputs = std::move(inputs);
    out_.nodes.push_back(std::move(l));
    env_[n.output(0)] = {true, static_cast<int>(out_.nodes.size()) - 1, {}};
  }

  static OnnxParam transposed(const OnnxParam& p) {  // a 2-D parameter, rows and columns swapped
    OnnxParam t = p;
    const int64_t r = p.dims[0], c = p.dims[1];
    t.dims = {c, r};
    for (int64_t i = 0; i < r; ++i)
      for (int64_t j = 0; j < c; ++j)
        t.values[static_cast<size_t>(j * r + i)] = p.values[static_cast<size_t>(i * c + j)];
    return t;
  }

  void node(const onnx::NodeProto& n) {
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
      env_[n.output(0)] = {false, -1, std::make_shared<const Plain>(to_plain(a->t(), where))};
      return;
    }
    if (fold(n, op, where)) return;
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
    } else if (op == "Gemm") {
      if (real(n, "alpha", 1.0) != 1.0 || real(n, "beta", 1.0) != 1.0 || integer(n, "transA", 0) != 0)
        unsupported("Gemm with alpha, beta or transA", where);
      s.kind = LayerKind::Linear;
      l.weight = param(n, 1, where, 2);
      if (integer(n, "transB", 0) == 0) l.weight = transposed(l.weight);
      l.bias = param(n, 2, where, 1, true);
      s.out_channels = l.weight.dims[0];
      s.in_channels = l.weight.dims[1];
      emit(n, std::move(l), {activation(n, 0, where)}, true);
    } else if (op == "MatMul") {
      s.kind = LayerKind::Linear;
      l.weight = transposed(param(n, 1, where, 2));
      s.out_channels = l.weight.dims[0];
      s.in_channels = l.weight.dims[1];
      emit(n, std::move(l), {activation(n, 0, where)}, true);
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
        std::vector<int64_t> axes = ints(n, "axes", {});
        if (axes.empty() && n.input_size() > 1) axes = int_list(n, 1, where);
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
  void add(const onnx::NodeProto& n, const std::string& where) {
    const Val a = value(n.input(0), where);
    const Val b = value(n.input(1), where);
    if (a.tensor && b.tensor) {
      OnnxNode l;
      l.spec.kind = LayerKind::Add;
      emit(n, std::move(l), {a.node, b.node}, false);
      return;
    }
    if (!a.tensor && !b.tensor) unsupported("Add of constants", where);
    const Val& t = a.tensor ? a : b;
    const int k = a.tensor ? 1 : 0;
    OnnxNode* d = t.node >= 0 ? &out_.nodes[static_cast<size_t>(t.node)] : nullptr;
    if (!d || d->spec.kind != LayerKind::Linear || d->bias.defined)
      unsupported("Add of a constant other than a dense layer's bias", where);
    OnnxParam bias = param(n, k, where, 1);
    if (bias.dims[0] != d->spec.out_channels)
      unsupported("Add of a constant other than a dense layer's bias", where);
    d->bias = std::move(bias);
    env_[n.output(0)] = t;
  }

  void pad(const onnx::NodeProto& n, const std::string& where) {
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
};

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
  return Builder(model, path).build();
}

}  // namespace lrpbench
