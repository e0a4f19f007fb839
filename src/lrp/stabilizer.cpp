#include "lrp/stabilizer.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

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

}  // namespace

at::Tensor stabilized_divide(const at::Tensor& r, const at::Tensor& z, double eps, Stabilizer s) {
  if (s != Stabilizer::Quadratic && r.device().is_cpu() && z.device().is_cpu() &&
      r.scalar_type() == at::kFloat && z.scalar_type() == at::kFloat && r.sizes() == z.sizes())
    return divide_cpu_float(r, z, eps, s);
  const at::Tensor d = stabilize(z, eps, s);
  if (s != Stabilizer::None) return r / d;
  return at::where(d == 0, at::zeros({}, r.options()), r / d);
}

}  // namespace lrpbench
