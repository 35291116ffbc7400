# Installs the nnmf build into a scratch prefix, then configures, builds and runs the client
# project against it, as a downstream user would.
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  message(STATUS "${out}")
endfunction()
if(CONFIG)
  run(${CMAKE_COMMAND} --install ${NNMF_BUILD_DIR} --prefix ${prefix} --config ${CONFIG})
else()
  run(${CMAKE_COMMAND} --install ${NNMF_BUILD_DIR} --prefix ${prefix})
endif()
# A sanitized nnmf needs a sanitized client (the runtime must come first).
run(${CMAKE_COMMAND} -S ${CLIENT_SOURCE_DIR} -B ${WORK_DIR}/build -DCMAKE_PREFIX_PATH=${prefix}
    -DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_FLAGS=${CLIENT_FLAGS}"
    "-DCMAKE_EXE_LINKER_FLAGS=${CLIENT_FLAGS}")
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
run(${WORK_DIR}/build/client)
# A CUDA build installs its CUDA module next to the library (the client above loads it).
if(EXISTS ${NNMF_BUILD_DIR}/libnnmf_cuda.so)
  file(GLOB _nnmf_module ${prefix}/lib*/libnnmf_cuda.so)
  if(NOT _nnmf_module)
    message(FATAL_ERROR "the install tree has no libnnmf_cuda.so (the CUDA module)")
  endif()
endif()
# The README's example (examples/), built and run against the install tree as well.
if(EXAMPLES_SOURCE_DIR)
  run(${CMAKE_COMMAND} -S ${EXAMPLES_SOURCE_DIR} -B ${WORK_DIR}/examples -DCMAKE_PREFIX_PATH=${prefix}
      -DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_FLAGS=${CLIENT_FLAGS}"
      "-DCMAKE_EXE_LINKER_FLAGS=${CLIENT_FLAGS}")
  run(${CMAKE_COMMAND} --build ${WORK_DIR}/examples)
  execute_process(COMMAND ${WORK_DIR}/examples/quickstart ${DATA_DIR}/20news-subsample
                  WORKING_DIRECTORY ${WORK_DIR} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0 OR NOT EXISTS ${WORK_DIR}/model.nnmf)
    message(FATAL_ERROR "examples/quickstart failed (${rc}):\n${out}\n${err}")
  endif()
  message(STATUS "${out}")
endif()
# The installed tool starts from the install tree alone (its RPATH finds the library) and runs
# a real job on the data installed with it.
if(EXISTS ${prefix}/bin/nnmf)
  run(${prefix}/bin/nnmf --version)
  run(${prefix}/bin/nnmf fit ${prefix}/share/nnmf/synthetic-hierarchy/X.mtx --ranks 9,4 --epochs 5
      -o ${WORK_DIR}/fit --quiet)
  if(NOT EXISTS ${WORK_DIR}/fit/model.nnmf)
    message(FATAL_ERROR "the installed nnmf fit wrote no model")
  endif()
  run(${prefix}/bin/nnmf eval ${WORK_DIR}/fit/model.nnmf ${prefix}/share/nnmf/synthetic-hierarchy/X.mtx
      --labels ${prefix}/share/nnmf/synthetic-hierarchy/labels4.txt --quiet)
endif()
