// pass: relevance handed through unchanged (docs/method.md, "Rules"); for nodes whose
// output has the input's shape.
#include "lrp/propagation.h"

namespace lrpbench::rules {

at::Tensor linear_pass(const LinearCall& c) { return c.r; }

}  // namespace lrpbench::rules
