// The PNG / JPEG structure checks run before OpenCV decodes an image.
#include "data/image_header.h"
#include "fuzz.h"

LRPBENCH_FUZZ({
  const lrpbench::ImageInfo info = lrpbench::inspect_image(input, "fuzz.img");
  if (info.width <= 0 || info.height <= 0 || info.width * info.height > lrpbench::kMaxImagePixels)
    __builtin_trap();
})
