# Compiler settings shared by every target of this project, and small helper functions.

# Designated initializers of RouteSpec leave fields at their defaults on purpose.
set(ARCHESTRA_WARNINGS -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers)

if(ARCHESTRA_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
if(ARCHESTRA_TSAN)
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
endif()

# Plugins go here in the build tree so the host finds them without installing.
set(ARCHESTRA_BUILD_PLUGIN_DIR "${CMAKE_BINARY_DIR}/plugins-out")
