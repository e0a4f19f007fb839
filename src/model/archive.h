#pragma once
// The containers of zip-format PyTorch files, checked without LibTorch: torch.save archives
// (a state dict) and torch.jit.save archives (TorchScript). Every record a pickle names must
// exist and hold the bytes its storage declares before anything is allocated from it, so
// LibTorch only ever sees archives that passed these checks.
#include <string>
#include <string_view>
#include <vector>

#include "util/dtype.h"
#include "util/zip.h"

namespace lrpbench {

// A tensor of a state dict, as plain data: a strided view on a storage inside the archive.
struct TensorRef {
  std::string key;
  DType dtype = DType::Float32;
  std::string_view storage;  // the storage's bytes (numel x element size), inside the archive
  int64_t offset = 0;
  std::vector<int64_t> sizes, strides;
};

// The record folder of a PyTorch archive ("archive/data.pkl" -> "archive/"); InputError when
// there is no data.pkl.
std::string archive_prefix(const ZipArchive& zip);

// Whether the archive is a TorchScript module (it has constants.pkl and code/).
bool is_torchscript_archive(const ZipArchive& zip);

// Reads the state dict of a torch.save archive: a dict of tensors, an OrderedDict, or a dict
// holding one under "state_dict" / "model". InputError naming the file otherwise.
std::vector<TensorRef> parse_pth_archive(const ZipArchive& zip);

// Checks a TorchScript archive before torch::jit::load sees it: its pickles (data.pkl,
// constants.pkl) parse, every storage they name exists with enough bytes, every other record
// (code, debug pickles) reads to its size and CRC, it has code, and no class in the code
// assigns an attribute without a type (LibTorch 1.13 crashes on that).
void check_torchscript_archive(const ZipArchive& zip);

}  // namespace lrpbench
