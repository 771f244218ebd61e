# Fuzz target for the PROXY protocol parser and the address/CIDR text parsers (proxyproto/).
imapgate_fuzz_target(proxy_header_fuzzer
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/proxy_header_fuzzer.cc LIBS imapgate_proxyproto)
