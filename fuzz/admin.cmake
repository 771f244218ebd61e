# Fuzz target for the admin API input: the JSON reader and AdminApi on arbitrary bodies and paths.
imapgate_fuzz_target(admin_json_fuzzer SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/admin_json_fuzzer.cc
                     LIBS imapgate_admin)
