#pragma once
// Model and weight files as a registry of formats (docs/method.md, "Models from files"): a file
// is read once, sniffed once (its zip directory parsed once where it is a zip) and handed to
// the one reader that owns it. A new format is one row in formats.cpp and its reader.
#include <optional>
#include <string>
#include <vector>

#include "model/network.h"
#include "util/zip.h"

namespace lrpbench {

// A file's bytes and, where they are a zip, its parsed directory (a view into `bytes`: the
// object stays where it was made).
class OpenedFile {
 public:
  // Reads `path` (at most kMaxWeightsBytes; a FIFO or device refused), `what` naming the
  // option in errors ("--model", "--weights"); a zip's directory is parsed (InputError when
  // it is damaged).
  OpenedFile(const std::string& path, const std::string& what);
  OpenedFile(const OpenedFile&) = delete;
  OpenedFile& operator=(const OpenedFile&) = delete;

  const std::string& path() const { return path_; }
  const std::string& bytes() const { return bytes_; }
  const ZipArchive* zip() const { return zip_ ? &*zip_ : nullptr; }

 private:
  std::string path_, bytes_;
  std::optional<ZipArchive> zip_;
};

struct FileFormat {
  const char* name;                   // "torchscript", "pth", "safetensors", "pickle", "onnx"
  bool (*claims)(const OpenedFile&);  // the sniff
  // --model FILE: the network with its weights, not yet finalised (null: not a model format).
  Network (*read_model)(const OpenedFile&);
  // --weights FILE: fills a built-in's parameters (null: carries no weights for one).
  void (*load_weights)(Network& net, const OpenedFile&);
  // Non-null: a format recognised only to be refused, with this advice after the path.
  const char* refusal;
};

// The formats in sniffing order (safetensors before the legacy pickle: a safetensors header
// length may start with the pickle's byte 0x80).
const std::vector<FileFormat>& file_formats();

// The first format that claims the file, or null.
const FileFormat* sniff_format(const OpenedFile& file);

}  // namespace lrpbench
