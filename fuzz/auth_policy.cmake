# Fuzz target for the Dovecot auth_policy codec (ratelimit/).
imapgate_fuzz_target(auth_policy_fuzzer
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/auth_policy_fuzzer.cc LIBS imapgate_ratelimit_hook)
