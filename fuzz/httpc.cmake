# Fuzz target for the HTTP client's response parser and URL parser (httpc/).
imapgate_fuzz_target(http_response_fuzzer
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/http_response_fuzzer.cc LIBS imapgate_httpc)
