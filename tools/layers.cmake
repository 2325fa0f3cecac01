# layers.cmake: the include boundaries of the source layers, and their size
# rule. Included by CMakeLists.txt (checked at configure time) and run as a
# script by the ctest `layers`:
#
#   cmake -DROOT=<source dir> -P tools/layers.cmake
#
# A layer's files may include the headers of the layers it is built on
# (WIPPY_LAYER_USES) and no others; a header belongs to the folder it is in.
#
#   sched/    the actor kernel: C, Concurrency Kit, pthreads
#   util/     small utilities, on sched/'s allocator
#   vm/       the Lua process runtime
#   modules/  the Lua modules, on vm/
#   app/      application loading and supervision, on vm/
#   cluster/  a node of a cluster over NATS: C, libnats, pthreads, on util/
#             and sched/ (vm/ knows nothing of it: the node's name reaches
#             the runtime as a string, through cli/)
#   cli/      the command line, on everything
#
# Besides: Lua's headers only in vm/ and modules/ (app/ reaches Lua through
# vm/'s API and calls no lua_ or luaL_ function itself); yaml.h only in
# app/yamltree.c, so no file both parses YAML and drives Lua; no source
# file over WIPPY_MAX_LINES lines.

cmake_policy(VERSION 3.18) # IN_LIST in script mode
set(WIPPY_LAYERS sched util vm modules app cluster cli)
set(WIPPY_LAYER_USES_sched sched)
set(WIPPY_LAYER_USES_util util sched)
set(WIPPY_LAYER_USES_vm vm util sched)
set(WIPPY_LAYER_USES_modules modules vm util sched)
set(WIPPY_LAYER_USES_app app vm util sched)
set(WIPPY_LAYER_USES_cluster cluster util sched)
set(WIPPY_LAYER_USES_cli cli app modules vm cluster util sched)
set(WIPPY_LUA_LAYERS vm modules)
set(WIPPY_YAML_FILES app/yamltree.c)
set(WIPPY_MAX_LINES 1000)

function(wippy_check_layers root outvar)
  set(problems "")
  # which layer owns each header
  foreach(layer ${WIPPY_LAYERS})
    file(GLOB hs RELATIVE ${root}/${layer} ${root}/${layer}/*.h)
    foreach(h ${hs})
      set(owner_${h} ${layer})
    endforeach()
  endforeach()
  foreach(layer ${WIPPY_LAYERS})
    file(GLOB files RELATIVE ${root} ${root}/${layer}/*.c ${root}/${layer}/*.h)
    foreach(f ${files})
      file(STRINGS ${root}/${f} incs REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"]")
      foreach(line ${incs})
        string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*[<\"]([^>\"]+)[>\"].*" "\\1" inc "${line}")
        if(DEFINED owner_${inc})
          if(NOT owner_${inc} IN_LIST WIPPY_LAYER_USES_${layer})
            string(APPEND problems "  ${f}: includes ${inc} (${owner_${inc}}/), which ${layer}/ may not use\n")
          endif()
        elseif(inc MATCHES "^(lua|lauxlib|lualib|luaconf)\\.h$")
          if(NOT layer IN_LIST WIPPY_LUA_LAYERS)
            string(APPEND problems "  ${f}: includes ${inc}: only ${WIPPY_LUA_LAYERS} use Lua's headers\n")
          endif()
        elseif(inc STREQUAL "yaml.h")
          if(NOT f IN_LIST WIPPY_YAML_FILES)
            string(APPEND problems "  ${f}: includes yaml.h: only ${WIPPY_YAML_FILES} parses YAML\n")
          endif()
        endif()
      endforeach()
      if(layer STREQUAL "app" AND f MATCHES "\\.c$")
        file(STRINGS ${root}/${f} calls REGEX "(^|[^A-Za-z0-9_])luaL?_[a-z]+[ \t]*\\(")
        if(calls)
          string(APPEND problems "  ${f}: calls the Lua API (app/ runs Lua only through vm/)\n")
        endif()
      endif()
      if(f MATCHES "\\.c$")
        file(READ ${root}/${f} text)
        string(REGEX MATCHALL "\n" nls "${text}")
        list(LENGTH nls n)
        if(n GREATER WIPPY_MAX_LINES)
          string(APPEND problems "  ${f}: ${n} lines (split it: at most ${WIPPY_MAX_LINES})\n")
        endif()
      endif()
    endforeach()
  endforeach()
  if(problems)
    set(${outvar} "layer rules broken (tools/layers.cmake):\n${problems}" PARENT_SCOPE)
  else()
    set(${outvar} "" PARENT_SCOPE)
  endif()
endfunction()

if(CMAKE_SCRIPT_MODE_FILE AND CMAKE_SCRIPT_MODE_FILE STREQUAL CMAKE_CURRENT_LIST_FILE)
  if(NOT ROOT)
    message(FATAL_ERROR "usage: cmake -DROOT=<source dir> -P tools/layers.cmake")
  endif()
  wippy_check_layers(${ROOT} err)
  if(err)
    message(FATAL_ERROR "${err}")
  endif()
  message(STATUS "layers: every rule holds")
endif()
