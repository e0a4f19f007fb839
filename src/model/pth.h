#pragma once
#include <string>

#include "model/state_dict.h"

namespace lrpbench {

// Reads a zip-format PyTorch file written by torch.save: a plain dict of tensors, an
// OrderedDict (what torch.save(model.state_dict()) writes), or a dict holding one of those
// under "state_dict" / "model". Legacy (pre-1.6) files are refused with a pointer to
// tools/convert_weights.py.
StateDict read_pth(const std::string& path);
// Whether the zip-format PyTorch archive at `path` holds a record `name` (e.g.
// "constants.pkl", which marks a TorchScript module).
bool zip_has_record(const std::string& path, const std::string& name);

}  // namespace lrpbench
