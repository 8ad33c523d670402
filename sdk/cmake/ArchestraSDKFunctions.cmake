# archestra_add_plugin(): builds a plugin shared library plus its plugin.json. Used by bundled plugins in this
# tree and by out-of-tree plugins through find_package(ArchestraSDK), so both are built the same way.
#
# archestra_add_plugin(<name>
#     KIND <secrets|sso|orchestrator|telemetry>
#     VERSION <x.y.z>
#     SOURCES <files...>
#     [DESCRIPTION <text>]
#     [LINK <targets...>]          # private dependencies (Poco, OpenSSL, ...)
#     [OUTPUT_DIR <dir>]           # default: ARCHESTRA_BUILD_PLUGIN_DIR, else <build>/plugins-out
#     [MANIFEST_NAME <name>]       # write another name into plugin.json (only for loader test fixtures)
#     [MANIFEST_VERSION <version>] # idem
#     [NO_INSTALL])
#
# Produces the target `archestra_plugin_<kind>_<name>` and, in <OUTPUT_DIR>/<kind>.<name>/:
#   archestra-<kind>-<name>.so   built with -fvisibility=hidden, no undefined symbols
#   plugin.json                  {name, kind, version, description, abi:{major,minor}, file}
# and installs both to <ARCHESTRA_PLUGIN_INSTALL_DIR>/<kind>.<name>/ unless NO_INSTALL.
#
# Needs ARCHESTRA_SDK_INCLUDE_DIR (set by the in-tree sdk/CMakeLists.txt or by ArchestraSDKConfig.cmake).

include_guard(GLOBAL)
include(GNUInstallDirs)

# The ABI version has one source of truth, abi.h; read it from there.
function(_archestra_sdk_read_abi out_major out_minor)
  set(header "${ARCHESTRA_SDK_INCLUDE_DIR}/archestra/sdk/abi.h")
  if(NOT EXISTS "${header}")
    message(FATAL_ERROR "archestra_add_plugin: SDK header '${header}' not found; expected ARCHESTRA_SDK_INCLUDE_DIR "
                        "('${ARCHESTRA_SDK_INCLUDE_DIR}') to hold archestra/sdk/abi.h")
  endif()
  file(STRINGS "${header}" major_line REGEX "^#define ARCHESTRA_SDK_ABI_MAJOR [0-9]+$")
  file(STRINGS "${header}" minor_line REGEX "^#define ARCHESTRA_SDK_ABI_MINOR [0-9]+$")
  string(REGEX REPLACE ".* ([0-9]+)$" "\\1" major "${major_line}")
  string(REGEX REPLACE ".* ([0-9]+)$" "\\1" minor "${minor_line}")
  if(major STREQUAL "" OR minor STREQUAL "")
    message(FATAL_ERROR "archestra_add_plugin: could not read ARCHESTRA_SDK_ABI_MAJOR/MINOR from '${header}'")
  endif()
  set(${out_major} ${major} PARENT_SCOPE)
  set(${out_minor} ${minor} PARENT_SCOPE)
endfunction()

if(NOT DEFINED ARCHESTRA_PLUGIN_INSTALL_DIR)
  set(ARCHESTRA_PLUGIN_INSTALL_DIR "${CMAKE_INSTALL_LIBDIR}/archestra/plugins")
endif()

function(archestra_add_plugin name)
  cmake_parse_arguments(P "NO_INSTALL" "KIND;VERSION;DESCRIPTION;OUTPUT_DIR;MANIFEST_NAME;MANIFEST_VERSION"
                        "SOURCES;LINK" ${ARGN})
  if(NOT name MATCHES "^[a-z0-9][a-z0-9_-]*$")
    message(FATAL_ERROR "archestra_add_plugin: name '${name}' must match [a-z0-9][a-z0-9_-]*")
  endif()
  if(NOT P_KIND MATCHES "^(secrets|sso|orchestrator|telemetry)$")
    message(FATAL_ERROR "archestra_add_plugin(${name}): KIND '${P_KIND}' must be one of secrets, sso, orchestrator, telemetry")
  endif()
  if(NOT P_VERSION)
    message(FATAL_ERROR "archestra_add_plugin(${name}): VERSION is required (e.g. 1.0.0)")
  endif()
  if(NOT P_SOURCES)
    message(FATAL_ERROR "archestra_add_plugin(${name}): SOURCES is required")
  endif()
  if(NOT P_OUTPUT_DIR)
    if(DEFINED ARCHESTRA_BUILD_PLUGIN_DIR)
      set(P_OUTPUT_DIR "${ARCHESTRA_BUILD_PLUGIN_DIR}")
    else()
      set(P_OUTPUT_DIR "${CMAKE_BINARY_DIR}/plugins-out")
    endif()
  endif()
  if(NOT P_MANIFEST_NAME)
    set(P_MANIFEST_NAME "${name}")
  endif()
  if(NOT P_MANIFEST_VERSION)
    set(P_MANIFEST_VERSION "${P_VERSION}")
  endif()
  if(ARCHESTRA_SDK_CXX_COMPILER_ID AND (NOT CMAKE_CXX_COMPILER_ID STREQUAL ARCHESTRA_SDK_CXX_COMPILER_ID OR
                                        NOT CMAKE_CXX_COMPILER_VERSION STREQUAL ARCHESTRA_SDK_CXX_COMPILER_VERSION))
    message(WARNING "archestra_add_plugin(${name}): compiler is ${CMAKE_CXX_COMPILER_ID} "
                    "${CMAKE_CXX_COMPILER_VERSION} but the platform was built with ${ARCHESTRA_SDK_CXX_COMPILER_ID} "
                    "${ARCHESTRA_SDK_CXX_COMPILER_VERSION}; the host will refuse the plugin if the fingerprint differs")
  endif()

  _archestra_sdk_read_abi(abi_major abi_minor)
  set(target archestra_plugin_${P_KIND}_${name})
  set(dir "${P_OUTPUT_DIR}/${P_KIND}.${name}")
  add_library(${target} MODULE ${P_SOURCES})
  set(cxx_standard 20)
  if(ARCHESTRA_SDK_CXX_STANDARD)
    set(cxx_standard ${ARCHESTRA_SDK_CXX_STANDARD})
  endif()
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    OUTPUT_NAME "archestra-${P_KIND}-${name}"
    LIBRARY_OUTPUT_DIRECTORY "${dir}"
    CXX_STANDARD ${cxx_standard}
    CXX_STANDARD_REQUIRED ON
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    POSITION_INDEPENDENT_CODE ON)
  target_compile_definitions(${target} PRIVATE
    ARCHESTRA_PLUGIN_NAME="${name}" ARCHESTRA_PLUGIN_KIND="${P_KIND}" ARCHESTRA_PLUGIN_VERSION="${P_VERSION}")
  # A plugin may only use the SDK and its own dependencies, never symbols of the host.
  target_link_options(${target} PRIVATE "LINKER:--no-undefined")
  target_link_libraries(${target} PRIVATE Archestra::sdk ${P_LINK})

  string(REPLACE "\\" "\\\\" description "${P_DESCRIPTION}")
  string(REPLACE "\"" "\\\"" description "${description}")
  file(GENERATE OUTPUT "${dir}/plugin.json" CONTENT
"{
  \"name\": \"${P_MANIFEST_NAME}\",
  \"kind\": \"${P_KIND}\",
  \"version\": \"${P_MANIFEST_VERSION}\",
  \"description\": \"${description}\",
  \"abi\": {\"major\": ${abi_major}, \"minor\": ${abi_minor}},
  \"file\": \"$<TARGET_FILE_NAME:${target}>\"
}
")
  if(NOT P_NO_INSTALL)
    # Resolved here, not only when this file is included: in-tree the include happens in sdk/'s directory
    # scope, so plugins/ would otherwise see an empty variable and install to /<kind>.<name>.
    set(install_dir "${ARCHESTRA_PLUGIN_INSTALL_DIR}")
    if(install_dir STREQUAL "")
      include(GNUInstallDirs)
      set(install_dir "${CMAKE_INSTALL_LIBDIR}/archestra/plugins")
    endif()
    # Lets a build that bundles plugins build them all with one target (the platform's `make run`).
    set_property(GLOBAL APPEND PROPERTY ARCHESTRA_BUNDLED_PLUGINS ${target})
    install(TARGETS ${target} LIBRARY DESTINATION "${install_dir}/${P_KIND}.${name}")
    install(FILES "${dir}/plugin.json" DESTINATION "${install_dir}/${P_KIND}.${name}")
  endif()
endfunction()
