#pragma once
// Stabilizers of the LRP denominator (docs/method.md section 1, "Stabilizers").
#include <ATen/core/Tensor.h>

#include <string>
#include <utility>
#include <vector>

#include "lrp/stabilizer_kind.h"

namespace lrpbench {


// The stabilised denominator. For `quadratic`, the mean runs over each sample (dim 0 is
// the batch), so batching never changes a result.
at::Tensor stabilize(const at::Tensor& z, double eps, Stabilizer s);
// R / stabilize(z): with `none`, 0/0 := 0.
at::Tensor stabilized_divide(const at::Tensor& r, const at::Tensor& z, double eps, Stabilizer s);

// The generalised gamma's quotients for inputs x >= 0, from the plain output z = W x + b and
// pz = W+ x + b+ (all three of shape N x C x ...):
//   s+ = [z > 0] r / stab(z + g pz),  s- = [z < 0] r / stab(z + g (z - pz)),
// stacked as N x 2 x C x ... (s+ first). One pass on CPU floats.
at::Tensor gamma_quotients(const at::Tensor& r, const at::Tensor& z,
                                                  const at::Tensor& pz, double g, double eps,
                                                  Stabilizer s);

// Whether a unit with z <= 0 carries relevance (r != 0); r and z of one shape.
bool relevance_on_nonpositive(const at::Tensor& r, const at::Tensor& z);

}  // namespace lrpbench
