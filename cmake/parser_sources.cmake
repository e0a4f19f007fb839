# The parsers of untrusted input (no LibTorch): the main build's lrpbench_parsers library
# and the fuzz targets (fuzz/CMakeLists.txt) compile the same list.
if(NOT DEFINED LRPBENCH_ROOT)
  set(LRPBENCH_ROOT ${CMAKE_CURRENT_LIST_DIR}/..)
endif()
set(PARSER_SOURCES
  ${LRPBENCH_ROOT}/src/util/error.cpp
  ${LRPBENCH_ROOT}/src/util/file.cpp
  ${LRPBENCH_ROOT}/src/util/dtype.cpp
  ${LRPBENCH_ROOT}/src/util/zip.cpp
  ${LRPBENCH_ROOT}/src/util/npy_header.cpp
  ${LRPBENCH_ROOT}/src/model/shape.cpp
  ${LRPBENCH_ROOT}/src/model/graph_check.cpp
  ${LRPBENCH_ROOT}/src/model/pickle.cpp
  ${LRPBENCH_ROOT}/src/model/archive.cpp
  ${LRPBENCH_ROOT}/src/model/safetensors_header.cpp
  ${LRPBENCH_ROOT}/src/data/idx.cpp
  ${LRPBENCH_ROOT}/src/data/image_header.cpp
  ${LRPBENCH_ROOT}/src/data/loc_csv.cpp
  ${LRPBENCH_ROOT}/src/data/imagenet_labels.cpp
  ${LRPBENCH_ROOT}/src/lrp/stabilizer_kind.cpp
  ${LRPBENCH_ROOT}/src/lrp/rule.cpp
  ${LRPBENCH_ROOT}/src/lrp/composite.cpp
  ${LRPBENCH_ROOT}/src/lrp/presets.cpp
  ${LRPBENCH_ROOT}/src/perturbation/order.cpp
  ${LRPBENCH_ROOT}/src/perturbation/schedule.cpp
  ${LRPBENCH_ROOT}/src/perturbation/settings.cpp
  ${LRPBENCH_ROOT}/src/perturbation/auc.cpp
  ${LRPBENCH_ROOT}/src/perturbation/metric_catalogue.cpp
  ${LRPBENCH_ROOT}/src/search/space.cpp
  ${LRPBENCH_ROOT}/src/search/experiment.cpp
  ${LRPBENCH_ROOT}/src/search/store.cpp
  ${LRPBENCH_ROOT}/src/search/winners.cpp
  ${LRPBENCH_ROOT}/src/search/sampling.cpp
  ${LRPBENCH_ROOT}/src/search/stored_run.cpp
)
# The ONNX reader's parsing and checking half: built where libonnx and protobuf are found.
set(PARSER_SOURCES_ONNX ${LRPBENCH_ROOT}/src/model/onnx_spec.cpp
    ${LRPBENCH_ROOT}/src/model/onnx_fold.cpp ${LRPBENCH_ROOT}/src/model/onnx_tokens.cpp)
