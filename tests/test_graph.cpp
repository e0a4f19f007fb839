// Graph models (docs/method.md, "Graph models"): ResNet layouts and indices, canonization,
// LRP-0 == gradient x input on graphs with additions, concatenations, depthwise convs, ReLU6
// and unfolded BatchNorm, conservation per node, the sharing of K composites, selectors and
// the presets by type.
#include <gtest/gtest.h>

#include <numeric>

#include "helpers.h"
#include "lrp/composite.h"
#include "lrp/engine.h"
#include "lrp/presets.h"
#include "util/error.h"
#ifdef LRPBENCH_WITH_ONNX
#include "model/onnx_graph.h"
#endif

namespace lrpbench {
namespace {

const at::TensorOptions kD = at::TensorOptions().dtype(at::kDouble);

const Layer& node(const Network& net, const std::string& name) {
  const int p = net.position_named(name);
  EXPECT_GE(p, 0) << name;
  return net.layers.at(static_cast<size_t>(p));
}

// Every parameter in double precision, BatchNorm statistics randomised (so that folding and
// the affine nodes are not the identity).
Network to_double(Network net, uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  for (Layer& l : net.layers) {
    if (l.kind == LayerKind::BatchNorm2d && l.running_var.defined()) {
      l.weight = at::empty_like(l.weight).uniform_(0.5, 1.5, gen);
      l.bias = at::empty_like(l.bias).normal_(0.0, 0.1, gen);
      l.running_mean = at::empty_like(l.running_mean).normal_(0.0, 0.1, gen);
      l.running_var = at::empty_like(l.running_var).uniform_(0.5, 1.5, gen);
    }
    for (at::Tensor* t : {&l.weight, &l.bias, &l.running_mean, &l.running_var})
      if (t->defined()) *t = t->to(at::kDouble);
  }
  return net;
}

// Gradient x input of the target logit, by autograd through the network as loaded.
at::Tensor gradient_times_input(const Network& net, const at::Tensor& x, int64_t target) {
  at::Tensor xi = x.clone().set_requires_grad(true);
  const at::Tensor logits = forward(net, xi);
  logits.select(1, target).sum().backward();
  return (xi.grad() * x).detach();
}

// LRP-0 without stabilizer on every rule-carrying node equals gradient x input.
void expect_lrp0_is_gradient_times_input(const Network& loaded, const at::Tensor& x) {
  const Network net = canonize(loaded);
  const Composite c = parse_composite("@all:zero(stab=none)", net);
  const Explanation e = explain(net, x, {-1}, {c});
  const at::Tensor gxi = gradient_times_input(loaded, x, e.targets[0]);
  EXPECT_LT(test::rel_l2(e.relevance[0][0], gxi[0]), 1e-9) << loaded.arch;
  // Conservation without biases does not hold, but the sum is finite and the logit known.
  EXPECT_TRUE(at::isfinite(e.relevance).all().item<bool>());
}

TEST(Graph, ResNet18IndicesAndNames) {
  const Network net = build_architecture("resnet18");
  const std::vector<std::pair<std::string, int>> want = {
      {"conv1", 0},          {"bn1", 1},           {"relu", 2},           {"maxpool", 3},
      {"layer1.0.conv1", 4}, {"layer1.0.bn1", 5},  {"layer1.0.relu", 6},  {"layer1.0.conv2", 7},
      {"layer1.0.bn2", 8},   {"layer2.0.downsample.0", 19},               {"avgpool", 50},
      {"fc", 51}};
  for (const auto& [name, index] : want) EXPECT_EQ(node(net, name).index, index) << name;
  // The block's relu runs twice: one module, one index, two nodes.
  EXPECT_EQ(node(net, "layer1.0.relu_1").index, 6);
  EXPECT_EQ(node(net, "layer1.0.add").index, -1);
  EXPECT_EQ(node(net, "layer1.0.add").kind, LayerKind::Add);
  EXPECT_EQ(net.num_indices, 52);
  EXPECT_FALSE(net.shape().by_index);
  EXPECT_TRUE(build_architecture("vgg16").shape().by_index);
  // resnet50's Bottleneck registers its relu after bn3.
  const Network r50 = build_architecture("resnet50");
  EXPECT_EQ(node(r50, "layer1.0.relu").index, 10);
  EXPECT_EQ(node(r50, "layer1.0.downsample.0").index, 11);
  EXPECT_EQ(node(r50, "fc").index, static_cast<int>(r50.num_indices) - 1);
}

TEST(Graph, FashionResNetLayout) {
  Network net = build_architecture("fashion-resnet");
  const std::vector<std::pair<std::string, int>> want = {
      {"conv1", 0},          {"bn1", 1},           {"relu", 2},
      {"layer1.0.conv1", 3}, {"layer1.0.bn2", 7},  {"layer2.0.conv1", 8},
      {"layer2.0.downsample.0", 13},               {"layer2.0.downsample.1", 14},
      {"layer3.0.conv1", 15}, {"avgpool", 22},     {"fc", 23}};
  for (const auto& [name, index] : want) EXPECT_EQ(node(net, name).index, index) << name;
  init_random(net, 0);
  int64_t params = 0;
  for (const Layer& l : net.layers)
    for (const at::Tensor* t : {&l.weight, &l.bias})
      if (t->defined()) params += t->numel();
  EXPECT_GT(params, 75000);
  EXPECT_LT(params, 80000);
  const at::Tensor y = forward(net, at::zeros({2, 1, 28, 28}));
  EXPECT_EQ(y.sizes(), at::IntArrayRef({2, 10}));
}

TEST(Graph, CanonizationFoldsExactlyAndKeepsSlots) {
  Network raw = build_architecture("resnet18");
  init_random(raw, 3);
  raw = to_double(raw, 4);
  const Network net = canonize(raw);
  for (const Layer& l : net.layers) EXPECT_NE(l.kind, LayerKind::BatchNorm2d) << l.name;
  EXPECT_EQ(net.num_slots, raw.num_slots);
  at::Generator gen = at::detail::createCPUGenerator(5);
  const at::Tensor x = at::randn({2, 3, 64, 64}, gen, kD);
  EXPECT_LT(test::rel_l2(forward(net, x), forward(raw, x)), 1e-12);
}

TEST(Graph, Lrp0IsGradientTimesInputOnResNet18) {
  Network net = build_architecture("resnet18");
  init_random(net, 1);
  net = to_double(net, 2);
  at::Generator gen = at::detail::createCPUGenerator(3);
  expect_lrp0_is_gradient_times_input(net, at::randn({1, 3, 64, 64}, gen, kD));
}

TEST(Graph, Lrp0IsGradientTimesInputOnResNet50) {
  Network net = build_architecture("resnet50");
  init_random(net, 1);
  net = to_double(net, 2);
  at::Generator gen = at::detail::createCPUGenerator(3);
  expect_lrp0_is_gradient_times_input(net, at::randn({1, 3, 64, 64}, gen, kD));
}

Layer conv_node(const std::string& name, int64_t in, int64_t out, int64_t k, int64_t groups,
                at::Generator& gen, std::vector<int> inputs = {}) {
  Layer l;
  l.kind = LayerKind::Conv2d;
  l.name = name;
  l.in_channels = in;
  l.out_channels = out;
  l.kernel = {k, k};
  l.padding = {k / 2, k / 2};
  l.groups = groups;
  l.weight = at::randn({out, in / groups, k, k}, gen, kD) * (1.0 / std::sqrt(double(in / groups * k * k)));
  l.bias = at::randn({out}, gen, kD) * 0.05;
  l.inputs = std::move(inputs);
  return l;
}

Layer bn_node(const std::string& name, int64_t c, at::Generator& gen, std::vector<int> inputs = {}) {
  Layer l;
  l.kind = LayerKind::BatchNorm2d;
  l.name = name;
  l.in_channels = l.out_channels = c;
  l.weight = at::empty({c}, kD).uniform_(0.5, 1.5, gen);
  l.bias = at::randn({c}, gen, kD) * 0.1;
  l.running_mean = at::randn({c}, gen, kD) * 0.1;
  l.running_var = at::empty({c}, kD).uniform_(0.5, 1.5, gen);
  l.inputs = std::move(inputs);
  return l;
}

Layer head(int64_t in, at::Generator& gen) {
  Layer l;
  l.kind = LayerKind::Linear;
  l.name = "fc";
  l.in_channels = in;
  l.out_channels = 5;
  l.weight = at::randn({5, in}, gen, kD) * 0.3;
  l.bias = at::randn({5}, gen, kD) * 0.05;
  return l;
}

Network small_net(const std::string& arch, int64_t channels) {
  Network net;
  net.arch = arch;
  net.in_channels = channels;
  net.default_size = 12;
  net.mean.assign(static_cast<size_t>(channels), 0.5);
  net.std.assign(static_cast<size_t>(channels), 0.25);
  net.num_classes = 5;
  return net;
}

// MobileNet-V2 style: pointwise expansion, asymmetric zero padding as its own node, a
// depthwise 4x4 (groups = channels), ReLU6, projection, a residual add, and a BatchNorm after
// the add (which cannot be folded).
Network mobilenet_style() {
  at::Generator gen = at::detail::createCPUGenerator(21);
  Network net = small_net("mobilenet-style", 3);
  auto& L = net.layers;
  L.push_back(conv_node("stem", 3, 8, 3, 1, gen));                  // 0
  L.push_back(bn_node("stem_bn", 8, gen));                           // 1 (folded)
  Layer r6 = test::node(LayerKind::ReLU, "stem_relu");
  r6.clamp_max = 6.0;
  L.push_back(r6);                                                   // 2
  L.push_back(conv_node("expand", 8, 16, 1, 1, gen));                // 3
  L.push_back(r6);                                                   // 4
  L.back().name = "expand_relu";
  Layer pad = test::node(LayerKind::Pad, "pad");  // TF-style "same" for an even kernel
  pad.pad = {1, 2, 2, 1};
  L.push_back(pad);                                                  // 5
  L.push_back(conv_node("depthwise", 16, 16, 4, 16, gen));           // 6
  L.back().padding = {0, 0};
  L.push_back(bn_node("depthwise_bn", 16, gen));                     // 7 (folded)
  L.push_back(r6);                                                   // 8
  L.back().name = "depthwise_relu";
  L.push_back(conv_node("project", 16, 8, 1, 1, gen));              // 9
  L.push_back(test::node(LayerKind::Add, "add", {9, 2}));                // 10
  L.push_back(bn_node("post_bn", 8, gen));                           // 11 (after add: kept)
  Layer pool = test::node(LayerKind::AdaptiveAvgPool2d, "pool");
  pool.output_size = {1, 1};
  L.push_back(pool);                                                 // 12
  L.push_back(test::node(LayerKind::Flatten, "flatten"));                // 13
  L.push_back(head(8, gen));                                         // 14
  net.finalize();
  return net;
}

// DenseNet style: BatchNorm before convs, concatenation of a block's input with its output,
// a transition with average pooling.
Network densenet_style() {
  at::Generator gen = at::detail::createCPUGenerator(22);
  Network net = small_net("densenet-style", 3);
  auto& L = net.layers;
  L.push_back(conv_node("conv0", 3, 6, 3, 1, gen));          // 0
  L.push_back(bn_node("norm1", 6, gen));                      // 1 (folds into conv0? no: conv0 feeds the concat too)
  L.push_back(test::node(LayerKind::ReLU, "relu1"));              // 2
  L.push_back(conv_node("conv1", 6, 4, 3, 1, gen));           // 3
  L.push_back(test::node(LayerKind::Concat, "cat", {0, 3}));     // 4
  L.push_back(bn_node("norm2", 10, gen));                     // 5 (after concat: kept)
  L.push_back(test::node(LayerKind::ReLU, "relu2"));              // 6
  Layer avg = test::node(LayerKind::AvgPool2d, "transition_pool");
  avg.kernel = {2, 2};
  avg.stride = {2, 2};
  L.push_back(avg);                                           // 7
  L.push_back(test::node(LayerKind::Flatten, "flatten"));        // 8
  L.push_back(head(10 * 6 * 6, gen));                         // 9
  net.finalize();
  return net;
}

TEST(Graph, Lrp0IsGradientTimesInputOnMobileNetStyleGraph) {
  const Network net = mobilenet_style();
  const Network c = canonize(net);
  int kept = 0;
  for (const Layer& l : c.layers) kept += l.kind == LayerKind::BatchNorm2d;
  EXPECT_EQ(kept, 1);  // post_bn follows an add
  at::Generator gen = at::detail::createCPUGenerator(23);
  const at::Tensor x = at::randn({1, 3, 12, 12}, gen, kD) * 0.3;
  // ReLU6 below its clamp: the gradient and LRP agree only there.
  ForwardRecord rec;
  forward(net, x, &rec);
  EXPECT_LT(rec.outputs[2].max().item<double>(), 6.0);
  expect_lrp0_is_gradient_times_input(net, x);
}

TEST(Graph, Lrp0IsGradientTimesInputOnDenseNetStyleGraph) {
  const Network net = densenet_style();
  EXPECT_FALSE(net.foldable(1));  // conv0 feeds the concat as well
  EXPECT_FALSE(net.foldable(5));
  at::Generator gen = at::detail::createCPUGenerator(24);
  expect_lrp0_is_gradient_times_input(net, at::randn({1, 3, 12, 12}, gen, kD));
}

// Without biases and stabilizer, relevance is conserved at every node: what enters an add
// or a concat leaves it whole, and the input receives the logit.
TEST(Graph, ConservationPerNodeOnFashionResNet) {
  Network net = canonize(load_model("fashion-resnet", "", 0).net);
  for (Layer& l : net.layers)
    if (l.bias.defined()) l.bias = at::zeros_like(l.bias);
  const Composite c = parse_composite("@all:zero(stab=none)", net);
  const at::Tensor x = at::rand({2, 1, 28, 28}) * 2.0 - 0.8;
  const Explanation e = explain(net, x, {-1, -1}, {c});
  for (const auto& per_image : e.diagnostics) {
    const Diagnostics& d = per_image[0];
    EXPECT_LT(d.conservation_error, 1e-4);
    ASSERT_EQ(d.layers.size(), net.shape().rule_nodes().size());
    for (const LayerDiagnostics& l : d.layers) EXPECT_LT(l.conservation_error, 1e-5) << l.name;
  }
}

// K composites that differ only at the first conv share every node above it: the backward
// rows through rule nodes are those of one composite plus K - 1 at the first conv only.
TEST(Graph, CompositesShareTheWorkAboveTheirFirstDifference) {
  const Network net = test::random_network("fashion-resnet", 7);
  const size_t rules = net.shape().rule_nodes().size();
  const at::Tensor x = at::rand({2, 1, 28, 28});
  const std::string egb = canonical_form(parse_composite("epsilon-gamma-box", net), net);
  const std::vector<Composite> differ_at_bottom = {parse_composite(egb, net),
                                                   parse_composite(egb + ";conv1:flat", net),
                                                   parse_composite(egb + ";conv1:zplus", net)};
  const Explanation a = explain(net, x, {-1, -1}, differ_at_bottom);
  EXPECT_EQ(a.node_rows, static_cast<int64_t>((rules - 1) * 2 + 3 * 2));
  EXPECT_EQ(a.shared_rows, 6);
  const std::vector<Composite> differ_at_top = {parse_composite(egb, net),
                                                parse_composite(egb + ";fc:zero", net)};
  EXPECT_EQ(explain(net, x, {-1, -1}, differ_at_top).node_rows,
            static_cast<int64_t>(rules * 2 * 2));
  // Shared rows give the same relevance as separate calls.
  for (size_t k = 0; k < differ_at_bottom.size(); ++k) {
    const Explanation one = explain(net, x, {-1, -1}, {differ_at_bottom[k]});
    EXPECT_TRUE(at::allclose(a.relevance.select(1, static_cast<int64_t>(k)),
                             one.relevance.select(1, 0), 1e-5, 1e-7))
        << k;
  }
}

TEST(Graph, SelectorsTypeRangeGlobAndNames) {
  const ModelShape s = build_architecture("resnet18");
  auto rule_of = [&](const Composite& c, const std::string& name) {
    for (const LayerInfo& l : s.layers)
      if (l.name == name) return c.at(l.slot).text();
    return std::string("?");
  };
  const Composite c = parse_composite(
      "@all:epsilon(0.1);@conv:gamma(0.25);@first:zbox;layer4.*:epsilon(0.25);fc:zero", s);
  EXPECT_EQ(rule_of(c, "conv1"), "zbox");
  EXPECT_EQ(rule_of(c, "layer1.0.conv1"), "gamma(0.25)");
  EXPECT_EQ(rule_of(c, "layer1.0.add"), "epsilon(0.1)");
  EXPECT_EQ(rule_of(c, "layer4.1.conv2"), "epsilon(0.25)");
  EXPECT_EQ(rule_of(c, "layer4.1.add"), "epsilon(0.25)");
  EXPECT_EQ(rule_of(c, "avgpool"), "epsilon(0.1)");
  EXPECT_EQ(rule_of(c, "fc"), "zero");
  // A..B runs in execution order; `?` is one character; ranges select by layer index.
  const Composite d = parse_composite("layer1.0.conv2..layer1.1.conv1:zplus;layer?.1.add:flat;"
                                      "4-7:gamma(0.5)",
                                      s);
  EXPECT_EQ(rule_of(d, "layer1.0.conv1"), "gamma(0.5)");  // index 4
  EXPECT_EQ(rule_of(d, "layer1.0.conv2"), "gamma(0.5)");  // index 7, the later item
  EXPECT_EQ(rule_of(d, "layer1.0.add"), "zplus");
  EXPECT_EQ(rule_of(d, "layer1.1.conv1"), "zplus");
  EXPECT_EQ(rule_of(d, "layer1.1.conv2"), "zero");
  EXPECT_EQ(rule_of(d, "layer3.1.add"), "flat");
  EXPECT_EQ(rule_of(d, "layer3.0.add"), "zero");
  // The canonical form uses names and parses back to the same composite.
  for (const Composite& x : {c, d, parse_composite("tutorial", s)}) {
    const std::string text = canonical_form(x, s);
    EXPECT_EQ(canonical_form(parse_composite(text, s), s), text);
    EXPECT_NE(text.find(".."), std::string::npos);
  }
  EXPECT_TRUE(glob_match("layer1*", "layer10.conv"));
  EXPECT_TRUE(glob_match("layer1.*", "layer1.0.conv1"));
  EXPECT_FALSE(glob_match("layer1.*", "layer10.conv"));
  EXPECT_FALSE(glob_match("fc?", "fc"));
}

// A preset or rule may head a list of items that change it.
TEST(Graph, PresetHeadWithItems) {
  const ModelShape s = build_architecture("resnet18");
  const std::string tutorial = canonical_form(parse_composite("tutorial", s), s);
  const std::string changed =
      canonical_form(parse_composite("tutorial;layer3.*:epsilon(0.5)", s), s);
  EXPECT_NE(changed, tutorial);
  EXPECT_NE(changed.find("layer3.0.conv1..layer3.1.add:epsilon(0.5)"), std::string::npos);
  EXPECT_NE(changed.find("layer4.0.conv1..layer4.0.downsample.0:epsilon(0.25)"),
            std::string::npos);
  const ModelShape v = build_architecture("vgg16");
  EXPECT_EQ(canonical_form(parse_composite("tutorial;31-:epsilon(0.1)", v), v),
            "0:zbox;2-14:gamma(0.25);17-28:epsilon(0.25);31-38:epsilon(0.1)");
  EXPECT_EQ(canonical_form(parse_composite("zero;0:zbox", v), v), "0:zbox;2-38:zero");
  EXPECT_THROW(parse_composite("tutorial;", v), InputError);
  EXPECT_THROW(parse_composite("tutorial x;0:zero", v), InputError);
}

TEST(Graph, SelectorsThatSetNothingAreErrors) {
  const ModelShape s = build_architecture("resnet18");
  for (const char* bad : {"layer9.*:zero", "@bn:pass", "nosuch:zero", "@relu:zero",
                          "layer2.0.conv1:zbox", "fc..conv1:zero", "@conv:pass", "60-:zero"}) {
    try {
      parse_composite(bad, s);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("--composite"), std::string::npos) << e.what();
    }
  }
}

TEST(Graph, PresetsOnResNet18) {
  const ModelShape s = build_architecture("resnet18");
  const std::string tutorial = canonical_form(parse_composite("tutorial", s), s);
  EXPECT_EQ(tutorial.substr(0, 45), "conv1:zbox;layer1.0.conv1..layer1.0.conv2:gam");
  EXPECT_NE(tutorial.find("layer2.0.conv1..layer2.0.downsample.0:gamma(0.25)"), std::string::npos);
  EXPECT_NE(tutorial.find("layer3.0.conv1..layer3.0.downsample.0:epsilon(0.25)"),
            std::string::npos);
  EXPECT_NE(tutorial.find("layer4.1.add..fc:zero"), std::string::npos);
  const std::string egb = canonical_form(parse_composite("epsilon-gamma-box(0.5,0.01)", s), s);
  EXPECT_EQ(egb.substr(0, 11), "conv1:zbox;");
  EXPECT_NE(egb.find("layer4.1.add..avgpool:zero;fc:epsilon(0.01)"), std::string::npos);
  EXPECT_NE(egb.find("layer1.0.conv1..layer1.0.conv2:gamma(0.5)"), std::string::npos);
  const std::string flat = canonical_form(parse_composite("epsilon-plus-flat", s), s);
  EXPECT_EQ(flat.substr(0, 11), "conv1:flat;");
  EXPECT_NE(canonical_form(parse_composite("epsilon-alpha2-beta1", s), s).find("alphabeta(2,1)"),
            std::string::npos);
  // On a VGG the presets by type give index forms.
  const ModelShape v = build_architecture("vgg16");
  EXPECT_EQ(canonical_form(parse_composite("epsilon-gamma-box", v), v),
            "0:zbox;2-28:gamma(0.25);31:zero;32-38:epsilon(1e-06)");
}

#ifdef LRPBENCH_WITH_ONNX
TEST(Graph, OnnxScopesGiveModulePaths) {
  EXPECT_EQ(onnx_scope_path("/layer1/layer1.0/conv1/Conv"), "layer1.0.conv1");
  EXPECT_EQ(onnx_scope_path("/layer1/layer1.0/Add"), "layer1.0");
  EXPECT_EQ(onnx_scope_path("/features/features.1/conv/conv.0/conv.0.0/Conv"),
            "features.1.conv.0.0");
  EXPECT_EQ(onnx_scope_path("/Add"), "");
  EXPECT_EQ(onnx_scope_path("Conv_12"), "");
}
#endif

}  // namespace
}  // namespace lrpbench
