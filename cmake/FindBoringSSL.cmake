# FindBoringSSL: locates BoringSSL without ever picking up the system OpenSSL.
#
# Default: Debian's android-libboringssl-dev (headers in /usr/include/android, libraries in
# /usr/lib/<multiarch>/android). Override with -DBORINGSSL_ROOT=/path/to/boringssl, which must
# hold include/openssl/ssl.h and lib/ (or build/) with libssl and libcrypto.
#
# Defines the imported targets BoringSSL::SSL and BoringSSL::Crypto, and BORINGSSL_LIBRARY_DIR
# (used as the RPATH: the Debian libraries are not on the default loader path).
set(_bssl_hint_inc /usr/include/android)
set(_bssl_hint_lib /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/android /usr/lib/x86_64-linux-gnu/android)
if(BORINGSSL_ROOT)
  set(_bssl_hint_inc ${BORINGSSL_ROOT}/include)
  set(_bssl_hint_lib ${BORINGSSL_ROOT}/lib ${BORINGSSL_ROOT}/build ${BORINGSSL_ROOT}/build/ssl
                     ${BORINGSSL_ROOT}/build/crypto)
endif()
find_path(BORINGSSL_INCLUDE_DIR openssl/base.h PATHS ${_bssl_hint_inc} NO_DEFAULT_PATH)
find_library(BORINGSSL_SSL_LIBRARY NAMES ssl PATHS ${_bssl_hint_lib} NO_DEFAULT_PATH)
find_library(BORINGSSL_CRYPTO_LIBRARY NAMES crypto PATHS ${_bssl_hint_lib} NO_DEFAULT_PATH)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(BoringSSL
  REQUIRED_VARS BORINGSSL_INCLUDE_DIR BORINGSSL_SSL_LIBRARY BORINGSSL_CRYPTO_LIBRARY
  FAIL_MESSAGE "BoringSSL not found: install android-libboringssl-dev or set BORINGSSL_ROOT")
if(BoringSSL_FOUND)
  get_filename_component(BORINGSSL_LIBRARY_DIR ${BORINGSSL_SSL_LIBRARY} DIRECTORY)
  if(NOT TARGET BoringSSL::Crypto)
    add_library(BoringSSL::Crypto UNKNOWN IMPORTED)
    set_target_properties(BoringSSL::Crypto PROPERTIES
      IMPORTED_LOCATION ${BORINGSSL_CRYPTO_LIBRARY}
      INTERFACE_INCLUDE_DIRECTORIES ${BORINGSSL_INCLUDE_DIR})
    add_library(BoringSSL::SSL UNKNOWN IMPORTED)
    set_target_properties(BoringSSL::SSL PROPERTIES
      IMPORTED_LOCATION ${BORINGSSL_SSL_LIBRARY}
      INTERFACE_INCLUDE_DIRECTORIES ${BORINGSSL_INCLUDE_DIR}
      INTERFACE_LINK_LIBRARIES BoringSSL::Crypto)
  endif()
endif()
