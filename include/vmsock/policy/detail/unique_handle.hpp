// unique_handle: sole ownership of a raw OS socket handle between the call
// that made it and the socket object that takes it (wil's unique_any is the
// model): closed with the policy's close when it goes out of scope, unless
// release() handed it on.  For the few paths that hold a handle no socket
// owns yet: a descriptor just received, a duplicate just opened.
#pragma once

#include <vmsock/config.hpp>

#include <system_error>
#include <utility>

VMSOCK_BEGIN_NAMESPACE
namespace detail {

template <class Policy> class unique_handle {
 public:
  using handle = typename Policy::handle;

  unique_handle() noexcept = default;
  explicit unique_handle(handle h) noexcept : h_(h) {}
  unique_handle(unique_handle&& o) noexcept : h_(o.release()) {}
  unique_handle& operator=(unique_handle&& o) noexcept {
    if (this != &o) reset(o.release());
    return *this;
  }
  unique_handle(const unique_handle&) = delete;
  unique_handle& operator=(const unique_handle&) = delete;
  ~unique_handle() { reset(); }

  handle get() const noexcept { return h_; }
  explicit operator bool() const noexcept { return h_ != Policy::invalid_handle; }
  // Hands the handle on: this no longer closes it.
  [[nodiscard]] handle release() noexcept { return std::exchange(h_, Policy::invalid_handle); }
  // Closes what it holds (an error of that close is of no use to anyone: the
  // handle is gone either way) and takes `h`.
  void reset(handle h = Policy::invalid_handle) noexcept {
    const handle old = std::exchange(h_, h);
    if (old != Policy::invalid_handle) {
      std::error_code ignored;
      Policy::close(old, ignored);
    }
  }

 private:
  handle h_ = Policy::invalid_handle;
};

}  // namespace detail
VMSOCK_END_NAMESPACE
