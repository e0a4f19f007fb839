#pragma once
// A TorchScript classifier (torch.jit.script or torch.jit.trace of an nn.Module, weights
// inside) as a graph network (docs/method.md, "Models from files"): the forward is followed
// through submodule calls; leaf modules and functional aten ops become nodes named by module
// path, indexed by leaf-module position.
#include <string>

#include "model/network.h"

namespace torch::jit {
struct Module;
}

namespace lrpbench {

// Builds the network from the file's bytes (checked as an archive first). The network's
// normalisation and default size are left to the caller. Throws InputError naming the file
// and, for an unsupported operation, the operation and the node.
Network read_torchscript_graph(const std::string& bytes, const std::string& path);
// The same from a module already loaded (load_torchscript_module).
Network read_torchscript_graph(const torch::jit::Module& module, const std::string& path);

}  // namespace lrpbench
