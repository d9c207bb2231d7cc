# The CMake package end to end: installs the build into a fresh prefix, builds
# examples/place_database there with find_package(vpr) and runs it. With Gardens Point in
# SHARED, its recall@1 must be the hits `vpr eval` reports for the same checkpoint.
#   cmake -DBUILD=<build dir> -DSOURCE=<source dir> -DSHARED=<../shared> -DCXX=<compiler> -P package_test.cmake

set(work ${BUILD}/package_test)
set(prefix ${work}/prefix)
file(REMOVE_RECURSE ${work})

# Runs a command; on failure stops with the step's name, the command and its output.
function(step name)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " command "${ARGN}")
    message(FATAL_ERROR "package test: step '${name}' failed (exit ${rc}):\n${command}\n${out}")
  endif()
  message(STATUS "package test: ${name}: ok")
  set(output "${out}" PARENT_SCOPE)
endfunction()

step(install ${CMAKE_COMMAND} --install ${BUILD} --prefix ${prefix})
step("configure the example" ${CMAKE_COMMAND} -S ${SOURCE}/examples/place_database -B ${work}/example
     -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_CXX_COMPILER=${CXX})
step("build the example" ${CMAKE_COMMAND} --build ${work}/example)

set(gardens_point ${SHARED}/data/gardens_point)
set(weights ${SHARED}/data/weights/mobilenet_v2_imagenet.pth)
if(NOT EXISTS ${gardens_point}/day_right OR NOT EXISTS ${weights})
  message("package test: skipped the run: no Gardens Point and MobileNetV2 weights under ${SHARED}")
  return()
endif()

# A small checkpoint (K = 16 at 160 px) keeps the three passes over 400 images short.
step("vpr cluster" ${prefix}/bin/vpr cluster --model ${weights} --backbone mobilenet_v2 --normalize tf --tf-padding
     --clusters 16 --max-side 160 --images ${gardens_point}/day_right --out ${work}/k16.pth --quiet)
# --full-decode: the example decodes with cv::imread at full size.
step("vpr eval" ${prefix}/bin/vpr eval --model ${work}/k16.pth --db ${gardens_point}/day_right
     --queries ${gardens_point}/day_left --frame-tolerance 2 --max-side 160 --full-decode --no-cache
     --out ${work}/eval --quiet)
file(READ ${work}/eval/metrics.json metrics)
string(JSON eval_hits GET "${metrics}" hits_at 1)
string(JSON eval_queries GET "${metrics}" num_queries)

step("run the example" ${work}/example/vpr_place_database_example --model ${work}/k16.pth --max-side 160
     --db ${gardens_point}/day_right --queries ${gardens_point}/day_left --tolerance 2 --out ${work}/map.vprdb)
message(STATUS "package test: ${output}")
if(NOT output MATCHES "recall@1 [0-9.]+ \\(([0-9]+)/([0-9]+)\\), saved and loaded databases agree")
  message(FATAL_ERROR "package test: step 'check the example' failed: no recall@1 line in its output:\n${output}")
endif()
if(NOT CMAKE_MATCH_1 EQUAL eval_hits OR NOT CMAKE_MATCH_2 EQUAL eval_queries)
  message(FATAL_ERROR "package test: step 'check the example' failed: the example finds ${CMAKE_MATCH_1}/${CMAKE_MATCH_2}"
                      " top-1 hits, vpr eval ${eval_hits}/${eval_queries}")
endif()
