#pragma once
// An ONNX classifier (opsets 9-17) as a graph network (docs/method.md, "Models from files"):
// nodes named by the module path in their scoped names, no layer indices.
#include <string>

#include "model/network.h"

namespace lrpbench {

// The module path of a node from its scoped name: "/layer1/layer1.0/conv1/Conv" is
// layer1.0.conv1, "/features/features.1/conv/conv.0/conv.0.0/Conv" features.1.conv.0.0; empty
// for a top-level or unscoped name.
std::string onnx_scope_path(const std::string& name);

// Whether the bytes look like an ONNX model (a protobuf ModelProto with a graph).
bool looks_like_onnx(const std::string& bytes);

// Builds the network from the file's bytes. in_channels and, where the file fixes the input's
// height and width, default_size / fixed_size are set; normalisation is left to the caller.
// Throws InputError naming the file and, for an unsupported operation, the operation and the
// node.
Network read_onnx_graph(const std::string& bytes, const std::string& path);

}  // namespace lrpbench
