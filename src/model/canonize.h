#pragma once
#include "model/network.h"

namespace lrpbench {

// Canonical form for LRP: every BatchNorm2d folded into the preceding Conv2d
// (W' = W*g/sqrt(var+e), b' = (b-mean)*g/sqrt(var+e) + beta). The conv keeps its index;
// the BatchNorm's index carries no rule afterwards. Throws InputError for a BatchNorm
// that does not follow a conv.
Network canonize(const Network& net);

}  // namespace lrpbench
