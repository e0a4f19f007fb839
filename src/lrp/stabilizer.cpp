#include "lrp/stabilizer.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <atomic>
#include <algorithm>
#include <initializer_list>
#include <type_traits>

namespace lrpbench {
namespace {

// z + (sign(z) + (z == 0)) * eps
at::Tensor sign_shift(const at::Tensor& z, double eps) {
  return at::where(z >= 0, z + eps, z - eps);
}

}  // namespace


at::Tensor stabilize(const at::Tensor& z, double eps, Stabilizer s) {
  switch (s) {
    case Stabilizer::Sign:
      return sign_shift(z, eps);
    case Stabilizer::Vanilla:
      return z + eps;
    case Stabilizer::Quadratic: {
      std::vector<int64_t> shape(static_cast<size_t>(z.dim()), 1);
      shape[0] = z.size(0);
      const at::Tensor rms = z.reshape({z.size(0), -1}).pow(2).mean(1).sqrt().view(shape);
      return z + rms * eps + 1e-9;
    }
    case Stabilizer::Reference:
      return sign_shift(z + eps, 1e-6);
    case Stabilizer::None:
      return z;
  }
  return z;
}

namespace {

// r / stab(d) for one element (as the tensor expression computes it), one type per
// stabilizer so that the loops below compile without a branch on the stabilizer inside.
template <Stabilizer S>
inline float quotient(float r, float d, float eps) {
  if constexpr (S == Stabilizer::Sign) return r / (d + (d >= 0 ? eps : -eps));
  if constexpr (S == Stabilizer::Vanilla) return r / (d + eps);
  if constexpr (S == Stabilizer::Reference) {
    const float e = d + eps;
    return r / (e + (e >= 0 ? 1e-6f : -1e-6f));
  }
  return d == 0 ? 0.0f : r / d;  // None
}

// Calls f.template operator()<S>() for the runtime stabilizer s (not Quadratic).
template <typename F>
void with_stabilizer(Stabilizer s, F&& f) {
  switch (s) {
    case Stabilizer::Sign:
      return f(std::integral_constant<Stabilizer, Stabilizer::Sign>());
    case Stabilizer::Vanilla:
      return f(std::integral_constant<Stabilizer, Stabilizer::Vanilla>());
    case Stabilizer::Reference:
      return f(std::integral_constant<Stabilizer, Stabilizer::Reference>());
    default:
      return f(std::integral_constant<Stabilizer, Stabilizer::None>());
  }
}

bool fused_cpu_float(std::initializer_list<const at::Tensor*> ts) {
  const at::Tensor& first = **ts.begin();
  for (const at::Tensor* t : ts)
    if (!t->device().is_cpu() || t->scalar_type() != at::kFloat || t->sizes() != first.sizes())
      return false;
  return true;
}

// Which row of a gathered operand row i of the result reads: map[i], or i itself.
struct RowMap {
  const int64_t* map = nullptr;
  int64_t source(int64_t row) const { return map ? map[row] : row; }
};

// Runs f(offset, source_offset, count) over the flat indices [begin, end) of a tensor with
// `per` values a row, split at row boundaries; source_offset is where the same value of the
// row's source row lies. Without a map: one span, the source offset the offset itself.
template <typename F>
void for_row_spans(int64_t begin, int64_t end, int64_t per, RowMap rows, F&& f) {
  if (!rows.map) {
    if (begin < end) f(begin, begin, end - begin);
    return;
  }
  while (begin < end) {
    const int64_t row = begin / per, j = begin % per;
    const int64_t n = std::min(end - begin, per - j);
    f(begin, rows.source(row) * per + j, n);
    begin += n;
  }
}

// Fused CPU kernel for float32: one pass instead of the four temporaries of the tensor
// expression (which cost ~40x a plain division on large layers). rc and zc in one layout,
// rows of zc read through `rows`; out like rc.
at::Tensor divide_rows(const at::Tensor& rc, const at::Tensor& zc, double eps_d, Stabilizer s,
                       RowMap rows, at::Tensor out) {
  const float* rp = rc.data_ptr<float>();
  const float* zp = zc.data_ptr<float>();
  float* op = out.data_ptr<float>();
  const float eps = static_cast<float>(eps_d);
  const int64_t per = rc.numel() / std::max<int64_t>(1, rc.size(0));
  with_stabilizer(s, [&](auto st) {
    constexpr Stabilizer S = decltype(st)::value;
    at::parallel_for(0, rc.numel(), 1 << 15, [&](int64_t begin, int64_t end) {
      for_row_spans(begin, end, per, rows, [&](int64_t o, int64_t zo, int64_t n) {
        const float* __restrict ri = rp + o;
        const float* __restrict zi = zp + zo;
        float* __restrict oi = op + o;
        for (int64_t i = 0; i < n; ++i) oi[i] = quotient<S>(ri[i], zi[i], eps);
      });
    });
  });
  return out;
}

at::Tensor divide_cpu_float(const at::Tensor& r, const at::Tensor& z, double eps_d, Stabilizer s) {
  // Both in z's memory layout (channels-last convs give channels-last tensors).
  const auto fmt = z.suggest_memory_format();
  const at::Tensor rc = r.contiguous(fmt), zc = z.contiguous(fmt);
  return divide_rows(rc, zc, eps_d, s, {}, at::empty_like(zc));
}

// Whether `rows` can stand for x.index_select(0, rows) in a fused kernel over r: CPU float
// tensors with as many values a row, and `rows` a CPU int64 vector with one entry per row of
// r. (The gathered copy would be contiguous: the kernels read x.contiguous() through it.)
bool rows_readable(const at::Tensor& r, const at::Tensor& x, const at::Tensor& rows) {
  return rows.defined() && rows.device().is_cpu() && rows.scalar_type() == at::kLong &&
         rows.dim() == 1 && rows.is_contiguous() && r.dim() >= 1 && x.dim() >= 1 &&
         rows.size(0) == r.size(0) && r.size(0) > 0 && x.size(0) > 0 && r.device().is_cpu() &&
         x.device().is_cpu() && r.scalar_type() == at::kFloat &&
         x.scalar_type() == at::kFloat && r.numel() / r.size(0) == x.numel() / x.size(0);
}

}  // namespace

at::Tensor gamma_quotients(const at::Tensor& r, const at::Tensor& z_in, const at::Tensor& pz_in,
                           double g, double eps_d, Stabilizer s, const at::Tensor& rows_in) {
  const bool mapped = rows_readable(r, z_in, rows_in) && rows_readable(r, pz_in, rows_in);
  if (rows_in.defined() && !mapped)  // the gathered copies, read as they are
    return gamma_quotients(r, gather_rows(z_in, rows_in).reshape(r.sizes()),
                           gather_rows(pz_in, rows_in).reshape(r.sizes()), g, eps_d, s);
  // From here rows_in is defined only where the kernel can read through it.
  if (s == Stabilizer::Quadratic || !(mapped || fused_cpu_float({&r, &z_in, &pz_in}))) {
    const at::Tensor zr = gather_rows(z_in, rows_in).reshape(r.sizes());
    const at::Tensor pr = gather_rows(pz_in, rows_in).reshape(r.sizes());
    const at::Tensor zero = at::zeros({}, r.options());
    return at::stack({stabilized_divide(at::where(zr > 0, r, zero), zr + pr * g, eps_d, s),
                      stabilized_divide(at::where(zr < 0, r, zero), zr + (zr - pr) * g, eps_d, s)},
                     1);
  }
  const RowMap rows{mapped ? rows_in.data_ptr<int64_t>() : nullptr};
  const at::Tensor rc = r.contiguous(), zc = z_in.contiguous(), pc = pz_in.contiguous();
  std::vector<int64_t> shape = r.sizes().vec();
  shape.insert(shape.begin() + 1, 2);
  at::Tensor q = at::empty(shape, r.options());
  const int64_t per = r.numel() / std::max<int64_t>(1, r.size(0));  // elements per row
  const float* rp = rc.data_ptr<float>();
  const float* zp = zc.data_ptr<float>();
  const float* pp = pc.data_ptr<float>();
  float* qp = q.data_ptr<float>();
  const float eps = static_cast<float>(eps_d), gf = static_cast<float>(g);
  with_stabilizer(s, [&](auto st) {
    constexpr Stabilizer S = decltype(st)::value;
    at::parallel_for(0, r.size(0) * 2, 1, [&](int64_t begin, int64_t end) {
      for (int64_t k = begin; k < end; ++k) {  // k = 2 row + sign
        const int64_t src = rows.source(k / 2) * per;
        const float* __restrict zi = zp + src;
        const float* __restrict ri = rp + (k / 2) * per;
        const float* __restrict pi = pp + src;
        float* __restrict out = qp + k * per;
        // Unconditional loads and selects: the loops vectorise.
        if (k % 2 == 0)
          for (int64_t i = 0; i < per; ++i) {
            const float zv = zi[i], rv = ri[i], pv = pi[i];
            out[i] = quotient<S>(zv > 0 ? rv : 0.0f, zv + pv * gf, eps);
          }
        else
          for (int64_t i = 0; i < per; ++i) {
            const float zv = zi[i], rv = ri[i], pv = pi[i];
            out[i] = quotient<S>(zv < 0 ? rv : 0.0f, zv + (zv - pv) * gf, eps);
          }
      }
    });
  });
  return q;
}

bool relevance_on_nonpositive(const at::Tensor& r, const at::Tensor& z_in,
                              const at::Tensor& rows_in) {
  const bool mapped = rows_readable(r, z_in, rows_in);
  if (rows_in.defined() && !mapped)  // the gathered copy, read as it is
    return relevance_on_nonpositive(r, gather_rows(z_in, rows_in).reshape(r.sizes()));
  if (!(mapped || fused_cpu_float({&r, &z_in})))
    return ((z_in <= 0) & (r != 0)).any().item<bool>();
  // Where the values lie does not matter to the answer: both are read in one layout.
  const auto fmt = mapped ? at::MemoryFormat::Contiguous : z_in.suggest_memory_format();
  const at::Tensor rc = r.contiguous(fmt), zc = z_in.contiguous(fmt);
  const float* rp = rc.data_ptr<float>();
  const float* zp = zc.data_ptr<float>();
  const RowMap rows{mapped ? rows_in.data_ptr<int64_t>() : nullptr};
  const int64_t per = rc.numel() / std::max<int64_t>(1, rc.size(0));
  std::atomic<bool> found{false};
  at::parallel_for(0, rc.numel(), 1 << 15, [&](int64_t begin, int64_t end) {
    constexpr int64_t kBlock = 4096;  // branch-free blocks, one check each
    for (int64_t b = begin; b < end && !found.load(std::memory_order_relaxed); b += kBlock) {
      int hit = 0;
      for_row_spans(b, std::min(end, b + kBlock), per, rows, [&](int64_t o, int64_t zo, int64_t n) {
        const float* __restrict zi = zp + zo;
        const float* __restrict ri = rp + o;
        int h = 0;  // a local: the loop vectorises
        for (int64_t i = 0; i < n; ++i) h |= (zi[i] <= 0) & (ri[i] != 0);
        hit |= h;
      });
      if (hit) found = true;
    }
  });
  return found;
}

at::Tensor stabilized_divide(const at::Tensor& r, const at::Tensor& z, double eps, Stabilizer s) {
  if (s != Stabilizer::Quadratic && r.device().is_cpu() && z.device().is_cpu() &&
      r.scalar_type() == at::kFloat && z.scalar_type() == at::kFloat && r.sizes() == z.sizes())
    return divide_cpu_float(r, z, eps, s);
  const at::Tensor d = stabilize(z, eps, s);
  if (s != Stabilizer::None) return r / d;
  return at::where(d == 0, at::zeros({}, r.options()), r / d);
}

at::Tensor stabilized_divide(const at::Tensor& r, const at::Tensor& z, double eps, Stabilizer s,
                             const at::Tensor& rows) {
  // The gathered copy is contiguous, so is what the kernel gives for it.
  if (s != Stabilizer::Quadratic && rows_readable(r, z, rows) &&
      r.sizes().slice(1) == z.sizes().slice(1))
    return divide_rows(r.contiguous(), z.contiguous(), eps, s,
                       RowMap{rows.data_ptr<int64_t>()}, at::empty(r.sizes(), r.options()));
  return stabilized_divide(r, gather_rows(z, rows), eps, s);
}

at::Tensor mul_rows_(at::Tensor t, const at::Tensor& x, const at::Tensor& rows) {
  if (!rows_readable(t, x, rows) || !t.is_contiguous() || t.sizes().slice(1) != x.sizes().slice(1))
    return t.mul_(gather_rows(x, rows));
  const at::Tensor xc = x.contiguous();
  float* tp = t.data_ptr<float>();
  const float* xp = xc.data_ptr<float>();
  const RowMap map{rows.data_ptr<int64_t>()};
  const int64_t per = t.numel() / t.size(0);
  at::parallel_for(0, t.numel(), 1 << 15, [&](int64_t begin, int64_t end) {
    for_row_spans(begin, end, per, map, [&](int64_t o, int64_t xo, int64_t n) {
      float* __restrict ti = tp + o;
      const float* __restrict xi = xp + xo;
      for (int64_t i = 0; i < n; ++i) ti[i] *= xi[i];
    });
  });
  return t;
}

at::Tensor gather_rows(const at::Tensor& t, const at::Tensor& rows) {
  return rows.defined() ? t.index_select(0, rows) : t;
}

}  // namespace lrpbench
