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

// Fused CPU kernel for float32: one pass instead of the four temporaries of the tensor
// expression (which cost ~40x a plain division on large layers).
at::Tensor divide_cpu_float(const at::Tensor& r, const at::Tensor& z, double eps_d, Stabilizer s) {
  // Both in z's memory layout (channels-last convs give channels-last tensors).
  const auto fmt = z.suggest_memory_format();
  const at::Tensor rc = r.contiguous(fmt), zc = z.contiguous(fmt);
  at::Tensor out = at::empty_like(zc);
  const float* rp = rc.data_ptr<float>();
  const float* zp = zc.data_ptr<float>();
  float* op = out.data_ptr<float>();
  const float eps = static_cast<float>(eps_d);
  at::parallel_for(0, rc.numel(), 1 << 15, [&](int64_t begin, int64_t end) {
    switch (s) {
      case Stabilizer::Sign:
        for (int64_t i = begin; i < end; ++i) op[i] = rp[i] / (zp[i] + (zp[i] >= 0 ? eps : -eps));
        break;
      case Stabilizer::Vanilla:
        for (int64_t i = begin; i < end; ++i) op[i] = rp[i] / (zp[i] + eps);
        break;
      case Stabilizer::Reference:
        for (int64_t i = begin; i < end; ++i) {
          const float d = zp[i] + eps;
          op[i] = rp[i] / (d + (d >= 0 ? 1e-6f : -1e-6f));
        }
        break;
      default:  // None
        for (int64_t i = begin; i < end; ++i) op[i] = zp[i] == 0 ? 0.0f : rp[i] / zp[i];
        break;
    }
  });
  return out;
}

// r / stab(d) for one element (as divide_cpu_float computes it), one type per stabilizer so
// that the loops below compile without a branch on the stabilizer inside.
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

}  // namespace

at::Tensor gamma_quotients(const at::Tensor& r, const at::Tensor& z, const at::Tensor& pz,
                           double g, double eps_d, Stabilizer s) {
  if (s == Stabilizer::Quadratic || !fused_cpu_float({&r, &z, &pz})) {
    const at::Tensor zero = at::zeros({}, r.options());
    return at::stack({stabilized_divide(at::where(z > 0, r, zero), z + pz * g, eps_d, s),
                      stabilized_divide(at::where(z < 0, r, zero), z + (z - pz) * g, eps_d, s)},
                     1);
  }
  const at::Tensor rc = r.contiguous(), zc = z.contiguous(), pc = pz.contiguous();
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
        const int64_t off = (k / 2) * per;
        const float* __restrict zi = zp + off;
        const float* __restrict ri = rp + off;
        const float* __restrict pi = pp + off;
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

bool relevance_on_nonpositive(const at::Tensor& r, const at::Tensor& z) {
  if (!fused_cpu_float({&r, &z})) return ((z <= 0) & (r != 0)).any().item<bool>();
  const auto fmt = z.suggest_memory_format();
  const at::Tensor rc = r.contiguous(fmt), zc = z.contiguous(fmt);
  const float* rp = rc.data_ptr<float>();
  const float* zp = zc.data_ptr<float>();
  std::atomic<bool> found{false};
  at::parallel_for(0, rc.numel(), 1 << 15, [&](int64_t begin, int64_t end) {
    constexpr int64_t kBlock = 4096;  // branch-free blocks, one check each
    for (int64_t b = begin; b < end && !found.load(std::memory_order_relaxed); b += kBlock) {
      int hit = 0;
      for (int64_t i = b, e = std::min(end, b + kBlock); i < e; ++i)
        hit |= (zp[i] <= 0) & (rp[i] != 0);
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

}  // namespace lrpbench
