# The `portable` test of a default build: configure the portable variant (ADAMGN_PORTABLE: the
# plain twins of src/kernels/) in BIN, build it, and run its whole suite, including the
# comparison of every preset's first steps with the default binary REF (tests/test_portable.cpp).
# Usage: cmake -DSRC=<source> -DBIN=<build>/portable -DREF=<default adamgn> -DTYPE=<build type> -P portable_check.cmake
cmake_minimum_required(VERSION 3.18)
cmake_host_system_information(RESULT cores QUERY NUMBER_OF_LOGICAL_CORES)
function(step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE code)
  if(NOT code EQUAL 0)
    message(FATAL_ERROR "portable build: '${ARGN}' failed (${code})")
  endif()
endfunction()
step(${CMAKE_COMMAND} -S ${SRC} -B ${BIN} -DCMAKE_BUILD_TYPE=${TYPE} -DADAMGN_PORTABLE=ON -DADAMGN_TEST_PORTABLE=OFF
     -DADAMGN_REFERENCE_BINARY=${REF})
step(${CMAKE_COMMAND} --build ${BIN} -j ${cores})
step(${CMAKE_CTEST_COMMAND} --test-dir ${BIN} -j ${cores} --output-on-failure)
