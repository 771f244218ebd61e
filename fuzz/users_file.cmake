imapgate_fuzz_target(users_file_fuzzer SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/users_file_fuzzer.cc LIBS imapgate_config)
