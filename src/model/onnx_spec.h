#pragma once
// The parsing and checking half of the ONNX reader (docs/method.md, "Models from files"): a
// ModelProto's bytes to plain data (node kinds, attributes, parameter values), every count,
// type, attribute and shape checked (model/graph_check.h) before anything is allocated from
// the sizes a file claims. No LibTorch: model/onnx_graph.cpp makes the network's tensors from
// it, and fuzz/fuzz_onnx_graph.cpp fuzzes it.
#include <cstdint>
#include <string>
#include <vector>

#include "model/graph_check.h"

namespace lrpbench {

// A parameter's values, row-major float32 (dims: its shape); `defined` false when absent.
struct OnnxParam {
  bool defined = false;
  std::vector<int64_t> dims;
  std::vector<float> values;
};

// A node: its spec (kind, name, inputs, attributes; parameter shapes filled from `weight`,
// `bias`, ...) and its parameters. Conv: weight C_out x C_in/groups x kH x kW; Linear: weight
// out x in (Gemm's and MatMul's weights already transposed where the file stores in x out);
// BatchNorm2d: weight, bias, running_mean, running_var of C each. Norm: weight, bias of D;
// ClassToken: weight 1 x 1 x D; Scale: weight and/or bias broadcast over one image's value.
struct OnnxNode {
  NodeSpec spec;
  OnnxParam weight, bias, running_mean, running_var;
  Activation activation = Activation::GeluErf;  // Act
  bool attention_projection = false;            // Linear: an attention's in- or out-projection
  bool open_affine = false;  // Norm from a decomposed LayerNorm: a Mul and an Add may follow
};

struct OnnxGraph {
  int64_t in_channels = 0;  // the input's declared channels (1 or 3)
  int64_t size = 0;         // the input's declared height and width; 0 where not fixed
  std::vector<OnnxNode> nodes;  // in execution order; the last gives the logits
};

// The module path of a node from its scoped name: "/layer1/layer1.0/conv1/Conv" is
// layer1.0.conv1, "/features/features.1/conv/conv.0/conv.0.0/Conv" features.1.conv.0.0; empty
// for a top-level or unscoped name.
std::string onnx_scope_path(const std::string& name);

// Whether the bytes look like an ONNX model (a protobuf ModelProto with a graph).
bool looks_like_onnx(const std::string& bytes);

// Parses and checks the file's bytes: opset 9-17, one image input N x C x H x W, supported
// operations with the inputs and outputs they need and attributes of the right types and
// ranges, float32 parameters of consistent shapes and finite values (check_nodes). Throws
// InputError naming `path` and, where one is at fault, the node and the attribute or input.
OnnxGraph parse_onnx_graph(const std::string& bytes, const std::string& path);

}  // namespace lrpbench
