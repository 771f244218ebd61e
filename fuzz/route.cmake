# The routing override file and the router built from it.
imapgate_fuzz_target(override_file_fuzzer
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/override_file_fuzzer.cc LIBS imapgate_config imapgate_route)
