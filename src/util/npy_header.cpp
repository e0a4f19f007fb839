#include "util/npy_header.h"

#include <cctype>
#include <cstring>
#include <set>

#include "util/bytes.h"
#include "util/dtype.h"
#include "util/error.h"

namespace lrpbench {
namespace {

constexpr size_t kMaxDims = 16;
constexpr int64_t kMaxNumel = int64_t(1) << 40;

// The header: a Python dict literal of strings, booleans and a tuple of integers.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& what) : t_(text), what_(what) {}

  NpyLayout parse() {
    NpyLayout out;
    std::set<std::string> keys;
    std::string descr;
    bool fortran = true;
    expect('{');
    while (!peek('}')) {
      const std::string key = quoted();
      expect(':');
      if (!keys.insert(key).second) fail("key '" + key + "' given twice");
      if (key == "descr") {
        descr = quoted();
      } else if (key == "fortran_order") {
        fortran = boolean();
      } else if (key == "shape") {
        out.shape = tuple();
      } else {
        fail("unexpected key '" + key + "'");
      }
      if (!peek('}')) expect(',');
    }
    expect('}');
    skip();
    if (pos_ != t_.size()) fail("text after the header dict");
    if (keys.size() != 3) fail("descr, fortran_order and shape are required");
    if (descr != "<f4" && descr != "<f8")
      throw InputError(what_ + ": dtype " + descr + " is not supported (float32 or float64)");
    if (fortran) throw InputError(what_ + ": Fortran-order arrays are not supported");
    out.float64 = descr == "<f8";
    return out;
  }

 private:
  std::string_view t_;
  const std::string& what_;
  size_t pos_ = 0;

  [[noreturn]] void fail(const std::string& why) const {
    throw InputError(what_ + ": corrupt .npy header (" + why + ")");
  }
  void skip() {
    while (pos_ < t_.size() && std::isspace(static_cast<unsigned char>(t_[pos_]))) ++pos_;
  }
  bool peek(char c) {
    skip();
    return pos_ < t_.size() && t_[pos_] == c;
  }
  void expect(char c) {
    if (!peek(c)) fail(std::string("expected '") + c + "'");
    ++pos_;
  }
  std::string quoted() {
    skip();
    if (pos_ >= t_.size() || (t_[pos_] != '\'' && t_[pos_] != '"')) fail("expected a string");
    const char q = t_[pos_++];
    const size_t end = t_.find(q, pos_);
    if (end == std::string_view::npos) fail("unterminated string");
    std::string s(t_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return s;
  }
  bool boolean() {
    skip();
    if (t_.substr(pos_, 4) == "True") {
      pos_ += 4;
      return true;
    }
    if (t_.substr(pos_, 5) == "False") {
      pos_ += 5;
      return false;
    }
    fail("expected True or False");
  }
  std::vector<int64_t> tuple() {
    std::vector<int64_t> dims;
    expect('(');
    while (!peek(')')) {
      skip();
      if (pos_ >= t_.size() || !std::isdigit(static_cast<unsigned char>(t_[pos_])))
        throw InputError(what_ + ": .npy shape holds a negative or non-integer dimension");
      int64_t v = 0;
      while (pos_ < t_.size() && std::isdigit(static_cast<unsigned char>(t_[pos_]))) {
        if (v > kMaxNumel / 10) throw InputError(what_ + ": .npy shape dimension is too large");
        v = v * 10 + (t_[pos_++] - '0');
      }
      if (pos_ < t_.size() && t_[pos_] == 'L') ++pos_;  // Python 2 long suffix
      dims.push_back(v);
      if (dims.size() > kMaxDims) fail("too many dimensions");
      if (!peek(')')) expect(',');
    }
    expect(')');
    return dims;
  }
};

}  // namespace

NpyLayout parse_npy(std::string_view file, const std::string& what) {
  require(file.size() >= 10 && std::memcmp(file.data(), "\x93NUMPY", 6) == 0,
          what + ": not a .npy file");
  const int major = static_cast<uint8_t>(file[6]);
  require(major >= 1 && major <= 3, what + ": unsupported .npy format version");
  uint64_t header_len = 0, start = 0;
  if (major == 1) {
    header_len = read_le(file, 8, 2);
    start = 10;
  } else {
    require(file.size() >= 12, what + ": truncated .npy header");
    header_len = read_le(file, 8, 4);
    start = 12;
  }
  require(header_len <= file.size() - start && header_len < (1u << 20),
          what + ": truncated or corrupt .npy header");
  NpyLayout out = HeaderParser(file.substr(start, header_len), what).parse();
  out.data_start = start + header_len;
  require(checked_numel(out.shape.data(), out.shape.size(), kMaxNumel, &out.numel),
          what + ": .npy shape is too large");
  const uint64_t bytes = static_cast<uint64_t>(out.numel) * (out.float64 ? 8 : 4);
  const uint64_t have = file.size() - out.data_start;
  require(have >= bytes, what + ": truncated .npy data (" + std::to_string(have) + " bytes, the shape needs " +
                             std::to_string(bytes) + ")");
  require(have == bytes, what + ": .npy file has " + std::to_string(have - bytes) +
                             " bytes after its data (corrupt?)");
  return out;
}

}  // namespace lrpbench
