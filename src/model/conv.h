#pragma once
// The one 2-D convolution every forward-direction conv of lrpbench goes through (the network's
// forward pass and the LRP rules' z = x W + b and flipped-kernel transposes).
//
// Contract: each image's output depends on that image alone, bit for bit: not on the other
// images of the batch, the batch size or the thread count. LibTorch's at::conv2d does not
// promise this on the CPU: it picks the oneDNN kernel for batches of 2 or more and its own
// im2col + GEMM kernel for one small image, and the two round differently. Values that are
// equal in exact arithmetic (the flat backgrounds of Fashion-MNIST, every inpainted region)
// then tie in one batch and not in another, a max-pool picks another arg-max, and relevance
// moves to another pixel. On CPU float tensors outside autograd the convolution therefore
// always runs on oneDNN (whose result for one image is the same in every batch); elsewhere
// (CUDA, other dtypes, a graph that records gradients, a build without oneDNN) it is
// at::conv2d.
//
// x: N x C x H x W; w: O x C/groups x kh x kw; b: O or undefined. Returns N x O x H' x W'.
#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>

namespace lrpbench {

at::Tensor conv2d_batch_invariant(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b,
                                  std::array<int64_t, 2> stride, std::array<int64_t, 2> padding,
                                  std::array<int64_t, 2> dilation = {1, 1}, int64_t groups = 1);

// Whether conv2d_batch_invariant() takes the batch-invariant oneDNN path for these operands.
bool conv2d_is_batch_invariant(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b);

// While one lives (in any thread), conv2d_batch_invariant() is plain at::conv2d: the baseline
// `bench explain` measures what batch invariance costs against. Nothing else uses it.
class LibTorchConvolutionScope {
 public:
  LibTorchConvolutionScope();
  ~LibTorchConvolutionScope();
  LibTorchConvolutionScope(const LibTorchConvolutionScope&) = delete;
  LibTorchConvolutionScope& operator=(const LibTorchConvolutionScope&) = delete;
};

}  // namespace lrpbench
