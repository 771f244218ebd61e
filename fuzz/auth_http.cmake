# Fuzz target for the nginx auth_http codec (auth/).
imapgate_fuzz_target(auth_http_fuzzer
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/auth_http_fuzzer.cc LIBS imapgate_auth)
