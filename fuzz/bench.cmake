# The bench tools' parsers (load generator responses, fixture backend commands).
if(TARGET imapgate_bench_logic)
  imapgate_fuzz_target(bench_response_scanner_fuzzer
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/bench_response_scanner_fuzzer.cc LIBS imapgate_bench_logic)
  imapgate_fuzz_target(bench_command_reader_fuzzer
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/bench_command_reader_fuzzer.cc LIBS imapgate_bench_logic)
endif()
