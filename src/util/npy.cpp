#include "util/npy.h"

#include <ATen/ATen.h>

#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>

#include "util/error.h"

namespace lrpbench {

at::Tensor read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  require(in.good(), "cannot open '" + path + "'");
  char magic[8];
  in.read(magic, 8);
  require(in.gcount() == 8 && std::memcmp(magic, "\x93NUMPY", 6) == 0,
          "'" + path + "' is not a .npy file");
  uint32_t header_len = 0;
  if (magic[6] == 1) {
    uint16_t h = 0;
    in.read(reinterpret_cast<char*>(&h), 2);
    header_len = h;
  } else {
    in.read(reinterpret_cast<char*>(&header_len), 4);
  }
  require(in.good() && header_len < (1u << 20), "'" + path + "': corrupt .npy header");
  std::string header(header_len, '\0');
  in.read(header.data(), header_len);
  require(in.good(), "'" + path + "': truncated .npy header");
  std::smatch m;
  require(std::regex_search(header, m, std::regex("'descr'\\s*:\\s*'([^']*)'")),
          "'" + path + "': .npy header has no descr");
  const std::string descr = m[1];
  require(descr == "<f4" || descr == "<f8",
          "'" + path + "': dtype " + descr + " is not supported (float32 or float64)");
  require(std::regex_search(header, m, std::regex("'fortran_order'\\s*:\\s*(True|False)")) &&
              m[1] == "False",
          "'" + path + "': Fortran-order arrays are not supported");
  require(std::regex_search(header, m, std::regex("'shape'\\s*:\\s*\\(([^)]*)\\)")),
          "'" + path + "': .npy header has no shape");
  std::vector<int64_t> shape;
  std::stringstream ss(m[1].str());
  std::string item;
  int64_t numel = 1;
  while (std::getline(ss, item, ',')) {
    if (item.find_first_not_of(" ") == std::string::npos) continue;
    shape.push_back(std::stoll(item));
    numel *= shape.back();
  }
  const auto dtype = descr == "<f4" ? at::kFloat : at::kDouble;
  at::Tensor t = at::empty(shape, at::TensorOptions().dtype(dtype));
  const auto bytes = static_cast<std::streamsize>(numel * (descr == "<f4" ? 4 : 8));
  in.read(static_cast<char*>(t.data_ptr()), bytes);
  require(in.gcount() == bytes, "'" + path + "': truncated .npy data");
  return t.to(at::kFloat);
}

void write_npy(const std::string& path, const at::Tensor& tensor) {
  const at::Tensor t = tensor.detach().to(at::kCPU).to(at::kFloat).contiguous();
  std::string shape;
  for (int64_t d : t.sizes()) shape += std::to_string(d) + ", ";
  if (t.dim() > 1) shape.resize(shape.size() - 1);  // drop the trailing space
  if (t.dim() > 1) shape.pop_back();                // and the trailing comma
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + shape + "), }";
  const size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  std::ofstream out(path, std::ios::binary);
  require(out.good(), "cannot write '" + path + "'");
  out.write("\x93NUMPY\x01\x00", 8);
  const uint16_t len = static_cast<uint16_t>(header.size());
  out.write(reinterpret_cast<const char*>(&len), 2);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(static_cast<const char*>(t.data_ptr()), static_cast<std::streamsize>(t.nbytes()));
  require(out.good(), "failed writing '" + path + "'");
}

}  // namespace lrpbench
