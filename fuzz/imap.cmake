# Fuzz targets for the imap/ parsers.
imapgate_fuzz_target(command_parser_fuzzer
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/command_parser_fuzzer.cc LIBS imapgate_imap)
imapgate_fuzz_target(response_parser_fuzzer
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/response_parser_fuzzer.cc LIBS imapgate_imap)
imapgate_fuzz_target(sasl_fuzzer
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/sasl_fuzzer.cc LIBS imapgate_imap)
imapgate_fuzz_target(stream_framing_fuzzer
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/stream_framing_fuzzer.cc LIBS imapgate_imap)
