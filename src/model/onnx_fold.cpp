#include "model/onnx_builder.h"

namespace lrpbench {
namespace onnx_detail {

// Shape arithmetic on constants (torch's exporter computes Pad's amounts, chunk's bounds and
// the class token's expansion this way): an operation of kFoldable whose inputs are all
// constants becomes a constant of at most kMaxFolded values.
//
// The folding of one node: its operation on plain constants, ONNX's rules checked.
struct Builder::Folder {
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
    if (op == "Squeeze") return squeeze();
    if (op == "Gather") return gather();
    if (op == "Expand") return expand();
    if (op == "Where") return where();
    return arithmetic();
  }

  // NumPy's broadcasting of the inputs' shapes, and each output position's source in input k.
  std::vector<int64_t> broadcast_dims() const {
    std::vector<int64_t> dims;
    for (const PlainPtr& p : in) {
      if (!p) bad("without an input");
      if (p->dims.size() > dims.size()) dims.insert(dims.begin(), p->dims.size() - dims.size(), 1);
      for (size_t d = 0; d < p->dims.size(); ++d) {
        int64_t& o = dims[dims.size() - p->dims.size() + d];
        const int64_t v = p->dims[d];
        if (o == 1) o = v;
        else if (v != 1 && v != o) bad("of shapes that do not broadcast");
      }
    }
    if (count_of(dims) < 0 || count_of(dims) > kMaxFolded) bad("with a large result");
    return dims;
  }
  static int64_t source(const std::vector<int64_t>& dims, const std::vector<int64_t>& of, int64_t f) {
    const std::vector<int64_t> to = strides_of(dims), from = strides_of(of);
    const size_t lead = dims.size() - of.size();
    int64_t src = 0;
    for (size_t d = 0; d < of.size(); ++d) {
      const int64_t c = (f / to[lead + d]) % dims[lead + d];
      src += (of[d] == 1 ? 0 : c) * from[d];
    }
    return src;
  }

  // Add, Sub, Mul, Div, Equal of constants (integer division truncates, as ONNX's).
  Plain arithmetic() const {
    if (in.size() != 2 || !in[1]) bad("without two inputs");
    const Plain &a = *in[0], &c = *in[1];
    if (a.floating() != c.floating()) bad("of a float and an integer");
    const std::vector<int64_t> dims = broadcast_dims();
    Plain out;
    out.type = op == "Equal" ? Plain::Type::Bool : a.type;
    out.dims = dims;
    const int64_t n = count_of(dims);
    for (int64_t k = 0; k < n; ++k) {
      const int64_t i = source(dims, a.dims, k), j = source(dims, c.dims, k);
      if (a.floating()) {
        const float u = a.f[static_cast<size_t>(i)], v = c.f[static_cast<size_t>(j)];
        if (op == "Equal") out.i.push_back(u == v);
        else out.f.push_back(op == "Add" ? u + v : op == "Sub" ? u - v : op == "Mul" ? u * v : u / v);
      } else {
        const int64_t u = a.i[static_cast<size_t>(i)], v = c.i[static_cast<size_t>(j)];
        const auto big = [](int64_t w) { return w > (int64_t{1} << 31) || w < -(int64_t{1} << 31); };
        if (big(u) || big(v)) bad("of integers out of range");
        if (op == "Equal") out.i.push_back(u == v);
        else if (op == "Div" && v == 0) bad("by zero");
        else out.i.push_back(op == "Add" ? u + v : op == "Sub" ? u - v : op == "Mul" ? u * v : u / v);
      }
    }
    return out;
  }

  Plain where() const {
    if (in.size() != 3 || !in[1] || !in[2]) bad("without three inputs");
    if (in[0]->type != Plain::Type::Bool || in[1]->type != in[2]->type) bad("of mismatched types");
    const std::vector<int64_t> dims = broadcast_dims();
    Plain out;
    out.type = in[1]->type;
    out.dims = dims;
    const int64_t n = count_of(dims);
    for (int64_t k = 0; k < n; ++k) {
      const bool pick = in[0]->i[static_cast<size_t>(source(dims, in[0]->dims, k))] != 0;
      const Plain& s = pick ? *in[1] : *in[2];
      const auto at = static_cast<size_t>(source(dims, s.dims, k));
      if (s.floating()) out.f.push_back(s.f[at]);
      else out.i.push_back(s.i[at]);
    }
    return out;
  }

  Plain expand() const {
    const std::vector<int64_t> shape = list(1);
    for (int64_t d : shape)
      if (d < 1 || d > kMaxFolded) bad("to a bad shape");
    Plain target;
    target.type = x().type;
    target.dims = shape;
    const std::vector<PlainPtr> both = {in[0], std::make_shared<const Plain>(target)};
    const Folder pair{b, n, op, node, both};
    const std::vector<int64_t> dims = pair.broadcast_dims();
    return remap(x(), dims, [&](int64_t k) { return source(dims, x().dims, k); });
  }

  Plain gather() const {
    if (in.size() < 2 || !in[1] || in[1]->floating()) bad("without integer indices");
    if (x().dims.empty()) bad("of a scalar");
    const int64_t a = axis(b.integer(n, "axis", 0), x().dims.size());
    const int64_t size = x().dims[static_cast<size_t>(a)];
    const Plain& idx = *in[1];
    std::vector<int64_t> dims(x().dims.begin(), x().dims.begin() + a);
    dims.insert(dims.end(), idx.dims.begin(), idx.dims.end());
    dims.insert(dims.end(), x().dims.begin() + a + 1, x().dims.end());
    if (dims.size() > kMaxRank || count_of(dims) < 0 || count_of(dims) > kMaxFolded) bad("with a large result");
    int64_t inner = 1;
    for (size_t d = static_cast<size_t>(a) + 1; d < x().dims.size(); ++d) inner *= x().dims[d];
    const int64_t count = idx.numel();
    return remap(x(), dims, [&](int64_t f) {
      const int64_t o = f / (count * inner), r = f % (count * inner);
      int64_t i = idx.i[static_cast<size_t>(r / inner)];
      if (i < -size || i >= size) bad("of index " + std::to_string(i) + " out of range");
      if (i < 0) i += size;
      return (o * size + i) * inner + r % inner;
    });
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
    const int64_t r = static_cast<int64_t>(out.dims.size() + ax.size());  // ONNX: the output's axes
    for (int64_t& a : ax) {
      if (a < -r || a >= r) bad("at axis " + std::to_string(a));
      if (a < 0) a += r;
    }
    std::sort(ax.begin(), ax.end());
    if (std::adjacent_find(ax.begin(), ax.end()) != ax.end()) bad("at an axis named twice");
    for (int64_t a : ax) out.dims.insert(out.dims.begin() + a, 1);
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


bool Builder::fold(const onnx::NodeProto& n, const std::string& op, const std::string& node) {
  static const std::set<std::string> kFoldable = {
      "ConstantOfShape", "Concat", "Reshape", "Slice", "Transpose", "Cast",  "Unsqueeze",
      "Squeeze",         "Gather", "Expand",  "Where", "Add",       "Sub",   "Mul",
      "Div",             "Equal"};
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
  env_[n.output(0)] = Val::of_constant(std::make_shared<const Plain>(std::move(out)));
  return true;
}

}  // namespace onnx_detail
}  // namespace lrpbench
