# Compiler settings shared by every target of this project, and small helper functions.

# Designated initializers of RouteSpec leave fields at their defaults on purpose.
set(ARCHESTRA_WARNINGS -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers)

# Sanitizer builds (presets asan and tsan) instrument every target of the tree: the host, the plugins it loads
# and the test runners. -O1 keeps the instrumented suite fast enough to run whole (the last -O wins over the
# Debug -O0); -fno-sanitize-recover makes an undefined-behaviour report fail the process instead of printing.
if(ARCHESTRA_SANITIZE AND ARCHESTRA_TSAN)
  message(FATAL_ERROR "ARCHESTRA_SANITIZE (ASan+UBSan) and ARCHESTRA_TSAN cannot be combined")
endif()
# ARCHESTRA_SANITIZER_FLAGS is also handed to builds outside this tree that the tests make (the out-of-tree SDK
# example), so a plugin the instrumented host loads is instrumented too.
set(ARCHESTRA_SANITIZER_FLAGS "")
if(ARCHESTRA_SANITIZE)
  set(ARCHESTRA_SANITIZER_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
endif()
if(ARCHESTRA_TSAN)
  set(ARCHESTRA_SANITIZER_FLAGS -fsanitize=thread -fno-omit-frame-pointer)
endif()
if(ARCHESTRA_SANITIZER_FLAGS)
  add_compile_options(${ARCHESTRA_SANITIZER_FLAGS} -O1)
  add_link_options(${ARCHESTRA_SANITIZER_FLAGS})
endif()

# Plugins go here in the build tree so the host finds them without installing.
set(ARCHESTRA_BUILD_PLUGIN_DIR "${CMAKE_BINARY_DIR}/plugins-out")
