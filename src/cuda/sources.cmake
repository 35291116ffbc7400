# Sources of the CUDA backend, included by the root CMakeLists.txt when NNMF_WITH_CUDA is ON.
# Paths are relative to the project root.
set(NNMF_CUDA_SOURCES
  src/cuda/context.cu
  src/cuda/products.cu
  src/cuda/nnls_kernels.cu
  src/cuda/elementwise.cu
  src/cuda/baseline_kernels.cu
  src/cuda/pattern_kernels.cu
)
# The elementwise kernels are compiled without FMA contraction so that each one rounds like
# the host loop it mirrors (src/host/kernels.cpp, built without contraction under -std=c++17).
set_source_files_properties(src/cuda/elementwise.cu src/cuda/baseline_kernels.cu
  PROPERTIES COMPILE_OPTIONS "--fmad=false")
