// vmsock: version, platform and standard-library detection.
// Every other header includes this one first; it includes nothing from the OS.
#pragma once

#define VMSOCK_VERSION_MAJOR 0
#define VMSOCK_VERSION_MINOR 1
#define VMSOCK_VERSION_PATCH 0
#define VMSOCK_VERSION \
  (VMSOCK_VERSION_MAJOR * 10000 + VMSOCK_VERSION_MINOR * 100 + VMSOCK_VERSION_PATCH)

// Every name is declared in vmsock::v0, an inline namespace: users write
// vmsock::guid, and the linker sees vmsock::v0::guid, so two vendored copies of
// different versions in one program are two sets of names instead of one
// definition broken silently.  The version in it changes with an incompatible
// release.
#define VMSOCK_BEGIN_NAMESPACE \
  namespace vmsock {           \
  inline namespace v0 {
#define VMSOCK_END_NAMESPACE \
  }                          \
  }

// Platform: exactly one of VMSOCK_WINDOWS / VMSOCK_POSIX is 1.
#if defined(_WIN32)
#  define VMSOCK_WINDOWS 1
#  define VMSOCK_POSIX 0
#else
#  define VMSOCK_WINDOWS 0
#  define VMSOCK_POSIX 1
#endif

#if defined(__linux__)
#  define VMSOCK_LINUX 1
#else
#  define VMSOCK_LINUX 0
#endif

// Standard-library features are tested with their feature macros, never with
// __cplusplus (MSVC misreports it without /Zc:__cplusplus).
#if defined(__has_include)
#  if __has_include(<version>)
#    include <version>
#  endif
#endif

#if defined(__cpp_lib_span) && __cpp_lib_span >= 202002L
#  define VMSOCK_HAS_SPAN 1
#else
#  define VMSOCK_HAS_SPAN 0
#endif

#if defined(__cpp_lib_format) && __cpp_lib_format >= 201907L
#  define VMSOCK_HAS_STD_FORMAT 1
#else
#  define VMSOCK_HAS_STD_FORMAT 0
#endif

// Exceptions: on, unless the compiler has them off (-fno-exceptions: GCC and
// clang leave __cpp_exceptions undefined; MSVC without /EH: _CPPUNWIND) or the
// build defines VMSOCK_NO_EXCEPTIONS.  Without them every error_code form and
// every try_parse works as it does with them, and where vmsock would throw it
// calls vmsock::throw_exception(e), which the program must define (error.hpp).
#if !defined(VMSOCK_NO_EXCEPTIONS)
#  if defined(__cpp_exceptions) || defined(__EXCEPTIONS) || defined(_CPPUNWIND)
#    define VMSOCK_NO_EXCEPTIONS 0
#  else
#    define VMSOCK_NO_EXCEPTIONS 1
#  endif
#endif
// try/catch that become plain blocks (the catch never taken) without exceptions.
#if VMSOCK_NO_EXCEPTIONS
#  define VMSOCK_TRY if (true)
#  define VMSOCK_CATCH(decl) else if (false)
#else
#  define VMSOCK_TRY try
#  define VMSOCK_CATCH(decl) catch (decl)
#endif

// [[nodiscard]] with a reason where the language has it (C++20); plain
// [[nodiscard]] before.  The language version is asked too: clang reports the
// attribute's C++20 form in C++17 mode and then warns that it is an extension.
// (_MSVC_LANG: MSVC's __cplusplus is 199711L without /Zc:__cplusplus.)
#if defined(_MSVC_LANG)
#  define VMSOCK_CPLUSPLUS _MSVC_LANG
#else
#  define VMSOCK_CPLUSPLUS __cplusplus
#endif
#if defined(__has_cpp_attribute)
#  if __has_cpp_attribute(nodiscard) >= 201907L && VMSOCK_CPLUSPLUS >= 202002L
#    define VMSOCK_NODISCARD(reason) [[nodiscard(reason)]]
#  endif
#endif
#if !defined(VMSOCK_NODISCARD)
#  define VMSOCK_NODISCARD(reason) [[nodiscard]]
#endif
// The static open() of connector and listener returns what
// it opened: `c.open();` on an object opens nothing in it.
#define VMSOCK_STATIC_OPEN_REASON                                               \
  "open() is static and returns the socket it opened: write "                   \
  "`auto c = decltype(c)::open();` or `c = decltype(c)::open();` (`c.open();` " \
  "alone leaves c closed)"

// Cold, out-of-line paths (the throw helpers) stay out of the callers' hot code;
// the one-system-call paths of send and receive are always inlined into them
// (GCC otherwise keeps them out of line in large callers, which costs a call,
// a stack frame and the spills around it on every transfer).
#if defined(_MSC_VER) && !defined(__clang__)
#  define VMSOCK_NOINLINE __declspec(noinline)
#  define VMSOCK_ALWAYS_INLINE __forceinline
#else
#  define VMSOCK_NOINLINE __attribute__((noinline))
#  define VMSOCK_ALWAYS_INLINE inline __attribute__((always_inline))
#endif
