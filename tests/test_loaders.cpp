// Weights loaders against files written by Python torch (tests/fixtures/make_fixtures.py).
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "data/image.h"
#include "helpers.h"
#include "lrp/composite.h"
#include "lrp/engine.h"
#include "model/safetensors.h"
#include "model/state_dict.h"
#include "model/vit.h"
#include "search/experiment.h"
#include "search/runner.h"
#include "util/error.h"
#include "util/file.h"
#include "util/npy.h"

namespace lrpbench {
namespace {

std::string fx(const std::string& name) {
  return test::fixtures_dir() + "/" + name;
}

// Max abs difference of our logits from Python's for the fixture input.
double logit_error(const std::string& file) {
  Network net = build_architecture("vgg16");
  load_weights(net, fx(file));
  const at::Tensor x = read_npy(fx("vgg16_input.npy"));
  const at::Tensor want = read_npy(fx("vgg16_logits.npy"));
  c10::InferenceMode guard;
  return (forward(canonize(net), x) - want).abs().max().item<double>();
}

TEST(Loaders, SafetensorsGivesPythonLogits) {
  EXPECT_LT(logit_error("vgg16.safetensors"), 1e-4);
}
TEST(Loaders, TimmLayoutGivesPythonLogits) {
  EXPECT_LT(logit_error("vgg16_timm.safetensors"), 1e-4);
}
TEST(Loaders, PthStateDictGivesPythonLogits) {
  EXPECT_LT(logit_error("vgg16_state_dict.pth"), 1e-4);
}
TEST(Loaders, PthPlainDictGivesPythonLogits) {
  EXPECT_LT(logit_error("vgg16_plain.pth"), 1e-4);
}
TEST(Loaders, TorchScriptGivesPythonLogits) {
  EXPECT_LT(logit_error("vgg16_script.pt"), 1e-4);
}

// Relevance of the three composites against tests/fixtures/lrp_reference.py (an independent
// float64 LRP in Python torch), for a model as loaded from `weights`.
void expect_reference_relevance(const std::string& arch, const std::string& weights,
                                const std::string& prefix, double tolerance) {
  const Network net = canonize(load_model(arch, weights, 0).net);
  const at::Tensor x = read_npy(fx(prefix + "_input.npy"));
  const at::Tensor logits = read_npy(fx(prefix + "_logits.npy"));
  std::vector<Composite> comps;
  for (const char* c : {"epsilon-gamma-box(0.25,1e-6)", "tutorial", "decreasing-gamma"})
    comps.push_back(parse_composite(c, net));
  const Explanation e = explain(net, x, std::vector<int64_t>(static_cast<size_t>(x.size(0)), -1),
                                comps, ExplainOptions{false});
  EXPECT_LT(test::rel_l2(e.logits, logits), 1e-5) << weights;
  const char* names[] = {"epsilon-gamma-box", "tutorial", "decreasing-gamma"};
  for (int64_t k = 0; k < 3; ++k) {
    const at::Tensor want = read_npy(fx(prefix + "_rel_" + names[k] + ".npy"));
    EXPECT_LT(test::rel_l2(e.relevance.select(1, k), want), tolerance) << weights << " " << names[k];
  }
}

TEST(Loaders, ResNet18RelevanceMatchesPythonFromPthAndTorchScript) {
  expect_reference_relevance("resnet18", fx("resnet18.pth"), "resnet18", 1e-3);
  expect_reference_relevance("resnet18", fx("resnet18_script.pt"), "resnet18", 1e-3);
}

TEST(Loaders, FashionResNetRelevanceMatchesPython) {
  expect_reference_relevance("fashion-resnet", "", "fashion_resnet", 1e-5);
}

std::string load_error_model(const std::string& path);

// Models from TorchScript files (scripted and traced): the built-ins' relevance, names.
TEST(Loaders, TorchScriptGraphsGiveTheBuiltinsRelevance) {
  for (const char* f : {"resnet18_script.pt", "resnet18_trace.pt"})
    expect_reference_relevance(fx(f), "", "resnet18", 1e-3);
  const Network file = canonize(load_model(fx("vgg16_trace.pt"), "", 0).net);
  const Network builtin = canonize(load_model("vgg16", fx("vgg16.safetensors"), 0).net);
  EXPECT_FALSE(file.shape().by_index);
  const at::Tensor x = read_npy(fx("vgg16_input.npy")).narrow(0, 0, 1);
  const Explanation a = explain(file, x, {-1}, {parse_composite("tutorial", file)});
  const Explanation b = explain(builtin, x, {-1}, {parse_composite("tutorial", builtin)});
  EXPECT_LT(test::rel_l2(a.relevance, b.relevance), 1e-6);
  EXPECT_EQ(canonical_form(parse_composite("tutorial", file), file),
            "features.0:zbox;features.2..features.14:gamma(0.25);"
            "features.17..features.28:epsilon(0.25);avgpool..classifier.6:zero");
}

// The MobileNet-style fixture pads (ZeroPad2d((1, 2, 2, 1))) before its depthwise conv: one
// pad node with those amounts, not folded away or read as the identity.
void expect_one_pad(const Network& net, const std::vector<int64_t>& pad) {
  int pads = 0;
  for (const Layer& l : net.layers)
    if (l.kind == LayerKind::Pad) {
      ++pads;
      EXPECT_EQ(l.pad, pad) << l.name;
    }
  EXPECT_EQ(pads, 1) << net.arch;
}

// LRP-0 without stabilizer equals Python's gradient x input on graphs written as PyTorch
// modules: depthwise convs, ReLU6, a residual add, BatchNorm after an add and before a conv
// (kept unfolded), a concatenation, average pooling, view(x.size(0), -1).
TEST(Loaders, TorchScriptGraphsLrp0IsPythonGradientTimesInput) {
  for (const char* name : {"mobilenet_style", "densenet_style"})
    for (const char* kind : {"_script.pt", "_trace.pt"}) {
      const Network net = canonize(load_model(fx(std::string(name) + kind), "", 0).net);
      const at::Tensor x = read_npy(fx(std::string(name) + "_input.npy"));
      const at::Tensor want = read_npy(fx(std::string(name) + "_gxi.npy"));
      const Explanation e =
          explain(net, x, {-1}, {parse_composite("@all:zero(stab=none)", net)});
      EXPECT_LT(test::rel_l2(e.relevance.select(1, 0), want), 1e-5) << name << kind;
      if (std::string(name) == "mobilenet_style") expect_one_pad(net, {1, 2, 2, 1});
    }
  // The BatchNorms after the add and the concat stay nodes with the pass rule.
  const ModelShape s = load_model(fx("densenet_style_script.pt"), "", 0).net;
  EXPECT_EQ(canonical_form(parse_composite("epsilon-gamma-box", s), s),
            "conv0:zbox;norm1:pass;conv1:gamma(0.25);norm2:pass;pool:zero;"
            "classifier:epsilon(1e-06)");
}

// Max-pool windows whose maxima tie exactly (dyadic weights and inputs: every sum is exact in
// float32, whatever the kernel): relevance follows PyTorch's max_pool2d_with_indices on
// contiguous NCHW (the first maximum in row-major window order) alone and in every batch.
// Exact sums leave the tie direction the only thing tested here; that the rounding of real
// weights does not move ties between batches is test_batch_invariance.cpp's.
TEST(Loaders, TiedMaxPoolsFollowPythonsFirstMaximumInEveryBatch) {
  const Network net = canonize(load_model(fx("tied_pools_script.pt"), "", 0).net);
  const at::Tensor x = read_npy(fx("tied_pools_input.npy"));
  const at::Tensor want = read_npy(fx("tied_pools_gxi.npy"));
  const Composite lrp0 = parse_composite("@all:zero(stab=none)", net);
  for (int64_t batch : {1, 2, 3, 8}) {
    std::vector<int64_t> targets(8, -1);
    const at::Tensor r = explain_in_batches(net, x, targets, lrp0, batch);
    for (int64_t i = 0; i < 8; ++i)
      EXPECT_LT(test::rel_l2(r[i], want[i]), 1e-6) << "batch " << batch << " image " << i;
  }
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// A search over a model file ([model] file, relative to the experiment) gives the built-in's
// rows: the same configurations (by name) and AUCs.
TEST(Loaders, SearchOnAModelFileEqualsTheBuiltin) {
  std::string exp = test::small_experiment(1);
  const std::string from = "name = \"fashion-vgg\"";
  std::string builtin = exp, file = exp;
  builtin.replace(builtin.find(from), from.size(), "name = \"fashion-resnet\"");
  file.replace(file.find(from), from.size(), "file = \"fashion_resnet_script.pt\"");
  std::string aucs[2];
  for (int k = 0; k < 2; ++k) {
    const std::string toml = fx(k == 0 ? "exp_builtin.toml" : "exp_file.toml");
    const std::string run = fx(k == 0 ? "run_builtin" : "run_file");
    std::filesystem::remove_all(run);  // never resume a store of an earlier build
    std::ofstream(toml) << (k == 0 ? builtin : file);
    std::string err;
    ASSERT_EQ(test::run_command(test::binary() + " search " + toml + " --force --threads 2 --out " +
                                    run + " > /dev/null && " + test::binary() + " report " + run +
                                    " > /dev/null",
                                &err),
              0)
        << err;
    aucs[k] = slurp(run + "/aucs.csv");
  }
  EXPECT_GT(aucs[0].size(), 200u);
  EXPECT_NE(aucs[0].find("conv1:zbox;layer1.0.conv1..layer1.0.conv2:gamma"), std::string::npos);
  EXPECT_EQ(aucs[0], aucs[1]);
}

// The store's definition records the SHA-256 of the model and weights files (checked against
// coreutils' sha256sum): a file changed under a store makes another definition.
TEST(Loaders, StoreDefinitionRecordsTheFilesSha256) {
  auto sha256sum = [](const std::string& path) {
    const std::string out = test::fixtures_dir() + "/sha256sum.txt";
    EXPECT_EQ(test::run_command("(sha256sum '" + path + "' > '" + out + "')", nullptr), 0);
    std::string line;
    std::ifstream(out) >> line;
    return line;
  };
  const std::string model = test::fixtures_dir() + "/sha_model.pt";
  std::filesystem::copy_file(fx("fashion_resnet_script.pt"), model,
                             std::filesystem::copy_options::overwrite_existing);
  Experiment exp;
  exp.model = model;
  const nlohmann::json d = nlohmann::json::parse(run_definition(exp, at::Device(at::kCPU)));
  EXPECT_EQ(d.at("model_sha256"), sha256sum(model));
  EXPECT_FALSE(d.contains("weights_sha256"));
  std::ofstream(model, std::ios::binary | std::ios::app) << 'x';
  const nlohmann::json changed = nlohmann::json::parse(run_definition(exp, at::Device(at::kCPU)));
  EXPECT_EQ(changed.at("model_sha256"), sha256sum(model));
  EXPECT_NE(changed.at("model_sha256"), d.at("model_sha256"));
  // A built-in with a weights file records the weights; without files, nothing is added.
  exp.model = "vgg16";
  exp.weights = fx("vgg16.safetensors");
  EXPECT_EQ(nlohmann::json::parse(run_definition(exp, at::Device(at::kCPU))).at("weights_sha256"),
            sha256sum(exp.weights));
  exp.model = "fashion-vgg";
  exp.weights.clear();
  const nlohmann::json plain = nlohmann::json::parse(run_definition(exp, at::Device(at::kCPU)));
  EXPECT_FALSE(plain.contains("model_sha256") || plain.contains("weights_sha256"));
}

// ONNX exports (opsets 9, 11, 13) of the same models: the same relevance and identities.
TEST(Loaders, OnnxGraphsGiveTheBuiltinsRelevance) {
  expect_reference_relevance(fx("resnet18.onnx"), "", "resnet18", 1e-3);
  const Network file = canonize(load_model(fx("vgg16.onnx"), "", 0).net);
  const Network builtin = canonize(load_model("vgg16", fx("vgg16.safetensors"), 0).net);
  EXPECT_TRUE(file.fixed_size);
  const at::Tensor x = read_npy(fx("vgg16_input.npy")).narrow(0, 0, 1);
  const Explanation a = explain(file, x, {-1}, {parse_composite("tutorial", file)});
  const Explanation b = explain(builtin, x, {-1}, {parse_composite("tutorial", builtin)});
  EXPECT_LT(test::rel_l2(a.relevance, b.relevance), 1e-5);
  for (const char* name : {"mobilenet_style", "densenet_style"}) {
    const Network net = canonize(load_model(fx(std::string(name) + ".onnx"), "", 0).net);
    const at::Tensor xi = read_npy(fx(std::string(name) + "_input.npy"));
    const at::Tensor want = read_npy(fx(std::string(name) + "_gxi.npy"));
    const Explanation e = explain(net, xi, {-1}, {parse_composite("@all:zero(stab=none)", net)});
    EXPECT_LT(test::rel_l2(e.relevance.select(1, 0), want), 1e-5) << name;
    if (std::string(name) == "mobilenet_style") expect_one_pad(net, {1, 2, 2, 1});
  }
  const ModelShape s = load_model(fx("mobilenet_style.onnx"), "", 0).net;
  EXPECT_EQ(canonical_form(parse_composite("epsilon-gamma-box", s), s),
            "stem:zbox;expand..project:gamma(0.25);add:zero;post_bn:pass;pool:zero;"
            "fc:epsilon(1e-06)");
}

// A squeeze-excitation gate (x * sigmoid(conv(mean(x)))) from ONNX: a product node whose gate is
// the sigmoid's side, and LRP-0 without stabiliser plus grad on the new kinds equal to
// Python's gradient x input.
TEST(Loaders, SqueezeExcitationFromOnnx) {
  const Network net = canonize(load_model(fx("se_small.onnx"), "", 0).net);
  int products = 0;
  for (const Layer& l : net.layers)
    if (l.kind == LayerKind::Product) {
      ++products;
      EXPECT_EQ(net.layers[static_cast<size_t>(l.inputs[static_cast<size_t>(l.gate)])].activation,
                Activation::Sigmoid);
    }
  EXPECT_EQ(products, 1);
  const at::Tensor x = read_npy(fx("se_small_input.npy"));
  const Explanation e = explain(net, x, {-1}, {parse_composite("zero(stab=none);@all:grad", net)},
                                ExplainOptions{false});
  EXPECT_LT(test::rel_l2(e.relevance.select(1, 0), read_npy(fx("se_small_gxi.npy"))), 1e-5);
}

// Graphs that once read silently wrong give the logits of a numpy evaluation of the file
// (tests/fixtures/onnx_reference.py): a value read through a same-shape Reshape by one node and
// directly by another (the LayerNorm's scale, the dense layer's bias and the SiLU gate may not
// fold into it), and a per-channel scale made by Unsqueeze with negative axes.
TEST(Loaders, OnnxEdgeGraphsGiveTheirOwnLogits) {
  const at::Tensor x = read_npy(fx("vit_small_input.npy")).narrow(0, 0, 1);
  for (const char* name : {"norm", "bias", "gate"}) {
    const Network net = load_model(fx(std::string("onnx_alias_") + name + ".onnx"), "", 0).net;
    const at::Tensor want = read_npy(fx(std::string("onnx_alias_") + name + "_logits.npy"));
    EXPECT_LT(test::rel_l2(forward(net, x), want), 1e-5) << name;
  }
  const Network net = load_model(fx("onnx_unsqueeze.onnx"), "", 0).net;
  EXPECT_LT(test::rel_l2(forward(net, read_npy(fx("onnx_unsqueeze_input.npy"))),
                         read_npy(fx("onnx_unsqueeze_logits.npy"))),
            1e-5);
}

TEST(Loaders, UnsupportedOnnxFilesAreRefused) {
  const std::string se = load_error_model(fx("leaky_relu.onnx"));
  EXPECT_NE(se.find("unsupported operation 'LeakyRelu' in node '1.leakyrelu'"), std::string::npos) << se;
  const std::string bytes = read_file(fx("mobilenet_style.onnx"), "test", 1 << 30);
  const std::string cut = test::fixtures_dir() + "/truncated_model.onnx";
  std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  const std::string t = load_error_model(cut);
  EXPECT_NE(t.find("truncated_model.onnx"), std::string::npos) << t;
  std::string err;
  EXPECT_EQ(test::run_command(test::binary() + " explain --model " + cut + " --input " +
                                  fx("mobilenet_style_input.npy") + " --out " +
                                  test::fixtures_dir() + "/t_out",
                              &err),
            2);
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  // An ONNX model fixes its input size: another size is refused.
  EXPECT_EQ(test::run_command(test::binary() + " explain --model " + fx("resnet18.onnx") +
                                  " --input " + fx("mobilenet_style_input.npy") + " --out " +
                                  test::fixtures_dir() + "/s_out",
                              &err),
            2);
}

TEST(Loaders, UnsupportedModelFilesAreRefused) {
  const std::string leaky = load_error_model(fx("leaky_relu.pt"));
  EXPECT_NE(leaky.find("unsupported operation 'aten::leaky_relu' in node '1'"), std::string::npos)
      << leaky;
  EXPECT_NE(load_error_model(fx("no_forward.pt")).find("no forward method"), std::string::npos);
  const std::string bytes = read_file(fx("mobilenet_style_script.pt"), "test", 1 << 30);
  const std::string cut = test::fixtures_dir() + "/truncated_model.pt";
  std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  EXPECT_NE(load_error_model(cut).find("truncated_model.pt"), std::string::npos);
  EXPECT_NE(load_error_model(fx("vgg16.safetensors")).find("a safetensors file holds weights, not a model"),
            std::string::npos);
  std::string err;
  EXPECT_EQ(test::run_command(test::binary() + " explain --model " + fx("leaky_relu.pt") +
                                  " --input " + fx("mobilenet_style_input.npy") + " --out " +
                                  test::fixtures_dir() + "/se_out",
                              &err),
            2);
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  EXPECT_EQ(test::run_command(test::binary() + " explain --model " + fx("resnet18_script.pt") +
                                  " --normalize 0.5,0.5:0.2 --input " + fx("resnet18_input.npy") +
                                  " --out " + test::fixtures_dir() + "/n_out",
                              &err),
            2);
  EXPECT_NE(err.find("--normalize"), std::string::npos) << err;
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

std::string load_error(const std::string& arch, const std::string& path) {
  return error_of([&] {
    Network net = build_architecture(arch);
    load_weights(net, path);
  });
}

std::string load_error_model(const std::string& path) {
  return error_of([&] { load_model(path, "", 0); });
}

TEST(Loaders, LegacyFormatIsRefusedAndTheConverterFixesIt) {
  EXPECT_NE(load_error("vgg16", fx("vgg16_legacy.pth")).find("tools/convert_weights.py"),
            std::string::npos);
  const std::string out = fx("vgg16_converted.safetensors");
  const std::string cmd = "/usr/bin/python3 " + test::source_dir() + "/tools/convert_weights.py " +
                          fx("vgg16_legacy.pth") + " " + out;
  ASSERT_EQ(test::run_command(cmd, nullptr), 0);
  EXPECT_LT(logit_error("vgg16_converted.safetensors"), 1e-4);
  std::filesystem::remove(out);
}

// Copies the first `bytes` bytes of `src` to `dst`.
void truncate_copy(const std::string& src, const std::string& dst, std::streamsize bytes) {
  std::ifstream in(src, std::ios::binary);
  std::string buf(static_cast<size_t>(bytes), '\0');
  in.read(buf.data(), bytes);
  std::ofstream(dst, std::ios::binary).write(buf.data(), bytes);
}

TEST(Loaders, TruncatedFilesGiveErrors) {
  const std::string dir = ::testing::TempDir();
  truncate_copy(fx("vgg16.safetensors"), dir + "/t.safetensors", 100000);
  EXPECT_NE(load_error("vgg16", dir + "/t.safetensors").find("t.safetensors"), std::string::npos);
  EXPECT_NE(load_error("vgg16", dir + "/t.safetensors").find("truncated"), std::string::npos)
      << load_error("vgg16", dir + "/t.safetensors");
  truncate_copy(fx("vgg16_state_dict.pth"), dir + "/t.pth", 100000);
  EXPECT_NE(load_error("vgg16", dir + "/t.pth").find("t.pth"), std::string::npos);
  truncate_copy(fx("vgg16.safetensors"), dir + "/tiny.safetensors", 5);
  EXPECT_NE(load_error("vgg16", dir + "/tiny.safetensors").find("too short"), std::string::npos);
  EXPECT_NE(load_error("vgg16", dir + "/missing.safetensors").find("cannot open"),
            std::string::npos);
}

TEST(Loaders, WrongDtypeMissingKeyWrongShapeNaNGiveErrors) {
  const std::string path = ::testing::TempDir() + "/edit.safetensors";
  auto with = [&](const std::function<void(StateDict&)>& edit) {
    Network net = build_architecture("fashion-vgg");
    init_random(net, 0);
    StateDict sd = state_dict_of(net);
    edit(sd);
    // Write the edited dict; integer tensors are written through the raw writer below.
    write_safetensors(path, sd);
    return load_error("fashion-vgg", path);
  };
  std::string e = with([](StateDict& sd) { sd.erase(sd.begin() + 1); });
  EXPECT_NE(e.find("missing key 'features.0.bias'"), std::string::npos) << e;
  e = with([](StateDict& sd) { sd[0].second = at::zeros({16, 1, 5, 5}); });
  EXPECT_NE(e.find("'features.0.weight' has shape [16, 1, 5, 5]"), std::string::npos) << e;
  EXPECT_NE(e.find("expects [16, 1, 3, 3]"), std::string::npos) << e;
  e = with([](StateDict& sd) { sd[0].second[0][0][0][0] = NAN; });
  EXPECT_NE(e.find("NaN"), std::string::npos) << e;
  e = with([](StateDict& sd) { sd.emplace_back("extra.weight", at::zeros({1})); });
  EXPECT_NE(e.find("unexpected key 'extra.weight'"), std::string::npos) << e;
  // An integer dtype: patch the header's dtype of the first tensor from F32 to I32.
  with([](StateDict&) {});
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  std::string head(4096, '\0');
  f.read(head.data(), 4096);
  const auto pos = head.find("\"F32\"");
  ASSERT_NE(pos, std::string::npos);
  f.clear();
  f.seekp(static_cast<std::streamoff>(pos));
  f.write("\"I32\"", 5);
  f.close();
  e = load_error("fashion-vgg", path);
  EXPECT_NE(e.find("dtype"), std::string::npos) << e;
}

}  // namespace
}  // namespace lrpbench

namespace lrpbench {
namespace {

// A Debian photo (darknet's dog.jpg, 768 x 576, as is) through our JPEG loader, normalisation
// and VGG-16 (torchvision's, after torch.manual_seed(0)) against the fixture script's PIL
// decoding and Python torch's logits for the same file.
TEST(Loaders, PhotoPixelsAndLogitsMatchPython) {
  Network net = build_architecture("vgg16");
  load_weights(net, fx("vgg16.safetensors"));
  const at::Tensor pixels = load_image(test::darknet_photo("dog.jpg"), 3, "none", 224);
  const at::Tensor expected_pixels = read_npy(fx("dog_pixels.npy"));
  ASSERT_EQ(pixels.sizes(), expected_pixels.sizes());
  // The same libjpeg decodes for both: at most one 8-bit step anywhere.
  EXPECT_LE((pixels - expected_pixels).abs().max().item<double>(), 1.0 / 255 + 1e-6);
  EXPECT_LT((pixels != expected_pixels).to(at::kFloat).mean().item<double>(), 1e-3);
  const at::Tensor x = normalize(pixels, net.mean, net.std).unsqueeze(0);
  c10::InferenceMode guard;
  const at::Tensor logits = forward(canonize(net), x)[0];
  const at::Tensor expected = read_npy(fx("dog_logits.npy"));
  EXPECT_EQ(logits.argmax().item<int64_t>(), expected.argmax().item<int64_t>());
  EXPECT_LT(test::rel_l2(logits, expected), 1e-3);
}

}  // namespace
}  // namespace lrpbench

namespace lrpbench {
namespace {

// A torchvision VisionTransformer in fashion-vit's layout with random parameters everywhere
// (tests/fixtures/make_fixtures.py), read from its .pth state dict: logits, and relevance of
// cp-lrp and attnlrp at four (gc, gl) against tests/fixtures/vit_reference.py (float64, written
// from the rules' definitions), and gradient x input.
TEST(Loaders, FashionVitRelevanceMatchesPythonReference) {
  const Network net = canonize(load_model("fashion-vit", fx("vit_ref_weights.pth"), 0).net);
  const at::Tensor x = read_npy(fx("vit_ref_input.npy"));
  const at::Tensor logits = read_npy(fx("vit_ref_logits.npy"));
  const std::vector<std::pair<std::string, std::string>> points = {
      {"0.25", "0.05"}, {"0.0", "0.0"}, {"1.0", "0.01"}, {"100.0", "1.0"}};
  for (const char* preset : {"cp-lrp", "attnlrp"}) {
    std::vector<Composite> comps;
    for (const auto& [gc, gl] : points)
      comps.push_back(parse_composite(std::string(preset) + "(" + gc + "," + gl + ")", net));
    const Explanation e = explain(net, x, {-1, -1, -1}, comps, ExplainOptions{false});
    EXPECT_LT(test::rel_l2(e.logits, logits), 1e-5);
    for (size_t k = 0; k < points.size(); ++k) {
      const at::Tensor want = read_npy(fx("vit_ref_rel_" + std::string(preset) + "_" +
                                          points[k].first + "_" + points[k].second + ".npy"));
      for (int64_t i = 0; i < x.size(0); ++i)
        EXPECT_LT(test::rel_l2(e.relevance[i][static_cast<int64_t>(k)].to(at::kDouble), want[i]), 1e-4)
            << preset << " " << points[k].first << "," << points[k].second << " image " << i;
    }
  }
  const Explanation g =
      explain(net, x, {-1, -1, -1}, {parse_composite("zero(stab=none);@all:grad", net)});
  const at::Tensor want = read_npy(fx("vit_ref_gradxinput.npy"));
  for (int64_t i = 0; i < x.size(0); ++i)
    EXPECT_LT(test::rel_l2(g.relevance[i][0].to(at::kDouble), want[i]), 1e-5) << i;
}

}  // namespace
}  // namespace lrpbench

namespace lrpbench {
namespace {

// The small ViT of tests/fixtures/make_fixtures.py (small_vit): no built-in has its layout.
Network small_vit_from_pth() {
  ViTConfig c;
  c.arch = "small-vit";
  c.image = 16;
  c.patch = 4;
  c.channels = 1;
  c.layers = 2;
  c.heads = 2;
  c.hidden = 8;
  c.mlp = 16;
  c.classes = 5;
  Network net = build_vit(c);
  load_weights(net, fx("vit_small.pth"));
  return net;
}

// torchvision ViTs saved by torch.jit.script and torch.jit.trace are read by their layout,
// and by torch.onnx.export (opset 14, batch 1: LayerNorm decomposed; opset 17, batch 2:
// LayerNorm fused; and with the attention's scale split over q and k^T as torch >= 2.0 writes
// it) by their graph's patterns (docs/method.md, "Models from files"): Python's
// logits, the configuration, and the same relevance as the ViT built from the state dict for
// cp-lrp, attnlrp and gradient x input.
TEST(Loaders, VitFromTorchScriptAndOnnx) {
  const Network builtin = canonize(small_vit_from_pth());
  const at::Tensor x = read_npy(fx("vit_small_input.npy"));
  const at::Tensor logits = read_npy(fx("vit_small_logits.npy"));
  const char* composites[] = {"cp-lrp(0.25,0.05)", "attnlrp(1,0.01)", "zero(stab=none);@all:grad"};
  std::vector<Composite> want_comps;
  for (const char* c : composites) want_comps.push_back(parse_composite(c, builtin));
  const Explanation want = explain(builtin, x, {-1, -1}, want_comps, ExplainOptions{false});
  EXPECT_LT(test::rel_l2(want.logits, logits), 1e-5);
  for (const char* file :
       {"vit_small_script.pt", "vit_small_trace.pt", "vit_small_14.onnx", "vit_small_17.onnx",
        "vit_small_split_scale.onnx"}) {
    const LoadedModel m = load_model(fx(file), "", 0);
    EXPECT_TRUE(m.net.named) << file;
    EXPECT_EQ(m.net.in_channels, 1) << file;
    EXPECT_EQ(m.net.default_size, 16) << file;
    EXPECT_EQ(m.net.num_classes, 5) << file;
    int heads = 0, attention = 0, projections = 0, norms = 0, gelus = 0;
    for (const Layer& l : m.net.layers) {
      if (l.kind == LayerKind::Attention) {
        ++attention;
        heads = static_cast<int>(l.heads);
      }
      projections += l.attention_projection;
      norms += l.kind == LayerKind::Norm;
      gelus += l.kind == LayerKind::Act && l.activation == Activation::GeluErf;
    }
    EXPECT_EQ(attention, 2) << file;
    EXPECT_EQ(heads, 2) << file;
    EXPECT_EQ(projections, 4) << file;  // in_proj and out_proj: @attn-linear
    EXPECT_EQ(norms, 5) << file;
    EXPECT_EQ(gelus, 2) << file;
    EXPECT_GE(m.net.position_named("encoder.layers.encoder_layer_1.self_attention.out_proj"), 0) << file;
    EXPECT_EQ(m.net.mean, std::vector<double>{0.2860}) << file;  // --normalize's default
    const Network net = canonize(m.net);
    std::vector<Composite> comps;
    for (const char* c : composites) comps.push_back(parse_composite(c, net));
    const Explanation e = explain(net, x, {-1, -1}, comps, ExplainOptions{false});
    EXPECT_LT(test::rel_l2(e.logits, logits), 1e-5) << file;
    for (int64_t k = 0; k < 3; ++k)
      EXPECT_LT(test::rel_l2(e.relevance.select(1, k), want.relevance.select(1, k)), 1e-5)
          << file << " " << composites[k];
  }
}

// ViT files the readers refuse, exit 2 with one line naming the file and the fault: a
// pos_embedding of another token count, no class token, num_heads not dividing the hidden
// size, a forward that is not torchvision's (scripted and traced); from ONNX: q and k split
// into different head counts, a positional embedding of another token count, no class token
// (the head reads the tokens' mean), a cycle, Softmax over the queries (scores transposed).
TEST(Loaders, BadVitFilesAreRefused) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"vit_bad_tokens.pt", "'encoder.pos_embedding' holds 11 patch tokens"},
      {"vit_no_class_token.pt", "without parameter 'class_token'"},
      {"vit_bad_heads.pt", "num_heads' is 3, which does not divide the hidden size 8"},
      {"vit_other_forward_script.pt",
       "the module's output differs from the ViT read from its parameters"},
      {"vit_other_forward_trace.pt",
       "the module's output differs from the ViT read from its parameters"},
      {"vit_onnx_bad_heads.onnx", "attention whose parts split into 2 and 4 heads"},
      {"vit_onnx_bad_tokens.onnx", "scales 17 tokens x 8 by a constant of shape [1, 12, 8]"},
      {"vit_onnx_no_class_token.onnx", "unsupported operation 'ReduceMean over axes other than"},
      {"vit_onnx_cycle.onnx", "ln/Add_1_output_0', which nothing computes"},
      {"vit_onnx_softmax_queries.onnx", "Softmax of attention scores over other than the keys"}};
  for (const auto& [file, want] : cases) {
    const std::string e = load_error_model(fx(file));
    EXPECT_NE(e.find(want), std::string::npos) << e;
    EXPECT_NE(e.find(file), std::string::npos) << e;
    std::string err;
    EXPECT_EQ(test::run_command(test::binary() + " explain --model " + fx(file) + " --input " +
                                    fx("vit_small_input.npy") + " --out " +
                                    test::fixtures_dir() + "/vit_bad_out",
                                &err),
              2)
        << file;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
    EXPECT_NE(err.find(want), std::string::npos) << err;
  }
}

}  // namespace
}  // namespace lrpbench

namespace lrpbench {
namespace {

// A built-in ViT takes TorchScript weights (its parameters by name), and a safetensors file
// whose header length starts with the byte 0x80 (a legacy pickle's first byte) is read as
// safetensors.
TEST(Loaders, VitWeightsFromTorchScriptAndPaddedSafetensors) {
  const Network from_pth = small_vit_from_pth();
  Network from_script = build_vit(ViTConfig{"small-vit", 16, 4, 1, 2, 2, 8, 16, 5, 1e-6});
  load_weights(from_script, fx("vit_small_script.pt"));
  const at::Tensor x = read_npy(fx("vit_small_input.npy"));
  EXPECT_TRUE(at::equal(forward(from_pth, x), forward(from_script, x)));

  const std::string dir = ::testing::TempDir() + "/padded_safetensors";
  std::filesystem::create_directories(dir);
  write_safetensors(dir + "/plain.safetensors", state_dict_of(from_pth));
  std::string bytes = read_file(dir + "/plain.safetensors", "test", int64_t{1} << 30);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  const uint64_t padded = (n / 256 + 1) * 256 + 0x80;  // spaces after the JSON are allowed
  std::string out(8, '\0');
  std::memcpy(&out[0], &padded, 8);
  out += bytes.substr(8, n) + std::string(padded - n, ' ') + bytes.substr(8 + n);
  ASSERT_EQ(static_cast<uint8_t>(out[0]), 0x80);
  std::ofstream(dir + "/padded.safetensors", std::ios::binary) << out;
  Network from_padded = build_vit(ViTConfig{"small-vit", 16, 4, 1, 2, 2, 8, 16, 5, 1e-6});
  load_weights(from_padded, dir + "/padded.safetensors");
  EXPECT_TRUE(at::equal(forward(from_pth, x), forward(from_padded, x)));
}

}  // namespace
}  // namespace lrpbench
