#pragma once
#include <string>

#include "model/state_dict.h"
#include "util/zip.h"

namespace lrpbench {

// Bound on weight files read into memory.
constexpr uint64_t kMaxWeightsBytes = 16ull << 30;

// Reads a zip-format PyTorch file written by torch.save: a plain dict of tensors, an
// OrderedDict (what torch.save(model.state_dict()) writes), or a dict holding one of those
// under "state_dict" / "model". The archive and its pickle are checked first
// (model/archive.h); legacy (pre-1.6) files are refused by the caller.
StateDict read_pth(const std::string& path);
// The same from the file's bytes; `path` names it in errors.
StateDict read_pth_bytes(const std::string& bytes, const std::string& path);
// The same with the archive's directory already parsed (model/formats.h).
StateDict read_pth_archive(const ZipArchive& zip, const std::string& path);

}  // namespace lrpbench
