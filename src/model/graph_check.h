#pragma once
// The checks every graph network passes before LibTorch runs it (docs/method.md, "Graph
// models"), on plain data: attributes in range (strides, kernels, dilations >= 1, pads >= 0,
// groups dividing the channels), parameter shapes consistent with them, and the shape of every
// node's output from the input's, bounded. Network::finalize() and check_input() run them for
// built-in, TorchScript and ONNX models alike; the graph readers' fuzz targets run them without
// LibTorch.
#include <array>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "model/shape.h"

namespace lrpbench {

// Bounds on what a graph may ask for.
constexpr int64_t kMaxGraphAttribute = 1 << 16;          // a stride, kernel, dilation, pad, size
constexpr int64_t kMaxGraphInputSide = 1 << 14;          // an input's height or width
constexpr int64_t kMaxActivation = int64_t{1} << 26;     // values of one node's output per image
constexpr int64_t kMaxParameterValues = int64_t{1} << 28;  // values of one parameter tensor

// A parameter tensor's shape: `defined` false for an absent tensor (a conv without bias, a
// built-in's weights before they are loaded).
struct ParamShape {
  bool defined = false;
  std::vector<int64_t> dims;
};

// A node as the checks see it: model/network.h's Layer without tensor data.
struct NodeSpec {
  LayerKind kind = LayerKind::ReLU;
  std::string name;
  std::vector<int> inputs;  // positions of earlier nodes; -1: the network's input
  ParamShape weight, bias, running_mean, running_var;
  int64_t in_channels = 0, out_channels = 0;  // Conv2d / Linear / BatchNorm2d
  int64_t groups = 1;
  std::array<int64_t, 2> kernel{1, 1}, stride{1, 1}, padding{0, 0}, dilation{1, 1};
  std::array<int64_t, 2> output_size{0, 0};  // AdaptiveAvgPool2d
  bool ceil_mode = false;
  double clamp_max = std::numeric_limits<double>::infinity();
  double bn_eps = 1e-5;
  std::vector<int64_t> pad;  // Pad: {left, right, top, bottom}
  int64_t heads = 0;         // Attention
  int64_t token = 0;         // Select
};

// One image's value at a node: C x H x W, `c` features once flattened, or `t` tokens of `c`
// features (tokens: T x C, spatial false).
struct ActShape {
  int64_t c = 0, h = 0, w = 0;
  bool spatial = true;
  int64_t t = 0;  // > 0: a token tensor
  bool tokens() const { return !spatial && t > 0; }
};

// Values of one image's tensor of that shape (saturating at 2^62).
int64_t act_values(const ActShape& a);

// The output height or width of a window of k taps (dilation d, stride s, padding p) sliding
// over `in` values, as PyTorch computes it (ceil mode: the last window starts inside).
int64_t pooled_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil);

// Refuses (InputError "<what> holds NaN or infinite values") parameter values that are not
// all finite: the one check of every model file's parameters (parameter_tensor, ONNX, state
// dicts read elsewhere keep their own wording).
void check_finite(const float* values, size_t count, const std::string& what);

// Checks what does not depend on the input: every attribute's range, parameter ranks and
// lengths, groups, input counts. Throws InputError "<what>: node 'NAME' (kind) ...".
// `from`: the nodes before it are already checked (a reader checking as it goes).
void check_nodes(const std::vector<NodeSpec>& nodes, const std::string& what, size_t from = 0);

// Every node's output for an input of the given shape, with the first fault: a kernel larger
// than its (padded) input, channels or features that do not match, shapes of an addition or a
// concatenation that differ, an output over kMaxActivation. Past a fault the shapes stop.
struct GraphShapes {
  std::vector<ActShape> out;  // out[i]: node i's output (up to the fault)
  std::optional<std::string> fault;  // one line naming `what` and the node
  bool features_fault = false;  // the fault is a dense layer's input features only
};
// `done`: the shapes of a prefix of `nodes` already inferred (a reader inferring as it goes);
// inference continues after them.
GraphShapes infer_graph_shapes(const std::vector<NodeSpec>& nodes, const ActShape& input,
                               const std::string& what, GraphShapes done = {});

}  // namespace lrpbench
