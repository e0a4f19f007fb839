#pragma once
#include "model/network.h"

namespace lrpbench {

// Canonical form for LRP (docs/method.md, "Canonization"): every BatchNorm2d whose input is
// produced by a conv or dense layer feeding nothing else is folded into it exactly
// (W' = W*g/sqrt(var+e), b' = (b-mean)*g/sqrt(var+e) + beta; the fused node keeps the
// conv's name, index and slot); any other BatchNorm2d becomes the per-channel affine map
// x * (g/sqrt(var+e)) + (beta - mean*g/sqrt(var+e)) and keeps its slot.
Network canonize(const Network& net);

}  // namespace lrpbench
