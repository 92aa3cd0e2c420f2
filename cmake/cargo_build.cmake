# Runs cargo for libgmmvi.a and copies the archive and the generated header to the CMake build
# tree (cmake -P, arguments from CMakeLists.txt). ffi/build.rs reads the sizes from the
# environment and writes the header to GMMVI_HEADER_OUT.
cmake_minimum_required(VERSION 3.16)

# Set every size explicitly, so a GMMVI_* variable in the caller's environment cannot change
# the build behind the cache's back; an empty one means ffi/build.rs's default.
foreach(var DIM MAX_COMPONENTS SAMPLES_PER_COMPONENT STORE_CAPACITY STORED_GAUSSIANS HISTORY SCALAR BG_CACHE)
  if("${${var}}" STREQUAL "")
    unset(ENV{GMMVI_${var}})
  else()
    set(ENV{GMMVI_${var}} "${${var}}")
  endif()
endforeach()
# Beside the archive in cargo's target directory, not in this build tree: a second build tree
# sharing the target directory then sees the same environment and reuses cargo's work.
set(cargo_header "${CARGO_OUT}/gmmvi.h")
set(ENV{GMMVI_HEADER_OUT} "${cargo_header}")

set(where --release --manifest-path "${SOURCE_DIR}/Cargo.toml" --target-dir "${CARGO_TARGET_DIR}")
if(RUST_TARGET)
  list(APPEND where --target "${RUST_TARGET}")
endif()
set(features)
if(NOT ALL_OPTIONS)
  # SAMTRUX only, with every other default (decimal numbers in the text form).
  set(features --no-default-features --features decimal-text)
endif()

# ffi/build.rs writes the header only when it runs: if the header is gone while cargo still has
# the build script's result, make cargo run it again.
if(NOT EXISTS "${cargo_header}" AND EXISTS "${CARGO_OUT}/build")
  execute_process(COMMAND "${CARGO}" clean -p gmmvi-abi ${where} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "cargo clean -p gmmvi-abi failed (${rc})")
  endif()
endif()

# `cargo rustc` is `cargo build` for the one library, with rustc asked which native libraries
# a C program must link besides the archive (cargo repeats the note when the archive is fresh).
set(echo)
if(CMAKE_VERSION VERSION_GREATER_EQUAL 3.18)
  set(echo ECHO_ERROR_VARIABLE)
endif()
string(REPLACE ";" " " shown "cargo rustc -p gmmvi-ffi ${where} ${features} -- --print native-static-libs")
message(STATUS "${shown}")
execute_process(COMMAND "${CARGO}" rustc -p gmmvi-ffi ${where} ${features} -- --print native-static-libs
  RESULT_VARIABLE rc ERROR_VARIABLE err ${echo})
if(NOT echo)
  message("${err}")
endif()
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cargo rustc -p gmmvi-ffi failed (${rc})")
endif()
if(err MATCHES "native-static-libs:([^\n]*)")
  string(STRIP "${CMAKE_MATCH_1}" reported)
  string(STRIP "${NATIVE_LIBS}" configured)
  if(NOT reported STREQUAL configured)
    message(FATAL_ERROR "rustc reports that libgmmvi.a needs the native libraries '${reported}', "
      "configured: '${configured}'. Reconfigure with -DGMMVI_NATIVE_LIBS=\"${reported}\".")
  endif()
endif()

get_filename_component(include_dir "${HEADER}" DIRECTORY)
file(MAKE_DIRECTORY "${include_dir}")
foreach(pair "${CARGO_OUT}/libgmmvi.a|${LIBRARY}" "${cargo_header}|${HEADER}")
  string(REPLACE "|" ";" pair "${pair}")
  list(GET pair 0 from)
  list(GET pair 1 to)
  if(NOT EXISTS "${from}")
    message(FATAL_ERROR "cargo did not produce ${from}")
  endif()
  # Only when changed: an unchanged archive or header keeps its time stamp.
  execute_process(COMMAND "${CMAKE_COMMAND}" -E copy_if_different "${from}" "${to}" RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "copying ${from} to ${to} failed")
  endif()
endforeach()
