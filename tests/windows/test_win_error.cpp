// detail/win_error.hpp under Wine: every WSA code compares equal to exactly the
// std::errc it means and to no other, through the category vmsock reports OS
// errors in.  The expected table below is written out independently of the
// header's, from the Winsock documentation and the BSD errno meanings.
#include <vmsock/detail/win_error.hpp>

#include <gtest/gtest.h>

#include <cstdio>
#include <iterator>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace {

using vmsock::detail::make_os_error;

// Every std::errc enumerator, to prove that a code equals one condition only.
const std::vector<std::errc>& all_errc() {
  static const std::vector<std::errc> all = {
      std::errc::address_family_not_supported,
      std::errc::address_in_use,
      std::errc::address_not_available,
      std::errc::already_connected,
      std::errc::argument_list_too_long,
      std::errc::argument_out_of_domain,
      std::errc::bad_address,
      std::errc::bad_file_descriptor,
      std::errc::bad_message,
      std::errc::broken_pipe,
      std::errc::connection_aborted,
      std::errc::connection_already_in_progress,
      std::errc::connection_refused,
      std::errc::connection_reset,
      std::errc::cross_device_link,
      std::errc::destination_address_required,
      std::errc::device_or_resource_busy,
      std::errc::directory_not_empty,
      std::errc::executable_format_error,
      std::errc::file_exists,
      std::errc::file_too_large,
      std::errc::filename_too_long,
      std::errc::function_not_supported,
      std::errc::host_unreachable,
      std::errc::identifier_removed,
      std::errc::illegal_byte_sequence,
      std::errc::inappropriate_io_control_operation,
      std::errc::interrupted,
      std::errc::invalid_argument,
      std::errc::invalid_seek,
      std::errc::io_error,
      std::errc::is_a_directory,
      std::errc::message_size,
      std::errc::network_down,
      std::errc::network_reset,
      std::errc::network_unreachable,
      std::errc::no_buffer_space,
      std::errc::no_child_process,
      std::errc::no_link,
      std::errc::no_lock_available,
      std::errc::no_message_available,
      std::errc::no_message,
      std::errc::no_protocol_option,
      std::errc::no_space_on_device,
      std::errc::no_stream_resources,
      std::errc::no_such_device_or_address,
      std::errc::no_such_device,
      std::errc::no_such_file_or_directory,
      std::errc::no_such_process,
      std::errc::not_a_directory,
      std::errc::not_a_socket,
      std::errc::not_a_stream,
      std::errc::not_connected,
      std::errc::not_enough_memory,
      std::errc::not_supported,
      std::errc::operation_canceled,
      std::errc::operation_in_progress,
      std::errc::operation_not_permitted,
      std::errc::operation_not_supported,
      std::errc::operation_would_block,
      std::errc::owner_dead,
      std::errc::permission_denied,
      std::errc::protocol_error,
      std::errc::protocol_not_supported,
      std::errc::read_only_file_system,
      std::errc::resource_deadlock_would_occur,
      std::errc::resource_unavailable_try_again,
      std::errc::result_out_of_range,
      std::errc::state_not_recoverable,
      std::errc::stream_timeout,
      std::errc::text_file_busy,
      std::errc::timed_out,
      std::errc::too_many_files_open_in_system,
      std::errc::too_many_files_open,
      std::errc::too_many_links,
      std::errc::too_many_symbolic_link_levels,
      std::errc::value_too_large,
      std::errc::wrong_protocol_type,
  };
  return all;
}

struct expected_entry {
  int code;
  const char* name;
  std::optional<std::errc> condition;
};

#define VMSOCK_MAPS(code, cond) \
  expected_entry { code, #code, std::errc::cond }
#define VMSOCK_UNMAPPED(code) \
  expected_entry { code, #code, std::nullopt }

// What each code means.  "No std::errc" is an answer too: those codes must not
// compare equal to any condition.
const std::vector<expected_entry>& expected() {
  static const std::vector<expected_entry> table = {
      VMSOCK_MAPS(WSAEINTR, interrupted),
      VMSOCK_MAPS(WSAEBADF, bad_file_descriptor),
      VMSOCK_MAPS(WSAEACCES, permission_denied),
      VMSOCK_MAPS(WSAEFAULT, bad_address),
      VMSOCK_MAPS(WSAEINVAL, invalid_argument),
      VMSOCK_MAPS(WSAEMFILE, too_many_files_open),
      VMSOCK_MAPS(WSAEWOULDBLOCK, operation_would_block),
      VMSOCK_MAPS(WSAEINPROGRESS, operation_in_progress),
      VMSOCK_MAPS(WSAEALREADY, connection_already_in_progress),
      VMSOCK_MAPS(WSAENOTSOCK, not_a_socket),
      VMSOCK_MAPS(WSAEDESTADDRREQ, destination_address_required),
      VMSOCK_MAPS(WSAEMSGSIZE, message_size),
      VMSOCK_MAPS(WSAEPROTOTYPE, wrong_protocol_type),
      VMSOCK_MAPS(WSAENOPROTOOPT, no_protocol_option),
      VMSOCK_MAPS(WSAEPROTONOSUPPORT, protocol_not_supported),
      VMSOCK_UNMAPPED(WSAESOCKTNOSUPPORT),
      VMSOCK_MAPS(WSAEOPNOTSUPP, operation_not_supported),
      VMSOCK_UNMAPPED(WSAEPFNOSUPPORT),
      VMSOCK_MAPS(WSAEAFNOSUPPORT, address_family_not_supported),
      VMSOCK_MAPS(WSAEADDRINUSE, address_in_use),
      VMSOCK_MAPS(WSAEADDRNOTAVAIL, address_not_available),
      VMSOCK_MAPS(WSAENETDOWN, network_down),
      VMSOCK_MAPS(WSAENETUNREACH, network_unreachable),
      VMSOCK_MAPS(WSAENETRESET, network_reset),
      VMSOCK_MAPS(WSAECONNABORTED, connection_aborted),
      VMSOCK_MAPS(WSAECONNRESET, connection_reset),
      VMSOCK_MAPS(WSAENOBUFS, no_buffer_space),
      VMSOCK_MAPS(WSAEISCONN, already_connected),
      VMSOCK_MAPS(WSAENOTCONN, not_connected),
      VMSOCK_MAPS(WSAESHUTDOWN, broken_pipe),
      VMSOCK_UNMAPPED(WSAETOOMANYREFS),
      VMSOCK_MAPS(WSAETIMEDOUT, timed_out),
      VMSOCK_MAPS(WSAECONNREFUSED, connection_refused),
      VMSOCK_MAPS(WSAELOOP, too_many_symbolic_link_levels),
      VMSOCK_MAPS(WSAENAMETOOLONG, filename_too_long),
      VMSOCK_UNMAPPED(WSAEHOSTDOWN),
      VMSOCK_MAPS(WSAEHOSTUNREACH, host_unreachable),
      VMSOCK_MAPS(WSAENOTEMPTY, directory_not_empty),
      VMSOCK_UNMAPPED(WSAEPROCLIM),
      VMSOCK_UNMAPPED(WSAEUSERS),
      VMSOCK_UNMAPPED(WSAEDQUOT),
      VMSOCK_UNMAPPED(WSAESTALE),
      VMSOCK_UNMAPPED(WSAEREMOTE),
      VMSOCK_UNMAPPED(WSASYSNOTREADY),
      VMSOCK_UNMAPPED(WSAVERNOTSUPPORTED),
      VMSOCK_UNMAPPED(WSANOTINITIALISED),
      VMSOCK_UNMAPPED(WSAEDISCON),
      VMSOCK_UNMAPPED(WSAENOMORE),
      VMSOCK_MAPS(WSAECANCELLED, operation_canceled),
      VMSOCK_UNMAPPED(WSAEINVALIDPROCTABLE),
      VMSOCK_UNMAPPED(WSAEINVALIDPROVIDER),
      VMSOCK_UNMAPPED(WSAEPROVIDERFAILEDINIT),
      VMSOCK_UNMAPPED(WSASYSCALLFAILURE),
      VMSOCK_UNMAPPED(WSASERVICE_NOT_FOUND),
      VMSOCK_UNMAPPED(WSATYPE_NOT_FOUND),
      VMSOCK_UNMAPPED(WSA_E_NO_MORE),
      VMSOCK_MAPS(WSA_E_CANCELLED, operation_canceled),
      VMSOCK_UNMAPPED(WSAEREFUSED),
      VMSOCK_UNMAPPED(WSAHOST_NOT_FOUND),
      VMSOCK_UNMAPPED(WSATRY_AGAIN),
      VMSOCK_UNMAPPED(WSANO_RECOVERY),
      VMSOCK_UNMAPPED(WSANO_DATA),
      VMSOCK_UNMAPPED(WSA_IO_PENDING),
      VMSOCK_UNMAPPED(WSA_IO_INCOMPLETE),
      VMSOCK_MAPS(WSA_INVALID_HANDLE, invalid_argument),
      VMSOCK_MAPS(WSA_INVALID_PARAMETER, invalid_argument),
      VMSOCK_MAPS(WSA_NOT_ENOUGH_MEMORY, not_enough_memory),
      VMSOCK_MAPS(WSA_OPERATION_ABORTED, operation_canceled),
  };
  return table;
}

std::string describe(std::errc e) { return std::make_error_condition(e).message(); }

// The conditions `ec` compares equal to, out of every std::errc.
std::vector<std::errc> conditions_of(const std::error_code& ec) {
  std::vector<std::errc> out;
  for (const auto e : all_errc())
    if (ec == e) out.push_back(e);
  return out;
}

TEST(WinError, EveryCodeEqualsExactlyItsCondition) {
  for (const auto& x : expected()) {
    SCOPED_TRACE(x.name);
#if VMSOCK_STDLIB_MAPS_WSA
    // The standard library's table decides; the rows it lacks (see the header's
    // in_msvc_table) have no condition there.
    const auto* row = vmsock::detail::find_wsa_error(x.code);
    if (row != nullptr && !row->in_msvc_table) continue;
#endif
    const std::error_code ec = make_os_error(x.code);
    EXPECT_EQ(ec.value(), x.code);
    const auto got = conditions_of(ec);
    if (x.condition) {
      ASSERT_EQ(got.size(), 1u) << x.name << " compares equal to " << got.size()
                                << " std::errc conditions";
      EXPECT_EQ(got[0], *x.condition)
          << x.name << " means " << describe(*x.condition) << ", got " << describe(got[0]);
      EXPECT_EQ(ec.default_error_condition(), std::make_error_condition(*x.condition));
    } else {
      EXPECT_TRUE(got.empty()) << x.name << " has no std::errc meaning but compares equal to "
                               << describe(got.empty() ? std::errc{} : got[0]);
      EXPECT_TRUE(ec.default_error_condition().category() == ec.category());
    }
  }
}

// The header's table and the expectations above cover the same codes; and no
// code between WSABASEERR and the last WSA code maps to anything unlisted.
TEST(WinError, TableMatchesExpectationsAndNothingElseIsMapped) {
  std::set<int> listed;
  for (const auto& x : expected()) listed.insert(x.code);
  for (const auto& row : vmsock::detail::wsa_errors) {
    SCOPED_TRACE(row.name);
    EXPECT_EQ(listed.count(row.code), 1u) << row.name << " is in the header but not in the test";
  }
  EXPECT_EQ(listed.size(), std::size(vmsock::detail::wsa_errors));
  for (int code = WSABASEERR; code <= WSABASEERR + 1100; ++code) {
    if (listed.count(code) != 0) continue;
    const auto got = conditions_of(make_os_error(code));
    EXPECT_TRUE(got.empty()) << "unlisted code " << code << " maps to " << describe(got[0]);
  }
}

TEST(WinError, NoLossyNeighbours) {
  EXPECT_NE(make_os_error(WSAEALREADY), std::errc::already_connected);
  EXPECT_EQ(make_os_error(WSAEALREADY), std::errc::connection_already_in_progress);
  EXPECT_NE(make_os_error(WSAEISCONN), std::errc::connection_already_in_progress);
  EXPECT_NE(make_os_error(WSAEINPROGRESS), std::errc::connection_already_in_progress);
  EXPECT_NE(make_os_error(WSAEHOSTDOWN), std::errc::host_unreachable);
  EXPECT_NE(make_os_error(WSAEPFNOSUPPORT), std::errc::address_family_not_supported);
  EXPECT_NE(make_os_error(WSAESOCKTNOSUPPORT), std::errc::protocol_not_supported);
  EXPECT_NE(make_os_error(WSAECONNABORTED), std::errc::connection_reset);
  EXPECT_NE(make_os_error(WSAENETRESET), std::errc::connection_reset);
}

TEST(WinError, TheIssuesExamples) {
  EXPECT_EQ(make_os_error(WSAECONNREFUSED), std::errc::connection_refused);
  EXPECT_EQ(make_os_error(WSAEADDRINUSE), std::errc::address_in_use);
  EXPECT_EQ(make_os_error(WSAETIMEDOUT), std::errc::timed_out);
  EXPECT_EQ(make_os_error(WSAECONNRESET), std::errc::connection_reset);
  EXPECT_EQ(make_os_error(WSAEAFNOSUPPORT), std::errc::address_family_not_supported);
  EXPECT_EQ(make_os_error(WSAEWOULDBLOCK), std::errc::operation_would_block);
  // Neither conditions nor codes compare equal across kinds of failure.
  EXPECT_NE(make_os_error(WSAECONNREFUSED), std::errc::connection_reset);
  EXPECT_NE(make_os_error(WSAECONNREFUSED), make_os_error(WSAECONNRESET));
}

TEST(WinError, SuccessIsFalse) {
  EXPECT_FALSE(make_os_error(0));
  EXPECT_TRUE(make_os_error(WSAECONNREFUSED));
}

// With MSVC's library the codes are std::system_category()'s; elsewhere they are
// vmsock's own category, named "winsock" so that it is not mistaken for it.
TEST(WinError, CategoryIsSystemOrOurOwnWinsock) {
  const auto ec = make_os_error(WSAECONNREFUSED);
  std::ostringstream os;
  os << ec;
#if VMSOCK_STDLIB_MAPS_WSA
  EXPECT_TRUE(ec.category() == std::system_category());
  EXPECT_EQ(os.str(), "system:10061");
#else
  EXPECT_STREQ(ec.category().name(), "winsock");
  EXPECT_TRUE(ec.category() == vmsock::detail::winsock_category());
  EXPECT_TRUE(ec.category() != std::system_category());
  EXPECT_EQ(os.str(), "winsock:10061");
#endif
}

TEST(WinError, MessagesAreNeverEmpty) {
  for (const auto& x : expected()) {
    SCOPED_TRACE(x.name);
    std::string text;
    EXPECT_NO_THROW(text = make_os_error(x.code).message());
    EXPECT_FALSE(text.empty());
    EXPECT_NE(text.back(), '\n');
    EXPECT_NE(text.back(), ' ');
  }
  // A code nobody knows still has a message.
  EXPECT_FALSE(vmsock::detail::winsock_category().message(0x7ffffff0).empty());
}

// What the system (or Wine) says for a few codes; informational, in the log.
TEST(WinError, ReportMessages) {
  for (const int code : {WSAECONNREFUSED, WSAEADDRINUSE, WSAETIMEDOUT, WSAEAFNOSUPPORT, WSAEALREADY,
                         WSAESHUTDOWN, WSAEPROCLIM}) {
    const auto ec = make_os_error(code);
    std::printf("  %d: %s\n", code, ec.message().c_str());
  }
  const std::system_error e(make_os_error(WSAECONNREFUSED), "connect to tcp://127.0.0.1:1");
  std::printf("  system_error: %s\n", e.what());
  EXPECT_NE(std::string(e.what()).find("connect to tcp://127.0.0.1:1"), std::string::npos);
}

// The finding behind the design: does this standard library's
// std::system_category() map WSA codes to std::errc?  Printed for the log.
// Where it maps a WSAE* code, the meaning must be vmsock's (the Win32 codes
// that Winsock reuses, WSA_IO_PENDING and the like, are reported only: the
// standard libraries disagree among themselves on those).
TEST(WinError, StandardLibrarySystemCategory) {
  int wsae_mapped = 0;
  int win32_mapped = 0;
  int wsae_total = 0;
  for (const auto& x : expected()) {
    const bool wsae = x.code >= WSABASEERR;
    wsae_total += wsae ? 1 : 0;
    const std::error_code sys(x.code, std::system_category());
    const auto cond = sys.default_error_condition();
    if (cond.category() != std::generic_category()) continue;
    (wsae ? wsae_mapped : win32_mapped) += 1;
    const bool agrees = x.condition && cond == std::make_error_condition(*x.condition);
    std::printf("  system_category maps %s (%d) -> %s%s\n", x.name, x.code, cond.message().c_str(),
                agrees ? "" : "  [vmsock differs]");
    if (wsae) {
      EXPECT_TRUE(agrees) << "the standard library gives " << x.name << " another meaning";
    }
  }
  std::printf(
      "  std::system_category() maps %d of %d WSAE* codes and %d of %zu Win32 codes"
      " to std::errc; vmsock uses %s\n",
      wsae_mapped, wsae_total, win32_mapped,
      expected().size() - static_cast<std::size_t>(wsae_total),
      VMSOCK_STDLIB_MAPS_WSA ? "std::system_category()" : "winsock_category()");
  RecordProperty("stdlib_mapped_wsae_codes", wsae_mapped);
#if !VMSOCK_STDLIB_MAPS_WSA
  // Were it mapping them, vmsock could use std::system_category() here too.
  EXPECT_LT(wsae_mapped, 20) << "this standard library maps WSA codes: set VMSOCK_STDLIB_MAPS_WSA";
#endif
}

TEST(WinError, SystemErrorFromLastError) {
  ::WSASetLastError(WSAEADDRINUSE);
  const auto ec = make_os_error(::WSAGetLastError());
  EXPECT_EQ(ec, std::errc::address_in_use);
  try {
    throw std::system_error(ec, "bind to tcp://127.0.0.1:80");
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::errc::address_in_use);
  }
}

}  // namespace

// Where vmsock's table and MSVC's std::system_category() part: exactly these
// five codes, which MSVC maps to nothing and vmsock to the condition of the
// same meaning (docs/platforms.md lists them; this keeps the list true).
TEST(WinError, TheRowsMsvcDoesNotMapAreTheDocumentedFive) {
  std::set<std::string> beyond_msvc;
  for (const auto& row : vmsock::detail::wsa_errors)
    if (row.mapped && !row.in_msvc_table) beyond_msvc.insert(row.name);
  EXPECT_EQ(beyond_msvc, (std::set<std::string>{"WSAESHUTDOWN", "WSAELOOP", "WSAENOTEMPTY",
                                                "WSAECANCELLED", "WSA_E_CANCELLED"}));
}

#if defined(_MSVC_STL_VERSION)
// Built with MSVC's standard library (not possible on the machines this
// project's CI runs on): its system_category agrees with every row the table
// says it maps, and maps none of the five.
TEST(WinError, MsvcsSystemCategoryAgreesWithTheTable) {
  for (const auto& row : vmsock::detail::wsa_errors) {
    SCOPED_TRACE(row.name);
    const std::error_code ec(row.code, std::system_category());
    if (row.mapped && row.in_msvc_table)
      EXPECT_EQ(ec, row.condition);
    else if (row.mapped)
      EXPECT_NE(ec, row.condition);
  }
}
#endif
