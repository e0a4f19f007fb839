// Weights loaders against files written by Python torch (tests/fixtures/make_fixtures.py).
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "data/image.h"
#include "helpers.h"
#include "lrp/composite.h"
#include "lrp/engine.h"
#include "model/safetensors.h"
#include "model/state_dict.h"
#include "util/error.h"
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
