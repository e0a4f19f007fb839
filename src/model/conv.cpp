#include "model/conv.h"

#include <ATen/Context.h>
#include <ATen/ops/conv2d.h>
#include <ATen/ops/mkldnn_convolution.h>
#include <c10/core/GradMode.h>

#include <atomic>

namespace lrpbench {

namespace {

std::atomic<int> libtorch_scopes{0};  // LibTorchConvolutionScope objects alive

bool records_gradient(const at::Tensor& t) {
  return t.defined() && t.requires_grad();
}

// Operands at::conv2d accepts (anything else goes there for its error message).
bool well_formed(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b,
                 std::array<int64_t, 2> stride, std::array<int64_t, 2> padding,
                 std::array<int64_t, 2> dilation, int64_t groups) {
  if (x.dim() != 4 || w.dim() != 4 || groups < 1 || w.size(0) % groups != 0 ||
      x.size(1) != w.size(1) * groups || (b.defined() && (b.dim() != 1 || b.size(0) != w.size(0))))
    return false;
  for (int d = 0; d < 2; ++d) {
    if (stride[d] < 1 || padding[d] < 0 || dilation[d] < 1) return false;
    if (x.size(2 + d) + 2 * padding[d] < dilation[d] * (w.size(2 + d) - 1) + 1) return false;
  }
  return true;
}

}  // namespace

LibTorchConvolutionScope::LibTorchConvolutionScope() { ++libtorch_scopes; }
LibTorchConvolutionScope::~LibTorchConvolutionScope() { --libtorch_scopes; }

bool conv2d_is_batch_invariant(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
  if (libtorch_scopes.load() > 0) return false;
  if (!at::hasMKLDNN() || !x.device().is_cpu() || x.dim() != 4) return false;
  if (x.scalar_type() != at::kFloat || w.scalar_type() != at::kFloat) return false;
  if (b.defined() && b.scalar_type() != at::kFloat) return false;
  if (x.is_mkldnn() || w.is_mkldnn()) return false;
  return !(c10::GradMode::is_enabled() &&
           (records_gradient(x) || records_gradient(w) || records_gradient(b)));
}

at::Tensor conv2d_batch_invariant(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b,
                                  std::array<int64_t, 2> stride, std::array<int64_t, 2> padding,
                                  std::array<int64_t, 2> dilation, int64_t groups) {
  if (conv2d_is_batch_invariant(x, w, b) &&
      well_formed(x, w, b, stride, padding, dilation, groups) && x.numel() > 0)
    return at::mkldnn_convolution(x, w, b.defined() ? c10::optional<at::Tensor>(b) : c10::nullopt,
                                  padding, stride, dilation, groups);
  return at::conv2d(x, w, b, stride, padding, dilation, groups);
}

}  // namespace lrpbench
