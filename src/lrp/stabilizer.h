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

// Rows: each function below that takes `rows` (one int64 index per row of r, on r's device,
// or undefined) computes what it computes for z.index_select(0, rows) (and pz's) in place of
// z, without building that copy where its fused CPU float kernel applies; the results are
// the same bits either way. Undefined rows: z itself.

// R / stabilize(z[rows]).
at::Tensor stabilized_divide(const at::Tensor& r, const at::Tensor& z, double eps, Stabilizer s,
                             const at::Tensor& rows);

// The generalised gamma's quotients for inputs x >= 0, from the plain output z = W x + b and
// pz = W+ x + b+ (r of shape N x C x ..., z[rows] and pz[rows] too):
//   s+ = [z > 0] r / stab(z + g pz),  s- = [z < 0] r / stab(z + g (z - pz)),
// stacked as N x 2 x C x ... (s+ first). One pass on CPU floats.
at::Tensor gamma_quotients(const at::Tensor& r, const at::Tensor& z, const at::Tensor& pz,
                           double g, double eps, Stabilizer s, const at::Tensor& rows = {});

// Whether a unit with z[rows] <= 0 carries relevance (r != 0); r and z[rows] of one shape.
bool relevance_on_nonpositive(const at::Tensor& r, const at::Tensor& z,
                              const at::Tensor& rows = {});

// t *= x[rows], in place (x of t's shape but for the rows); returns t.
at::Tensor mul_rows_(at::Tensor t, const at::Tensor& x, const at::Tensor& rows);

// t.index_select(0, rows), or t itself when rows is undefined.
at::Tensor gather_rows(const at::Tensor& t, const at::Tensor& rows);

}  // namespace lrpbench
