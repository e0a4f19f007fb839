// The ONNX graph reader's parsing and checking half (model/onnx_spec.h): the ModelProto, each
// node's inputs and outputs, attributes, constants and the shape arithmetic folded on them,
// parameters; then every node's output at the declared input size (model/graph_check.h).
// Beyond "no crash": every parameter holds exactly the values its shape claims.
#include "fuzz.h"
#include "model/onnx_spec.h"

LRPBENCH_FUZZ({
  const lrpbench::OnnxGraph g = lrpbench::parse_onnx_graph(input, "fuzz.onnx");
  std::vector<lrpbench::NodeSpec> specs;
  for (const lrpbench::OnnxNode& n : g.nodes) {
    specs.push_back(n.spec);
    for (const lrpbench::OnnxParam* p : {&n.weight, &n.bias, &n.running_mean, &n.running_var}) {
      size_t count = 1;
      for (int64_t d : p->dims) count *= static_cast<size_t>(d);
      if (p->defined && count != p->values.size()) __builtin_trap();
    }
  }
  const int64_t size = g.size > 0 ? g.size : (g.in_channels == 1 ? 28 : 224);
  const lrpbench::GraphShapes s =
      lrpbench::infer_graph_shapes(specs, {g.in_channels, size, size, true}, "fuzz.onnx");
  if (s.fault && s.fault->empty()) __builtin_trap();
})
