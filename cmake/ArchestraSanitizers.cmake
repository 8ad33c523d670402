# Test environment of the sanitizer builds (presets asan and tsan; the compile flags are in
# ArchestraCommon.cmake). Included from the top-level CMakeLists.txt after every test is declared:
#  - generates build/<preset>/sanitizers/ctest-environment.cmake, which CTest includes before it reads the tests
#    (sanitizer options for every process, a longer TIMEOUT for every test; see that template);
#  - adds the test sanitizer_reports, which runs after every other test and fails on any report file a process
#    (including the platform an e2e test started) wrote.
if(NOT ARCHESTRA_SANITIZE AND NOT ARCHESTRA_TSAN)
  return()
endif()

set(ARCHESTRA_SANITIZER_REPORTS ${CMAKE_BINARY_DIR}/sanitizer-reports)
set(supp ${CMAKE_SOURCE_DIR}/test/sanitizers)
if(ARCHESTRA_SANITIZE)
  set(ARCHESTRA_SANITIZER_NAME asan)
  set(ARCHESTRA_SANITIZER_TIMEOUT_FACTOR 3)
else()
  set(ARCHESTRA_SANITIZER_NAME tsan)
  set(ARCHESTRA_SANITIZER_TIMEOUT_FACTOR 5)
endif()
# halt_on_error: the first finding ends the process (and so fails its test); log_exe_name names the report
# file after the executable.
set(common "log_path=${ARCHESTRA_SANITIZER_REPORTS}/${ARCHESTRA_SANITIZER_NAME}:log_exe_name=1")
set(ARCHESTRA_ASAN_OPTIONS "${common}:detect_leaks=1:halt_on_error=1:print_stacktrace=1:check_initialization_order=1:strict_init_order=1:detect_stack_use_after_return=1")
set(ARCHESTRA_LSAN_OPTIONS "suppressions=${supp}/lsan.supp:print_suppressions=0")
set(ARCHESTRA_UBSAN_OPTIONS "${common}:halt_on_error=1:print_stacktrace=1:suppressions=${supp}/ubsan.supp")
# TSan goes on after a race (each race is reported once, the process exits with 66 at the end), so one run
# lists every race instead of the first.
set(ARCHESTRA_TSAN_OPTIONS "${common}:halt_on_error=0:second_deadlock_stack=1:suppressions=${supp}/tsan.supp")

configure_file(${supp}/ctest-environment.cmake.in ${CMAKE_BINARY_DIR}/sanitizers/ctest-environment.cmake @ONLY)
set_property(DIRECTORY ${CMAKE_SOURCE_DIR} APPEND PROPERTY TEST_INCLUDE_FILES
             ${CMAKE_BINARY_DIR}/sanitizers/ctest-environment.cmake)

# Every test declared anywhere below the top-level directory.
function(_archestra_collect_tests dir out)
  get_property(found DIRECTORY ${dir} PROPERTY TESTS)
  get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
  foreach(sub ${subdirs})
    _archestra_collect_tests(${sub} below)
    list(APPEND found ${below})
  endforeach()
  set(${out} ${found} PARENT_SCOPE)
endfunction()
_archestra_collect_tests(${CMAKE_SOURCE_DIR} all_tests)

add_test(NAME sanitizer_reports COMMAND bash ${supp}/check-reports.sh ${ARCHESTRA_SANITIZER_REPORTS})
set_tests_properties(sanitizer_reports PROPERTIES LABELS "unit;sanitizer" DEPENDS "${all_tests}" TIMEOUT 60)
