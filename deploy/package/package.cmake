# Install rules and the Debian package (cpack -G DEB; scripts/package runs it).
include(GNUInstallDirs)
set(TURNOUT_PKG_DIR ${PROJECT_SOURCE_DIR}/deploy/package)
set(TURNOUT_INSTALLED_CONFIG ${CMAKE_BINARY_DIR}/package/turnout.yaml)
add_custom_command(OUTPUT ${TURNOUT_INSTALLED_CONFIG}
  COMMAND ${CMAKE_COMMAND} -DIN=${PROJECT_SOURCE_DIR}/config/turnout.yaml -DOUT=${TURNOUT_INSTALLED_CONFIG}
          -P ${TURNOUT_PKG_DIR}/installed_config.cmake
  DEPENDS ${PROJECT_SOURCE_DIR}/config/turnout.yaml ${TURNOUT_PKG_DIR}/installed_config.cmake)
add_custom_target(turnout_installed_config ALL DEPENDS ${TURNOUT_INSTALLED_CONFIG})

install(TARGETS turnout RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(PROGRAMS ${PROJECT_SOURCE_DIR}/deploy/systemd/turnout-role DESTINATION lib/turnout)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/systemd/turnout@.service DESTINATION /lib/systemd/system)
install(FILES ${TURNOUT_INSTALLED_CONFIG} ${PROJECT_SOURCE_DIR}/config/gateway-keys.txt DESTINATION /etc/turnout)
install(FILES ${PROJECT_SOURCE_DIR}/config/dev-keys.yaml ${PROJECT_SOURCE_DIR}/config/dev-psp-keys.yaml
        DESTINATION /etc/turnout PERMISSIONS OWNER_READ OWNER_WRITE)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/config/iso8583 DESTINATION /etc/turnout)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/schemas/ DESTINATION ${CMAKE_INSTALL_DATADIR}/turnout/schemas)
install(FILES ${PROJECT_SOURCE_DIR}/docs/openapi.yaml DESTINATION ${CMAKE_INSTALL_DATADIR}/turnout/docs)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/config/grafana/ DESTINATION ${CMAKE_INSTALL_DATADIR}/turnout/grafana)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/config/prometheus/ DESTINATION ${CMAKE_INSTALL_DATADIR}/turnout/prometheus)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR} FILES_MATCHING PATTERN "*.md")
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME turnout)
set(CPACK_PACKAGE_VENDOR "Turnout")
set(CPACK_PACKAGE_CONTACT "Turnout maintainers <turnout@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Turnout: a payment transaction switch on Apache Kafka")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${TURNOUT_PKG_DIR}/debian/conffiles ${TURNOUT_PKG_DIR}/debian/postinst
    ${TURNOUT_PKG_DIR}/debian/prerm ${TURNOUT_PKG_DIR}/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# The package version: the project's, plus the commit (git describe) for builds between releases.
execute_process(COMMAND git -C ${PROJECT_SOURCE_DIR} rev-parse --short=10 HEAD OUTPUT_VARIABLE TURNOUT_GIT_SHA
                OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(TURNOUT_GIT_SHA)
  set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION}+git${TURNOUT_GIT_SHA})
else()
  set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
endif()
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR}/package)
include(CPack)
