#pragma once
// Stabilizers of the LRP denominator (docs/method.md section 1, "Stabilizers").
#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "lrp/stabilizer_kind.h"

namespace lrpbench {


// The stabilised denominator. For `quadratic`, the mean runs over each sample (dim 0 is
// the batch), so batching never changes a result.
at::Tensor stabilize(const at::Tensor& z, double eps, Stabilizer s);
// R / stabilize(z): with `none`, 0/0 := 0.
at::Tensor stabilized_divide(const at::Tensor& r, const at::Tensor& z, double eps, Stabilizer s);

}  // namespace lrpbench
