// The parsers of untrusted input on hostile bytes: limits before allocation, exact
// structure checks, and the regressions of what fuzzing and the hostile-user audit found.
#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>

#include "data/idx.h"
#include "data/image_header.h"
#include "data/loc_csv.h"
#include "helpers.h"
#include "model/archive.h"
#include "model/pickle.h"
#include "model/safetensors_header.h"
#include "util/error.h"
#include "util/file.h"
#include "util/npy_header.h"
#include "util/zip.h"

namespace lrpbench {
namespace {

namespace fs = std::filesystem;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "(accepted)";
}

const StorageCheck kAnyStorage = [](const std::string&, DType, int64_t) {};

TEST(Pickle, BinInt2ReadsLowByteFirst) {
  // PROTO 2, BININT2 0x1234 (bytes 34 12), STOP.
  const std::string p("\x80\x02M\x34\x12.", 6);
  const PickleDoc doc = unpickle(p, kAnyStorage, "t.pkl");
  EXPECT_EQ(doc.at(doc.root).kind, PickleValue::Kind::Int);
  EXPECT_EQ(doc.at(doc.root).i, 0x1234);
}

TEST(Pickle, DeepNestingAndSelfReferenceAreHarmless) {
  // A million nested lists: EMPTY_LIST, then (EMPTY_LIST, APPEND) repeated: no recursion.
  std::string p = "\x80\x02]";
  for (int i = 0; i < 1000000; ++i) p += "]a";
  p += ".";
  EXPECT_NO_THROW(unpickle(p, kAnyStorage, "deep.pkl"));
  // A list that contains itself (memo put, get, append): no cycle of owners to leak.
  const std::string self("\x80\x02]q\x00h\x00" "a.", 9);
  const PickleDoc doc = unpickle(self, kAnyStorage, "self.pkl");
  ASSERT_EQ(doc.at(doc.root).items.size(), 1u);
  EXPECT_EQ(doc.at(doc.root).items[0], doc.root);
}

TEST(Pickle, StorageIsCheckedBeforeAnyTensorUsesIt) {
  // ('storage', torch.FloatStorage, '0', 'cpu', 2^40) as a persistent id.
  const std::string p = std::string("\x80\x02(X\x07\x00\x00\x00", 8) + "storage" +
                        "ctorch\nFloatStorage\n" + std::string("X\x01\x00\x00\x00", 5) + "0" +
                        std::string("X\x03\x00\x00\x00", 5) + "cpu" +
                        std::string("\x8a\x06\x00\x00\x00\x00\x00\x01", 8) + "tQ.";
  int64_t seen = -1;
  const StorageCheck check = [&](const std::string& key, DType dtype, int64_t numel) {
    EXPECT_EQ(key, "0");
    EXPECT_EQ(dtype, DType::Float32);
    seen = numel;
    throw InputError("t.pth: storage claims " + std::to_string(numel) + " elements");
  };
  EXPECT_NE(error_of([&] { unpickle(p, check, "t.pkl"); }).find("storage claims"),
            std::string::npos);
  EXPECT_EQ(seen, int64_t(1) << 40);
}

TEST(Pickle, TruncatedAndUnknownOpcodesAreInputErrors) {
  EXPECT_NE(error_of([] { unpickle("\x80\x02]", kAnyStorage, "t.pkl"); }).find("t.pkl"),
            std::string::npos);
  EXPECT_NE(error_of([] { unpickle("\x80\x02\xff.", kAnyStorage, "t.pkl"); }).find("opcode"),
            std::string::npos);
  EXPECT_NE(error_of([] { unpickle("h\x05.", kAnyStorage, "t.pkl"); }).find("memo"),
            std::string::npos);
}

// A zip with one entry, stored or deflated, written here byte by byte.
std::string zip_with(const std::string& name, const std::string& data, bool deflated,
                     uint32_t declared_size) {
  std::string body = data;
  if (deflated) {
    z_stream zs{};
    deflateInit2(&zs, 9, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
    std::string out(deflateBound(&zs, data.size()), '\0');
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    zs.avail_in = static_cast<uInt>(data.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    deflate(&zs, Z_FINISH);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    body = out;
  }
  auto u16 = [](uint32_t v) { return std::string{static_cast<char>(v), static_cast<char>(v >> 8)}; };
  auto u32 = [&](uint32_t v) { return u16(v & 0xffff) + u16(v >> 16); };
  const uint32_t crc = static_cast<uint32_t>(
      crc32(0, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
  const uint16_t method = deflated ? 8 : 0;
  std::string local = u32(0x04034b50) + u16(20) + u16(0) + u16(method) + u32(0) + u32(crc) +
                      u32(static_cast<uint32_t>(body.size())) + u32(declared_size) +
                      u16(static_cast<uint32_t>(name.size())) + u16(0) + name + body;
  std::string central = u32(0x02014b50) + u16(20) + u16(20) + u16(0) + u16(method) + u32(0) +
                        u32(crc) + u32(static_cast<uint32_t>(body.size())) + u32(declared_size) +
                        u16(static_cast<uint32_t>(name.size())) + u16(0) + u16(0) + u16(0) +
                        u16(0) + u32(0) + u32(0) + name;
  std::string end = u32(0x06054b50) + u16(0) + u16(0) + u16(1) + u16(1) +
                    u32(static_cast<uint32_t>(central.size())) +
                    u32(static_cast<uint32_t>(local.size())) + u16(0);
  return local + central + end;
}

TEST(Zip, EntriesAreReadWithinBoundsAndChecked) {
  const std::string text(5000, 'a');
  for (bool deflated : {false, true}) {
    const std::string z = zip_with("archive/x", text, deflated, 5000);
    const ZipArchive zip(z, "t.zip");
    ASSERT_EQ(zip.entries().size(), 1u);
    EXPECT_EQ(zip.read(zip.entries()[0]), text);
  }
  // An entry that would inflate past the bound is refused before inflating.
  const std::string bomb = zip_with("archive/x", std::string(1 << 20, '\0'), true, 1 << 20);
  EXPECT_NE(error_of([&] { ZipArchive(bomb, "bomb.zip", 1000); }).find("would inflate"),
            std::string::npos);
  // A deflated entry whose declared size is smaller than what it inflates to.
  const std::string lying = zip_with("archive/x", text, true, 100);
  const ZipArchive z2(lying, "lying.zip");
  EXPECT_NE(error_of([&] { z2.read(z2.entries()[0]); }).find("declared size"), std::string::npos);
  // Truncated: the central directory is gone.
  const std::string z3 = zip_with("archive/x", text, false, 5000);
  EXPECT_NE(error_of([&] { ZipArchive(z3.substr(0, z3.size() - 30), "cut.zip"); }).find("cut.zip"),
            std::string::npos);
}

TEST(Archive, PthWithoutDataPklOrWithMissingRecordsIsRefused) {
  const std::string z = zip_with("archive/other", "x", false, 1);
  EXPECT_NE(error_of([&] { parse_pth_archive(ZipArchive(z, "a.pth")); }).find("no data.pkl"),
            std::string::npos);
}

TEST(Safetensors, LayoutIsCheckedExactly) {
  auto st = [](const std::string& h, size_t data) {
    const uint64_t n = h.size();
    return std::string(reinterpret_cast<const char*>(&n), 8) + h + std::string(data, '\0');
  };
  const SafetensorsLayout ok = parse_safetensors(
      st(R"({"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}})",
         16),
      "ok");
  ASSERT_EQ(ok.entries.size(), 2u);
  EXPECT_EQ(ok.entries[0].key, "a");  // data order
  const std::vector<std::pair<std::string, std::string>> bad = {
      {R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})",
       "twice"},
      {R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})",
       "overlap"},
      {R"({"a":{"dtype":"F32","shape":[-4],"data_offsets":[0,16]}})", "negative"},
      {R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0.0,16.0]}})", "non-negative integers"},
      {R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,16]}})",
       "overflows"},
      {R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,1600]}})", "past the end"},
      {R"({"a":{"dtype":"Q7","shape":[4],"data_offsets":[0,16]}})", "unknown dtype"},
      {R"([1,2])", "not a JSON object"},
  };
  for (const auto& [header, needle] : bad)
    EXPECT_NE(error_of([&] { parse_safetensors(st(header, 32), "bad"); }).find(needle),
              std::string::npos)
        << header;
}

TEST(Npy, HeaderIsParsedNotPatternMatched) {
  auto npy = [](const std::string& dict, size_t data) {
    const uint16_t n = static_cast<uint16_t>(dict.size());
    return std::string("\x93NUMPY\x01\x00", 8) + std::string(reinterpret_cast<const char*>(&n), 2) +
           dict + std::string(data, '\0');
  };
  const NpyLayout l = parse_npy(
      npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 24), "ok.npy");
  EXPECT_EQ(l.shape, std::vector<int64_t>({2, 3}));
  EXPECT_EQ(l.numel, 6);
  EXPECT_EQ(parse_npy(npy("{'descr':'<f8','fortran_order':False,'shape':()}", 8), "s").numel, 1);
  for (const auto& [dict, needle] : std::vector<std::pair<std::string, std::string>>{
           {"{'descr': '<f4', 'fortran_order': False, 'shape': (-2, 3), }", "negative"},
           {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }",
            "too large"},
           {"{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }",
            "too large"},
           {"{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", "Fortran"},
           {"{'descr': '<f4', 'descr': '<f4', 'shape': (2, 3), }", "twice"},
           {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1}", "unexpected key"},
           {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), }", "truncated"}})
    EXPECT_NE(error_of([&] { parse_npy(npy(dict, 24), "bad.npy"); }).find(needle),
              std::string::npos)
        << dict;
}

TEST(ImageHeader, CompletePhotosPassTruncatedAndGiantOnesDoNot) {
  const std::string jpg = read_file(test::darknet_photo("dog.jpg"), "t", 1 << 24);
  const ImageInfo info = inspect_image(jpg, "dog.jpg");
  EXPECT_EQ(info.format, "jpeg");
  EXPECT_EQ(info.width, 768);
  EXPECT_EQ(info.height, 576);
  EXPECT_NE(error_of([&] { inspect_image(jpg.substr(0, jpg.size() - 2), "cut.jpg"); })
                .find("truncated JPEG"),
            std::string::npos);
  EXPECT_NE(error_of([&] { inspect_image(jpg.substr(0, 600), "cut.jpg"); }).find("cut.jpg"),
            std::string::npos);
  auto be = [](uint32_t v) {
    return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                       static_cast<char>(v >> 8), static_cast<char>(v)};
  };
  const std::string giant = std::string("\x89PNG\r\n\x1a\n", 8) + be(13) + "IHDR" + be(100000) +
                            be(100000) + std::string("\x08\x02\0\0\0", 5) + be(0) + be(0) +
                            "IEND" + be(0);
  EXPECT_NE(error_of([&] { inspect_image(giant, "giant.png"); }).find("100000 x 100000"),
            std::string::npos);
}

TEST(LocCsv, LabelsAndErrorsWithLines) {
  const auto labels = parse_loc_csv(
      "ImageId,PredictionString\r\nILSVRC2012_val_00000001,n01632777 1 2 3 4\r\n", "loc.csv");
  ASSERT_EQ(labels.size(), 1u);
  EXPECT_EQ(labels.at("ILSVRC2012_val_00000001"), 29);
  EXPECT_NE(error_of([] { parse_loc_csv("ImageId,PredictionString\na,n00000000 1\n", "loc.csv"); })
                .find("loc.csv:2"),
            std::string::npos);
}

TEST(Idx, SizesMustMatchTheHeader) {
  auto be = [](uint32_t v) {
    return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                       static_cast<char>(v >> 8), static_cast<char>(v)};
  };
  const std::string ok = be(2051) + be(2) + be(28) + be(28) + std::string(2 * 784, '\1');
  EXPECT_EQ(parse_idx_images(ok, "i").count, 2);
  EXPECT_NE(error_of([&] { parse_idx_images(ok.substr(0, 100), "i.gz"); }).find("i.gz"),
            std::string::npos);
  const std::string lying = be(2051) + be(0xffffffff) + be(28) + be(28);
  EXPECT_NE(error_of([&] { parse_idx_images(lying, "i.gz"); }).find("does not match"),
            std::string::npos);
  EXPECT_EQ(parse_idx_labels(be(2049) + be(3) + "\1\2\3", "l").size(), 3u);
}

TEST(Files, DevicesAndFoldersAreNotRead) {
  EXPECT_NE(error_of([] { read_file("/dev/zero", "x", 100); }).find("not a regular file"),
            std::string::npos);
  EXPECT_NE(error_of([] { read_file("/", "x", 100); }).find("not a regular file"),
            std::string::npos);
  const std::string big = ::testing::TempDir() + "/lrpbench_big_file";
  std::ofstream(big) << std::string(1000, 'x');
  EXPECT_NE(error_of([&] { read_file(big, "x", 999); }).find("too large"), std::string::npos);
}

}  // namespace
}  // namespace lrpbench
