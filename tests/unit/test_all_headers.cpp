// The first of the two all-headers translation units (see all_headers.hpp).
#include "all_headers.hpp"

#include <gtest/gtest.h>

vmsock_test::tu_view vmsock_test::view_from_forward_tu() { return make_view(); }

namespace {

// Both translation units share one error category object (a function-local
// static of an inline function) and agree on every value they compute.
TEST(AllHeaders, TwoTranslationUnitsAgree) {
  const auto a = vmsock_test::view_from_forward_tu();
  const auto b = vmsock_test::view_from_reversed_tu();
  EXPECT_EQ(a.category, b.category);
  EXPECT_EQ(a.category, &vmsock::error_category());
  EXPECT_EQ(a.guid_hash, b.guid_hash);
  EXPECT_EQ(a.formatted, b.formatted);
  EXPECT_EQ(a.formatted, "hvsock://parent/5000 vsock://2:5000 127.0.0.1:1 [::1]:1 unix://@x");
  EXPECT_EQ(std::error_code(vmsock::errc::no_mapping).category(), *b.category);
}

}  // namespace
