#pragma once
// The ONNX reader's builder (internal to model/onnx_spec.cpp, onnx_fold.cpp and
// onnx_tokens.cpp): the graph's values as constants (Plain) or activations (Val), and the
// Builder that walks the nodes in order, folding constant subgraphs and mapping operations
// (and decomposed patterns of them) to the network's nodes.
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <unordered_map>

#include "model/onnx_spec.h"
#include "model/shape.h"
#include "util/error.h"

namespace lrpbench {
namespace onnx_detail {

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

inline int64_t count_of(const std::vector<int64_t>& dims) {
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

inline std::vector<int64_t> strides_of(const std::vector<int64_t>& dims) {
  std::vector<int64_t> s(dims.size(), 1);
  for (size_t d = dims.size(); d-- > 1;) s[d - 1] = s[d] * dims[d];
  return s;
}

inline std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A 2-D parameter with rows and columns swapped.
inline OnnxParam transposed(const OnnxParam& p) {
  OnnxParam t = p;
  const int64_t r = p.dims[0], c = p.dims[1];
  t.dims = {c, r};
  for (int64_t i = 0; i < r; ++i)
    for (int64_t j = 0; j < c; ++j)
      t.values[static_cast<size_t>(j * r + i)] = p.values[static_cast<size_t>(i * c + j)];
  return t;
}

// What a value of the ONNX graph stands for.
struct Val {
  static Val of_node(int node) {
    Val v;
    v.tensor = true;
    v.node = node;
    return v;
  }
  static Val of_constant(PlainPtr c) {
    Val v;
    v.constant = std::move(c);
    return v;
  }
  bool tensor = false;  // an activation: the node producing it
  int node = -1;        // -1: the network's input
  PlainPtr constant;    // an initializer or a computed constant
  // How an activation's layout relates to its node's output as the network holds it
  // (B x C x H x W, B x F or B x T x D; B: the input's declared batch, 1 where free).
  enum class Form {
    Plain,          // that output itself
    SeqFirst,       // tokens, token-major: T x B x D (inside torch's nn.MultiheadAttention)
    RowsTB,         // tokens as rows, token-major: (T B) x D
    RowsBT,         // tokens as rows, batch-major: (B T) x D
    ChannelTokens,  // a map with its pixels flattened: B x C x (H W), before the transpose
    ChannelsLast,   // a map's pixels as tokens, channels last: B x H x W x C (ConvNeXt's blocks)
    Pattern,        // a step of a decomposed LayerNorm, GELU or attention (`pattern`)
  } form = Form::Plain;
  std::shared_ptr<const struct Pattern> pattern;
};

// A step of a decomposed operation, while the builder walks it (onnx_tokens.cpp).
// LayerNorm: ReduceMean(x) -> Sub(x, mean) -> Pow(., 2) -> ReduceMean -> Add(eps) -> Sqrt ->
// Div(centered, std). GELU: Div(x, sqrt 2) -> Erf -> Add(1) -> Mul(x, .) -> Mul(0.5).
// Attention: slices q, k, v of a packed projection, their reshapes and transposes, the scale,
// q k^T, Softmax, and the product with v, until the heads merge back into tokens.
struct Pattern {
  enum class Step {
    LnMean, LnCentered, LnSquare, LnVar, LnVarEps, LnStd,
    GeluDiv, GeluErf, GeluErfPlus1, GeluProduct,
    Q, K, V, Scores, Probs, Out,
  } step;
  Val x;                  // LayerNorm, GELU: the value the pattern started from
  std::string x_name;     // its name in the file
  std::string centered;   // LayerNorm: the name of x - mean
  double eps = 0.0;
  // Attention: the packed projection's node, the parts' axes (each a string of
  // atoms: T query tokens, S key tokens, B batch, H heads, h head width, D = H h), their
  // sizes in the file, the scale so far and the head count (0 until a reshape splits D).
  int proj = -1;
  std::vector<std::string> axes;
  std::vector<int64_t> dims;
  double scale = 1.0;
  int64_t heads = 0;
  int64_t tokens = 0, width = 0;  // T and D
};
using PatternPtr = std::shared_ptr<const Pattern>;


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
      env_[init.name()] = Val::of_constant(std::make_shared<const Plain>(to_plain(init)));
    int images = 0;
    for (const auto& in : g.input()) {
      if (env_.count(in.name())) continue;
      ++images;
      env_[in.name()] = Val::of_node(-1);
      input_shape(in);
    }
    require(images == 1, file_ + ": the graph has " + std::to_string(images) +
                             " inputs; a classifier takes one image tensor");
    for (const auto& n : g.node())
      for (const std::string& i : n.input()) ++uses_[i];
    for (const auto& o : g.output()) ++uses_[o.name()];
    for (const auto& n : g.node()) node(n);
    require(g.output_size() == 1, file_ + ": the graph has " + std::to_string(g.output_size()) +
                                      " outputs, not one of logits");
    auto it = env_.find(g.output(0).name());
    require(it != env_.end() && it->second.tensor && it->second.node >= 0,
            file_ + ": the graph's output is not computed from its input");
    require(it->second.node == static_cast<int>(out_.nodes.size()) - 1,
            file_ + ": the graph's output is not its last operation");
    require(it->second.form == Val::Form::Plain,
            file_ + ": the graph's output is not a batch of logits (a token or partial tensor)");
    const std::vector<NodeSpec> all = specs();
    for (size_t i = 0; i < all.size(); ++i) out_.nodes[i].spec = all[i];  // parameter shapes
    check_nodes(all, file_);
    return std::move(out_);
  }

 private:
  const onnx::ModelProto& m_;
  std::string file_;
  int64_t opset_ = 0;
  OnnxGraph out_;
  std::unordered_map<std::string, Val> env_;
  std::map<std::string, int> op_count_;
  int64_t batch_ = 1;                       // the input's declared batch (1 where free)
  std::unordered_map<std::string, int> uses_;  // how many nodes (and outputs) read each value
  GraphShapes shapes_;            // the nodes' outputs for one image, as far as inferred
  std::vector<NodeSpec> checked_;  // the specs shapes_ was inferred from
  // Reads of each node's value in the file, through every name bound to it (an alias such as
  // a same-shape Reshape passes its reads on): a fold into a node needs it read once.
  std::unordered_map<int, int> node_reads_;

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
    const auto fill = [&](auto& values, const auto& field) {  // raw bytes or the typed field
      values.resize(static_cast<size_t>(n));
      if (!raw.empty())
        std::memcpy(values.data(), raw.data(), raw.size());
      else
        std::copy(field.begin(), field.end(), values.begin());
    };
    out.type = is_float ? Plain::Type::Float : Plain::Type::Int64;
    if (is_float)
      fill(out.f, t.float_data());
    else
      fill(out.i, t.int64_data());
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
    if (d[0].has_dim_value() && d[0].dim_value() >= 1 && d[0].dim_value() <= 1024)
      batch_ = d[0].dim_value();
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
  // What a value in a form other than Plain is, for messages.
  static std::string form_text(const Val& v);
  int activation(const onnx::NodeProto& n, int k, const std::string& node) const {
    if (k >= n.input_size() || n.input(k).empty()) unsupported(n.op_type() + " without input", node);
    const Val& v = value(n.input(k), node);
    if (!v.tensor) unsupported(n.op_type() + " on a constant", node);
    if (v.form != Val::Form::Plain) unsupported(n.op_type() + " on " + form_text(v), node);
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
  // read); unknown operations are refused by name later (onnx_spec.cpp).
  void check_arity(const onnx::NodeProto& n, const std::string& node) const;
  // Shape arithmetic on constants (onnx_fold.cpp): whether node `n` had only constant inputs
  // and became a constant.
  bool fold(const onnx::NodeProto& n, const std::string& op, const std::string& node);
  struct Folder;
  void emit(const onnx::NodeProto& n, OnnxNode l, std::vector<int> inputs, bool module_op);
  // A Gemm's or MatMul's dense layer (weight out x in, Gemm's bias), its input not yet linked.
  OnnxNode dense(const onnx::NodeProto& n, const std::string& op, const std::string& where) const;
  // ReduceMean's axes: the attribute, else the second input.
  std::vector<int64_t> reduce_axes(const onnx::NodeProto& n, const std::string& where) const;
  void node(const onnx::NodeProto& n);
  void add(const onnx::NodeProto& n, const std::string& where);
  void pad(const onnx::NodeProto& n, const std::string& where);

  // Transformers and decomposed operations (onnx_tokens.cpp). Each returns whether it took
  // the node.
  bool token_node(const onnx::NodeProto& n, const std::string& op, const std::string& where);
  // The specs of the nodes so far, parameter shapes filled in.
  std::vector<NodeSpec> specs() const;
  NodeSpec spec_of(const OnnxNode& n) const;
  // A node's output for one image (-1: the input); needs a fixed input size.
  ActShape shape_of_node(int node, const std::string& where);
  // The height and width of the map whose pixels a ChannelsLast value's node holds as tokens.
  std::array<int64_t, 2> map_size(int node, const std::string& where);
  // An activation's dimensions in the file (the batch as declared).
  std::vector<int64_t> dims_of(const Val& v, const std::string& where);
  // Binds node n's output to `v`, counting the reads of v's node (node_reads_).
  void bind(const onnx::NodeProto& n, Val v);
  // Whether the activation's node is read once in the file (so a fold into it is exact).
  bool read_once(const Val& v) const {
    auto it = node_reads_.find(v.node);
    return v.node >= 0 && it != node_reads_.end() && it->second == 1;
  }
  int emit_node(const onnx::NodeProto& n, OnnxNode l, std::vector<int> inputs, bool module_op,
                Val::Form form);
  bool tokens_ops(const onnx::NodeProto& n, const std::string& op, const std::string& where);
  bool layer_norm_steps(const onnx::NodeProto& n, const std::string& op, const std::string& where);
  bool gelu_steps(const onnx::NodeProto& n, const std::string& op, const std::string& where);
  bool attention_steps(const onnx::NodeProto& n, const std::string& op, const std::string& where);
  bool elementwise(const onnx::NodeProto& n, const std::string& op, const std::string& where);
  void emit_norm(const onnx::NodeProto& n, const Val& x, OnnxParam weight, OnnxParam bias,
                 double eps, const std::string& where);
  void emit_attention(const onnx::NodeProto& n, const Pattern& out, Val::Form form);
  // A pattern's step as a value (its node: the projection's for attention, else x's), and
  // node n's output bound to `p` advanced to `step` (returns true: the node is taken).
  Val part(const Pattern& p) const;
  bool step_to(const onnx::NodeProto& n, Pattern p, Pattern::Step step);
  static Pattern single_head(const Pattern& p);
  bool attention_product(const onnx::NodeProto& n, const Pattern& p, const Pattern& r,
                         const std::string& where);
  int uses(const std::string& name) const {
    auto it = uses_.find(name);
    return it == uses_.end() ? 0 : it->second;
  }
};

}  // namespace onnx_detail
}  // namespace lrpbench
