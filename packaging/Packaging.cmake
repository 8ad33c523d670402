# Debian packages (CPack DEB): `archestra-platform` (binary, bundled plugins, UI, migrations, conf/, systemd
# unit) and `archestra-platform-dev` (the plugin SDK). Build with `cpack -G DEB` in a build tree.
# The binary looks for plugins, UI, migrations and its settings file where CMAKE_INSTALL_PREFIX says, so the
# package installs under that same prefix. Release packages: configure with -DCMAKE_INSTALL_PREFIX=/usr
# -DCMAKE_INSTALL_SYSCONFDIR=/etc (the unit's EnvironmentFile is /etc/archestra/platform.env either way).

set(ARCHESTRA_FULL_BINDIR "${CMAKE_INSTALL_FULL_BINDIR}")
set(ARCHESTRA_FULL_CONFDIR "${CMAKE_INSTALL_FULL_SYSCONFDIR}/archestra")
set(pkg_gen "${PROJECT_BINARY_DIR}/packaging")
configure_file(${CMAKE_CURRENT_LIST_DIR}/archestra-platform.service.in ${pkg_gen}/archestra-platform.service @ONLY)
configure_file(${CMAKE_CURRENT_LIST_DIR}/postinst.in ${pkg_gen}/postinst @ONLY
               FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
configure_file(${CMAKE_CURRENT_LIST_DIR}/prerm.in ${pkg_gen}/prerm @ONLY
               FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
file(WRITE ${pkg_gen}/conffiles "${ARCHESTRA_FULL_CONFDIR}/archestra.properties\n${ARCHESTRA_FULL_CONFDIR}/platform.env\n")

install(FILES ${pkg_gen}/archestra-platform.service DESTINATION lib/systemd/system)
install(FILES ${CMAKE_CURRENT_LIST_DIR}/platform.env DESTINATION ${CMAKE_INSTALL_SYSCONFDIR}/archestra
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ)

set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "archestra-platform")
set(CPACK_PACKAGE_VENDOR "Archestra")
set(CPACK_PACKAGE_CONTACT "Archestra <hello@archestra.ai>")
set(CPACK_PACKAGE_VERSION "${ARCHESTRA_VERSION}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Security gateway between AI agents and LLM providers / MCP servers")
set(CPACK_PACKAGING_INSTALL_PREFIX "${CMAKE_INSTALL_PREFIX}")
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL Unspecified sdk)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION "net")
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://github.com/archestra-ai/archestra")
# Shared-library dependencies of the binary and plugins computed by dpkg-shlibdeps.
set(CPACK_DEBIAN_UNSPECIFIED_PACKAGE_NAME "archestra-platform")
set(CPACK_DEBIAN_UNSPECIFIED_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_UNSPECIFIED_PACKAGE_DEPENDS "adduser, ca-certificates")
# The embedded database needs the server; an external one does not.
set(CPACK_DEBIAN_UNSPECIFIED_PACKAGE_RECOMMENDS "postgresql (>= 15)")
set(CPACK_DEBIAN_UNSPECIFIED_PACKAGE_CONTROL_EXTRA "${pkg_gen}/postinst;${pkg_gen}/prerm;${pkg_gen}/conffiles")
set(CPACK_DEBIAN_UNSPECIFIED_DESCRIPTION "Archestra Platform server
 The archestra-platform binary, its bundled plugins, the Admin UI, database migrations, the settings file
 and the systemd unit archestra-platform.service.")
set(CPACK_DEBIAN_SDK_PACKAGE_NAME "archestra-platform-dev")
set(CPACK_DEBIAN_SDK_PACKAGE_ARCHITECTURE "all")
set(CPACK_DEBIAN_SDK_DESCRIPTION "Archestra Platform plugin SDK
 C++ headers and the CMake package (find_package(ArchestraSDK), archestra_add_plugin()) to build plugins
 out of tree.")
set(CPACK_COMPONENT_SDK_DESCRIPTION "Plugin SDK")
include(CPack)
