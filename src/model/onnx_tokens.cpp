#include "model/onnx_builder.h"
