imapgate_fuzz_target(config_fuzzer SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/config_fuzzer.cc LIBS imapgate_config)
