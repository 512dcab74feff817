// The second all-headers translation unit: the same headers in reverse order.
#define VMSOCK_TEST_REVERSED_ORDER 1
#include "all_headers.hpp"

vmsock_test::tu_view vmsock_test::view_from_reversed_tu() { return make_view(); }
