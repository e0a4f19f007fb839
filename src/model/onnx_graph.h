#pragma once
// An ONNX classifier (opsets 9-17) as a graph network (docs/method.md, "Models from files"):
// nodes named by the module path in their scoped names, no layer indices. The file is parsed
// and checked by model/onnx_spec.h (no LibTorch); this half makes the tensors.
#include <string>

#include "model/network.h"
#include "model/onnx_spec.h"

namespace lrpbench {

// Builds the network from the file's bytes. in_channels and, where the file fixes the input's
// height and width, default_size / fixed_size are set; normalisation is left to the caller.
// Throws InputError naming the file and, for an unsupported operation or a lying one, the
// operation and the node.
Network read_onnx_graph(const std::string& bytes, const std::string& path);

}  // namespace lrpbench
