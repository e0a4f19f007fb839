#pragma once
// A torchvision VisionTransformer saved as TorchScript (torch.jit.script or torch.jit.trace;
// docs/method.md, "Transformers", "Models from files"): recognised by its parameters, read
// into build_vit's graph with load_state_dict, and verified against the file's own forward.
#include <string>

#include "model/network.h"

namespace torch::jit {
struct Module;
}

namespace lrpbench {

// Whether the module's parameters have a VisionTransformer's encoder
// ("encoder.pos_embedding" or "encoder.layers.encoder_layer_<i>.*"): such a module is read by
// read_torchscript_vit, anything else by read_torchscript_graph.
bool is_torchscript_vit(const torch::jit::Module& module);

// The ViT in the module: its configuration from the parameters' shapes (image size
// sqrt(tokens) * patch, or the module's image_size attribute where scripted; channels, hidden
// size, MLP width, layers, classes; LayerNorm eps 1e-6; heads from the scripted attention's
// num_heads, or for a traced module the first divisor of the hidden size that reproduces the
// module's output), built by build_vit and filled by load_state_dict. The module's forward on
// a seeded random probe must match lrpbench's forward to a relative L2 error of 1e-4.
// Throws InputError naming the file (and the key for a missing or misshapen parameter).
Network read_torchscript_vit(const torch::jit::Module& module, const std::string& path);

}  // namespace lrpbench
