# Builds the CUDA backend; included by the root CMakeLists.txt after the nnmf target, when
# NNMF_WITH_CUDA is ON. cudart is linked statically to avoid version skew on the GPU machine.
#
# Shared libnnmf: the CUDA sources form the module libnnmf_cuda.so, built and installed next to
# libnnmf, which loads it (dlopen) on the first Context::cuda() (core/cuda_hooks.cpp): host-only
# use never loads cudart, cuBLAS, cuSPARSE or nvJitLink. Its version script exports the module's
# entry, plus the CUDA-event timer and the test hooks (cuda/event_timer.hpp, cuda/testing.hpp)
# for the benchmarks and tests, which link the module directly.
# Static libnnmf: the CUDA sources are part of libnnmf itself.
set(_nnmf_cuda_flags $<$<COMPILE_LANGUAGE:CUDA>:--expt-relaxed-constexpr -Xcompiler=-fopenmp>)
if(NOT NNMF_SHARED)
  set_target_properties(nnmf PROPERTIES CUDA_RUNTIME_LIBRARY Static CUDA_SEPARABLE_COMPILATION OFF)
  target_link_libraries(nnmf PRIVATE CUDA::cublas CUDA::cusparse)
  target_compile_options(nnmf PRIVATE ${_nnmf_cuda_flags})
  return()
endif()

add_library(nnmf_cuda SHARED ${NNMF_CUDA_SOURCES} src/cuda/module.cpp)
set_target_properties(nnmf_cuda PROPERTIES
  CUDA_RUNTIME_LIBRARY Static
  CUDA_SEPARABLE_COMPILATION OFF
  POSITION_INDEPENDENT_CODE ON
  # Found by libnnmf next to itself; the CUDA libraries from the toolkit it was built with
  # (or the library search path of the machine it runs on).
  INSTALL_RPATH "$ORIGIN;${CUDAToolkit_LIBRARY_DIR}"
  LINK_DEPENDS ${PROJECT_SOURCE_DIR}/src/cuda/module.map)
target_include_directories(nnmf_cuda PRIVATE ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(nnmf_cuda PRIVATE nnmf CUDA::cublas CUDA::cusparse OpenMP::OpenMP_CXX)
target_compile_options(nnmf_cuda PRIVATE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wno-unknown-pragmas> ${_nnmf_cuda_flags})
target_link_options(nnmf_cuda PRIVATE
  "LINKER:--version-script=${PROJECT_SOURCE_DIR}/src/cuda/module.map" "LINKER:--no-undefined")
install(TARGETS nnmf_cuda LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
