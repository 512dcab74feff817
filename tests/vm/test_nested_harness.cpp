// The nested harness's own checks (tests/vm/nested): the two sides of a
// paired test meet, trade values and report each other's failures.  The
// DISABLED_ cases fail on purpose, to show by hand how a failure on one side
// reads on the other (run with --gtest_also_run_disabled_tests on both sides).
#include "nested/nested_support.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using namespace vmsock_nested;

class Harness : public paired_test {};

TEST_F(Harness, MeetingPointsCarryValuesBothWays) {
  const std::string theirs = meet("who", name_of(this_side()));
  EXPECT_EQ(theirs, name_of(other(this_side())));
  EXPECT_EQ(meet_number("ordinal port", port(5)), port(5)) << "both sides derive the same ports";
}

// The guest side fails before the meeting point: the host side hears its END
// there instead of waiting, and fails saying so.
TEST_F(Harness, DISABLED_GuestSideFailsBeforeMeeting) {
  if (on_guest()) FAIL() << "deliberate failure on the guest side";
  sync("never reached by the guest side");
}

// The host side fails after meeting: the guest side passes its half, and is
// told in its TearDown that the host side failed.
TEST_F(Harness, DISABLED_HostSideFailsAfterMeeting) {
  sync("met");
  if (on_host()) ADD_FAILURE() << "deliberate failure on the host side";
}

}  // namespace
