// const_buffer / mutable_buffer: a pointer and a size, the unit every send and
// receive works on, and buffer(x) to view any contiguous range of trivially
// copyable elements (std::string, std::vector<std::byte>, std::array, std::span,
// C arrays) as one.
#pragma once

#include <vmsock/config.hpp>

#include <cstddef>
#include <type_traits>

VMSOCK_BEGIN_NAMESPACE

struct const_buffer {
  const void* data = nullptr;
  std::size_t size = 0;
};

struct mutable_buffer {
  void* data = nullptr;
  std::size_t size = 0;
  constexpr operator const_buffer() const noexcept { return {data, size}; }
};

namespace detail {

// A contiguous range: a class with data() returning a pointer and size(), or a
// C array; its elements must be trivially copyable.  (Detected by hand because
// std::data is not SFINAE-friendly in every standard library.)
template <class R, class = void> struct range_traits {
  static constexpr bool value = false;
  using element = void;
};

template <class R>
struct range_traits<
    R, std::void_t<decltype(std::declval<R&>().data()), decltype(std::declval<R&>().size())>> {
  using pointer = decltype(std::declval<R&>().data());
  using element = std::remove_pointer_t<pointer>;
  static constexpr bool value =
      std::is_pointer_v<pointer> && std::is_trivially_copyable_v<std::remove_cv_t<element>>;
};

template <class T, std::size_t N> struct range_traits<T[N], void> {
  using element = T;
  static constexpr bool value = std::is_trivially_copyable_v<std::remove_cv_t<T>>;
};

template <class R> inline constexpr bool is_const_range = range_traits<const R>::value;

// A range whose elements are writable (std::string_view and const ranges are not).
template <class R>
inline constexpr bool is_mutable_range =
    range_traits<R>::value && !std::is_const_v<typename range_traits<R>::element>;

}  // namespace detail

constexpr const_buffer buffer(const void* data, std::size_t size) noexcept { return {data, size}; }
constexpr mutable_buffer buffer(void* data, std::size_t size) noexcept { return {data, size}; }

namespace detail {
// data() and size() of a range, as std::data/std::size give them, without
// <iterator> (whose stream iterators cost every user a tenth of a second).
template <class R> constexpr auto range_data(R& r) noexcept {
  if constexpr (std::is_array_v<R>)
    return &r[0];
  else
    return r.data();
}
template <class R> constexpr std::size_t range_size(const R& r) noexcept {
  if constexpr (std::is_array_v<R>)
    return std::extent_v<R>;
  else
    return static_cast<std::size_t>(r.size());
}
}  // namespace detail

template <class R, std::enable_if_t<detail::is_mutable_range<R>, int> = 0>
constexpr mutable_buffer buffer(R& r) noexcept {
  using T = typename detail::range_traits<R>::element;
  return {static_cast<void*>(detail::range_data(r)), detail::range_size(r) * sizeof(T)};
}

template <class R, std::enable_if_t<detail::is_const_range<R>, int> = 0>
constexpr const_buffer buffer(const R& r) noexcept {
  using T = typename detail::range_traits<const R>::element;
  return {static_cast<const void*>(detail::range_data(r)), detail::range_size(r) * sizeof(T)};
}

// Sum of the sizes of a buffer sequence.
template <class Buffer>
constexpr std::size_t total_size(const Buffer* bufs, std::size_t count) noexcept {
  std::size_t n = 0;
  for (std::size_t i = 0; i < count; ++i) n += bufs[i].size;
  return n;
}

VMSOCK_END_NAMESPACE
