#pragma once
// A state dict (parameter name -> tensor, in file order) and its application to a network.
#include <ATen/core/Tensor.h>

#include <string>
#include <utility>
#include <vector>

#include "model/network.h"
#include "util/dtype.h"

namespace lrpbench {

using StateDict = std::vector<std::pair<std::string, at::Tensor>>;

// The LibTorch element type of a file's element type.
at::ScalarType scalar_type_of(DType t);

// Renames timm's VGG head (pre_logits.fc1/fc2 as 7x7 / 1x1 convs, head.fc) onto
// torchvision's classifier.0/.3/.6, reshaping the conv weights into dense ones.
StateDict map_timm_keys(const StateDict& sd);

// Copies parameters into `net`: every expected key must be present with the exact shape
// and a floating dtype (converted to float32) and finite values; unexpected keys are
// errors. Errors name `file`, the key and both shapes.
void load_state_dict(Network& net, const StateDict& sd, const std::string& file);

// The network's parameters as a state dict with torchvision's key names.
StateDict state_dict_of(const Network& net);

}  // namespace lrpbench
