// Data readers: .npy, Fashion-MNIST, ImageNet labels, images.
#include <gtest/gtest.h>
#include <unistd.h>

#include "data/fashion_mnist.h"
#include "data/image.h"
#include "data/imagenet_labels.h"
#include "data/input.h"
#include "helpers.h"
#include "util/error.h"
#include "util/npy.h"

namespace lrpbench {
namespace {

TEST(Npy, RoundTrip) {
  const std::string path = ::testing::TempDir() + "/rt.npy";
  at::Generator gen = at::detail::createCPUGenerator(0);
  for (const std::vector<int64_t>& shape :
       std::vector<std::vector<int64_t>>{{5}, {3, 4}, {2, 3, 4, 5}}) {
    const at::Tensor t = at::randn(shape, gen);
    write_npy(path, t);
    EXPECT_TRUE(at::equal(read_npy(path), t));
  }
  EXPECT_THROW(read_npy(::testing::TempDir() + "/missing.npy"), InputError);
}

TEST(FashionMnist, TestSplit) {
  const Dataset d = load_fashion_mnist("test");
  ASSERT_EQ(d.images.size(0), 10000);
  EXPECT_EQ(d.labels[0], 9);  // the first test image is an ankle boot
  EXPECT_EQ(d.labels[1], 2);
  EXPECT_GE(d.images.min().item<float>(), 0.0f);
  EXPECT_LE(d.images.max().item<float>(), 1.0f);
  // The training mean SPEC gives for normalisation is close to the test mean.
  EXPECT_NEAR(d.images.mean().item<double>(), 0.2860, 0.01);
}

TEST(ImageNetLabels, TorchvisionOrder) {
  const auto& c = imagenet_classes();
  ASSERT_EQ(c.size(), 1000u);
  EXPECT_EQ(c[0].wnid, "n01440764");            // tench
  EXPECT_EQ(imagenet_index("n01632777"), 29);   // axolotl
  EXPECT_EQ(imagenet_index("n02980441"), 483);  // castle
  EXPECT_EQ(imagenet_index("n00000000"), -1);
}

TEST(Images, PhotoLoadsAsIsAndResized) {
  const std::string dog = test::darknet_photo("dog.jpg");  // 768 x 576
  const at::Tensor none = load_image(dog, 3, "none", 224);
  EXPECT_EQ(none.sizes(), at::IntArrayRef({3, 576, 768}));
  const at::Tensor crop = load_image(dog, 3, "256-crop224", 224);
  EXPECT_EQ(crop.sizes(), at::IntArrayRef({3, 224, 224}));
  const at::Tensor gray = load_image(dog, 1, "224", 28);
  EXPECT_EQ(gray.sizes(), at::IntArrayRef({1, 28, 28}));
  EXPECT_THROW(load_image(dog, 3, "300", 224), InputError);
  EXPECT_THROW(load_image("/nonexistent.jpg", 3, "none", 224), InputError);
}

TEST(Images, NormalizeRoundTrip) {
  const std::vector<double> mean = {0.485, 0.456, 0.406}, std = {0.229, 0.224, 0.225};
  at::Generator gen = at::detail::createCPUGenerator(0);
  const at::Tensor x = at::rand({2, 3, 8, 8}, gen);
  EXPECT_TRUE(at::allclose(denormalize(normalize(x, mean, std), mean, std), x, 1e-6, 1e-6));
  EXPECT_NEAR(normalize(at::zeros({3, 1, 1}), mean, std)[0].item<double>(), -0.485 / 0.229, 1e-6);
}

TEST(Inputs, IndicesParse) {
  EXPECT_EQ(parse_indices("7", "--index", 10, "test split"), std::vector<int64_t>({7}));
  EXPECT_EQ(parse_indices("2-4", "--indices", 10, "test split"), std::vector<int64_t>({2, 3, 4}));
  EXPECT_THROW(parse_indices("4-2", "--indices", 10, "test split"), InputError);
  EXPECT_THROW(parse_indices("x", "--index", 10, "test split"), InputError);
  // A range past the end is refused before anything is allocated for it.
  try {
    parse_indices("0-999999999", "--indices", 10000, "test split");
    ADD_FAILURE() << "accepted a range past the end";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("--indices 999999999 is past the test split"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace lrpbench

#include <filesystem>
#include <fstream>

#include "data/image_folder.h"

namespace lrpbench {
namespace {

TEST(ImageFolders, ClassSubfoldersAndFlatFolderWithLabels) {
  namespace fs = std::filesystem;
  const std::string root = ::testing::TempDir() + "/lrpbench_folders_" + std::to_string(getpid());
  fs::remove_all(root);
  const std::string dog = "/usr/share/darknet/data/dog.jpg";
  fs::create_directories(root + "/val/n01632777");  // axolotl, class 29
  fs::create_directories(root + "/val/n02980441");  // castle, class 483
  for (const char* f : {"b.JPEG", "a.JPEG", "c.JPEG"})
    fs::copy_file(dog, root + "/val/n01632777/" + f);
  fs::copy_file(dog, root + "/val/n02980441/x.JPEG");
  const auto axolotl = list_imagenet_folder(root + "/val", 29, 2);
  ASSERT_EQ(axolotl.size(), 2u);
  EXPECT_EQ(axolotl[0].id, "n01632777/a.JPEG");
  EXPECT_EQ(axolotl[1].id, "n01632777/b.JPEG");
  EXPECT_EQ(axolotl[0].label, 29);
  EXPECT_EQ(list_imagenet_folder(root + "/val", -1, 0).size(), 4u);
  EXPECT_THROW(list_imagenet_folder(root + "/val", 7, 0), InputError);

  fs::create_directories(root + "/flat");
  for (const char* f : {"ILSVRC2012_val_00000002.JPEG", "ILSVRC2012_val_00000001.JPEG"})
    fs::copy_file(dog, root + "/flat/" + f);
  std::ofstream(root + "/labels.csv")
      << "ImageId,PredictionString\n"
      << "ILSVRC2012_val_00000001,n02980441 1 2 3 4\n"
      << "ILSVRC2012_val_00000002,n01632777 5 6 7 8 n01632777 1 1 1 1\n";
  const auto flat = list_flat_folder(root + "/flat", root + "/labels.csv", 29, 0);
  ASSERT_EQ(flat.size(), 1u);
  EXPECT_EQ(flat[0].id, "ILSVRC2012_val_00000002.JPEG");
  EXPECT_EQ(flat[0].label, 29);
  EXPECT_EQ(list_flat_folder(root + "/flat", "", -1, 0).size(), 2u);
  fs::remove_all(root);
}

}  // namespace
}  // namespace lrpbench
