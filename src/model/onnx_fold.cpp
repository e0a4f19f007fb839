#include "model/onnx_builder.h"

namespace lrpbench {
namespace onnx_detail {

  // Shape arithmetic on constants (torch's exporter computes Pad's amounts this way):
  // ConstantOfShape, Concat, Reshape, Slice, Transpose, Cast, Unsqueeze, Squeeze whose
  // inputs are all constants become a constant of at most kMaxFolded values.
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


bool Builder::fold(const onnx::NodeProto& n, const std::string& op, const std::string& node) {
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

}  // namespace onnx_detail
}  // namespace lrpbench
