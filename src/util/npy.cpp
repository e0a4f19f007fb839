#include "util/npy.h"

#include <ATen/ATen.h>

#include <cstring>

#include "util/error.h"
#include "util/file.h"
#include "util/npy_header.h"

namespace lrpbench {

at::Tensor read_npy(const std::string& path) {
  const std::string bytes = read_file(path, "'" + path + "'", kMaxNpyBytes);
  const NpyLayout l = parse_npy(bytes, "'" + path + "'");
  at::Tensor t = at::empty(l.shape, at::TensorOptions().dtype(l.float64 ? at::kDouble : at::kFloat));
  if (l.numel > 0) std::memcpy(t.data_ptr(), bytes.data() + l.data_start, t.nbytes());
  return t.to(at::kFloat);
}

std::string npy_bytes(const at::Tensor& tensor) {
  const at::Tensor t = tensor.detach().to(at::kCPU).to(at::kFloat).contiguous();
  std::string shape;
  for (int64_t d : t.sizes()) shape += std::to_string(d) + ", ";
  if (t.dim() > 1) shape.resize(shape.size() - 1);  // drop the trailing space
  if (t.dim() > 1) shape.pop_back();                // and the trailing comma
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + shape + "), }";
  const size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  std::string out("\x93NUMPY\x01\x00", 8);
  const uint16_t len = static_cast<uint16_t>(header.size());
  out.append(reinterpret_cast<const char*>(&len), 2);
  out += header;
  out.append(static_cast<const char*>(t.data_ptr()), t.nbytes());
  return out;
}

void write_npy(const std::string& path, const at::Tensor& tensor) {
  write_file_atomic(path, npy_bytes(tensor));
}

}  // namespace lrpbench
