# The bench smoke test (included by bench/CMakeLists.txt when IMAPGATE_TESTS is on): each
# loadgen mode, briefly, against imapgate in front of the fixture backend and against the sink.
add_test(NAME integration_bench_smoke
         COMMAND python3 -m unittest -v test_bench_smoke
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}/tests/integration)
set_tests_properties(integration_bench_smoke PROPERTIES
  ENVIRONMENT "IMAPGATE_BIN=$<TARGET_FILE:imapgate>;IMAPGATE_LOADGEN=$<TARGET_FILE:imapgate-loadgen>;IMAPGATE_FIXTURE_BACKEND=$<TARGET_FILE:imapgate-fixture-backend>;IMAPGATE_TLS_SINK=$<TARGET_FILE:imapgate-tls-sink>;IMAPGATE_ATTACK=$<TARGET_FILE:imapgate-attack>;IMAPGATE_SOURCE_DIR=${PROJECT_SOURCE_DIR}"
  LABELS integration
  TIMEOUT 240)
