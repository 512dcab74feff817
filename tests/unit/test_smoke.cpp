#include <vmsock/vmsock.hpp>

#include <gtest/gtest.h>

TEST(Smoke, ParsesParent) {
  EXPECT_EQ(vmsock::hv_endpoint::parse("hvsock://parent/5000").vm_id, vmsock::hv::vm_id::parent);
}
