// hv_registry.hpp against a real registry: Wine's, in a prefix made for this
// run by hv_registry_prefix.sh and removed after it.  What vmsock writes is
// read back by a peer vmsock did not write, Wine's own reg.exe, started in the
// same prefix (a child of a Wine process shares its wineserver, so its
// registry): `reg query` for keys and ASCII values, `reg export` (UTF-16) for
// exact text.  `reg add` writes the keys vmsock must read but never writes
// (upper case, braces, names that are not GUIDs).
//
// The cases that write HKEY_LOCAL_MACHINE run only when
// VMSOCK_HV_REGISTRY_PREFIX names this process's WINEPREFIX (the driver sets
// it): run anywhere else, on Windows or in the shared Wine prefix, they skip.
#include <vmsock/host/hv_registry.hpp>

#include <vmsock/detail/win_error.hpp>

#include <windows.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace {

namespace hv = vmsock::hv;
using vmsock::guid;

// ---- The environment -------------------------------------------------------------

bool under_wine() {
  const HMODULE ntdll = ::GetModuleHandleW(L"ntdll.dll");
  return ntdll != nullptr && ::GetProcAddress(ntdll, "wine_get_version") != nullptr;
}

std::string env(const char* name) {
  char buf[4096];
  const DWORD n = ::GetEnvironmentVariableA(name, buf, sizeof buf);
  return n > 0 && n < sizeof buf ? std::string(buf, n) : std::string();
}

// Why this process must not write HKEY_LOCAL_MACHINE, or empty when it may.
std::string why_not_scratch() {
  const std::string scratch = env("VMSOCK_HV_REGISTRY_PREFIX");
  if (scratch.empty())
    return "writes HKEY_LOCAL_MACHINE: runs only in the scratch Wine prefix of "
           "hv_registry_prefix.sh (VMSOCK_HV_REGISTRY_PREFIX is not set)";
  if (!under_wine()) return "VMSOCK_HV_REGISTRY_PREFIX is set, but this is not Wine";
  if (env("WINEPREFIX") != scratch)
    return "VMSOCK_HV_REGISTRY_PREFIX (" + scratch + ") is not this WINEPREFIX (" +
           env("WINEPREFIX") + ")";
  return {};
}

std::wstring widen(std::string_view utf8) {
  if (utf8.empty()) return {};
  const int n =
      ::MultiByteToWideChar(CP_UTF8, 0, utf8.data(), static_cast<int>(utf8.size()), nullptr, 0);
  std::wstring w(static_cast<std::size_t>(n), L'\0');
  ::MultiByteToWideChar(CP_UTF8, 0, utf8.data(), static_cast<int>(utf8.size()), &w[0], n);
  return w;
}

std::wstring lower(std::wstring s) {
  for (auto& c : s)
    if (c >= L'A' && c <= L'Z') c = static_cast<wchar_t>(c - L'A' + L'a');
  return s;
}

const std::wstring parent_key = widen(hv::services_key);
const std::wstring parent_short =  // reg.exe takes HKLM\...
    L"HKLM" + parent_key.substr(parent_key.find(L'\\'));

std::wstring key_of(const std::string& key_name) { return parent_short + L"\\" + widen(key_name); }
std::wstring key_of(const guid& id) { return key_of(id.to_string()); }

// ---- Child processes, bounded --------------------------------------------------

std::wstring temp_file(const wchar_t* stem) {
  wchar_t dir[MAX_PATH];
  ::GetTempPathW(MAX_PATH, dir);
  static unsigned counter = 0;
  return std::wstring(dir) + stem + std::to_wstring(::GetCurrentProcessId()) + L"-" +
         std::to_wstring(++counter);
}

std::string read_file(const std::wstring& path) {
  std::string bytes;
  const HANDLE f = ::CreateFileW(path.c_str(), GENERIC_READ, FILE_SHARE_READ, nullptr,
                                 OPEN_EXISTING, 0, nullptr);
  if (f == INVALID_HANDLE_VALUE) return bytes;
  char buf[65536];
  DWORD got = 0;
  while (::ReadFile(f, buf, sizeof buf, &got, nullptr) && got > 0) bytes.append(buf, got);
  ::CloseHandle(f);
  return bytes;
}

struct child {
  HANDLE process = nullptr;
  std::wstring output_path;
};

// Starts `command_line` with stdout and stderr in a temporary file (a file,
// not a pipe: a child that hangs cannot block the reader).
child start(const std::wstring& command_line) {
  child c;
  c.output_path = temp_file(L"vmsock-hv-out-");
  SECURITY_ATTRIBUTES inherit{sizeof inherit, nullptr, TRUE};
  const HANDLE out = ::CreateFileW(c.output_path.c_str(), GENERIC_WRITE, FILE_SHARE_READ, &inherit,
                                   CREATE_ALWAYS, FILE_ATTRIBUTE_TEMPORARY, nullptr);
  if (out == INVALID_HANDLE_VALUE) return c;
  STARTUPINFOW si{};
  si.cb = sizeof si;
  si.dwFlags = STARTF_USESTDHANDLES;
  si.hStdInput = nullptr;
  si.hStdOutput = out;
  si.hStdError = out;
  PROCESS_INFORMATION pi{};
  std::wstring cmd = command_line;  // CreateProcessW may write to it
  if (::CreateProcessW(nullptr, &cmd[0], nullptr, nullptr, TRUE, 0, nullptr, nullptr, &si, &pi)) {
    ::CloseHandle(pi.hThread);
    c.process = pi.hProcess;
  }
  ::CloseHandle(out);
  return c;
}

struct run_result {
  bool started = false;
  bool finished = false;
  DWORD exit_code = 0;
  std::string output;  // the child's bytes, as it wrote them
};

// Waits at most `timeout_ms` for a child; kills it when it takes longer.
run_result finish(child& c, DWORD timeout_ms = 30000) {
  run_result r;
  r.started = c.process != nullptr;
  if (r.started) {
    r.finished = ::WaitForSingleObject(c.process, timeout_ms) == WAIT_OBJECT_0;
    if (!r.finished) {
      ::TerminateProcess(c.process, 99);
      ::WaitForSingleObject(c.process, 5000);
    }
    ::GetExitCodeProcess(c.process, &r.exit_code);
    ::CloseHandle(c.process);
    c.process = nullptr;
  }
  r.output = read_file(c.output_path);
  ::DeleteFileW(c.output_path.c_str());
  return r;
}

run_result run(const std::wstring& command_line, DWORD timeout_ms = 30000) {
  child c = start(command_line);
  return finish(c, timeout_ms);
}

// reg.exe, Wine's own, in this prefix.  Its console text is in the OEM code
// page, so only ASCII is compared from `reg query`; exact text goes through
// `reg export`.  Always the 64-bit view (/reg:64), which vmsock writes and the
// Hyper-V host reads: a 32-bit test started the 32-bit reg.exe, whose default
// view of HKLM\SOFTWARE is WOW6432Node.
run_result reg(const std::wstring& arguments) { return run(L"reg.exe " + arguments + L" /reg:64"); }

bool reg_key_exists(const std::wstring& key) {
  const auto r = reg(L"query \"" + key + L"\"");
  EXPECT_TRUE(r.finished) << "reg.exe query did not finish";
  return r.finished && r.exit_code == 0;
}

// `reg export KEY file` (UTF-16LE with a BOM), as one wide string.
std::wstring reg_export(const std::wstring& key) {
  const std::wstring file = temp_file(L"vmsock-hv-export-") + L".reg";
  const auto r = reg(L"export \"" + key + L"\" \"" + file + L"\" /y");
  EXPECT_TRUE(r.finished && r.exit_code == 0) << "reg export " << r.output;
  const std::string bytes = read_file(file);
  ::DeleteFileW(file.c_str());
  std::wstring text;
  for (std::size_t i = 0; i + 1 < bytes.size(); i += 2)
    text += static_cast<wchar_t>(static_cast<unsigned char>(bytes[i]) |
                                 static_cast<unsigned char>(bytes[i + 1]) << 8);
  if (!text.empty() && text[0] == 0xFEFF) text.erase(0, 1);
  return text;
}

// Every key of an export and its "ElementName" text (.reg escapes \ and ").
// Keys are the last path component, lower-cased.
std::map<std::wstring, std::optional<std::wstring>> exported_names(const std::wstring& text) {
  std::map<std::wstring, std::optional<std::wstring>> out;
  std::wstring current;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find(L"\r\n", pos);
    if (end == std::wstring::npos) end = text.size();
    const std::wstring line = text.substr(pos, end - pos);
    pos = end + 2;
    if (line.size() > 2 && line.front() == L'[' && line.back() == L']') {
      const std::wstring path = line.substr(1, line.size() - 2);
      current = lower(path.substr(path.rfind(L'\\') + 1));
      out[current];
      continue;
    }
    const std::wstring prefix = L"\"ElementName\"=\"";
    if (line.compare(0, prefix.size(), prefix) == 0 && line.back() == L'"') {
      std::wstring value;
      for (std::size_t i = prefix.size(); i + 1 < line.size(); ++i) {
        if (line[i] == L'\\' && i + 2 < line.size()) ++i;
        value += line[i];
      }
      out[current] = value;
    }
  }
  return out;
}

// The ElementName of one key, as reg.exe exports it; nullopt without one.
std::optional<std::wstring> exported_name(const std::wstring& key) {
  const auto all = exported_names(reg_export(key));
  const auto it = all.find(lower(key.substr(key.rfind(L'\\') + 1)));
  return it == all.end() ? std::nullopt : it->second;
}

// ---- Test GUIDs and the fixture ---------------------------------------------------

// Distinct in each call and each process.
guid fresh_guid() {
  static std::mt19937 rng(::GetCurrentProcessId() ^ ::GetTickCount());
  static std::uint32_t counter = 0;
  guid g{};
  g.data1 = static_cast<std::uint32_t>(rng()) & 0xFFFF0000u;
  g.data1 |= ++counter;
  g.data2 = 0x7e57;  // "test"
  g.data3 = 0x4b57;
  const std::uint32_t pid = ::GetCurrentProcessId();
  const std::uint8_t tail[8] = {0x8a,
                                0x11,
                                0x76,
                                0x6d,
                                static_cast<std::uint8_t>(pid >> 24),
                                static_cast<std::uint8_t>(pid >> 16),
                                static_cast<std::uint8_t>(pid >> 8),
                                static_cast<std::uint8_t>(pid)};
  std::copy(std::begin(tail), std::end(tail), std::begin(g.data4));
  return g;
}

const hv::registered_service* find(const std::vector<hv::registered_service>& list,
                                   const guid& id) {
  for (const auto& e : list)
    if (e.service_id == id) return &e;
  return nullptr;
}

std::size_t count_of(const std::vector<hv::registered_service>& list, const guid& id) {
  return static_cast<std::size_t>(
      std::count_if(list.begin(), list.end(),
                    [&](const hv::registered_service& e) { return e.service_id == id; }));
}

// The std::system_error `f` throws: its code and what().
struct thrown {
  std::error_code code;
  std::string what;
};
template <class F> thrown thrown_by(F&& f) {
  try {
    f();
  } catch (const std::system_error& e) {
    return {e.code(), e.what()};
  }
  return {{}, "(nothing thrown)"};
}

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

// Registers through vmsock and forgets nothing: every service and peer key a
// case made is removed after it (the prefix goes too, but a case should not
// see the one before it).
class Registry : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string why = why_not_scratch();
    if (!why.empty()) GTEST_SKIP() << why;
  }
  void TearDown() override {
    for (const auto& id : made_) {
      std::error_code ec;
      hv::unregister_service(id, ec);
    }
    for (const auto& key : peer_keys_) reg(L"delete \"" + key + L"\" /f");
  }

  guid make_id() {
    const guid id = fresh_guid();
    made_.push_back(id);
    return id;
  }
  void forget_later(const guid& id) { made_.push_back(id); }

  // `reg add` of a key vmsock did not write, with an ElementName unless empty.
  void peer_add(const std::wstring& key, const std::wstring& name = {}) {
    peer_keys_.push_back(key);
    std::wstring args = L"add \"" + key + L"\" /f";
    if (!name.empty()) args += L" /v ElementName /t REG_SZ /d \"" + name + L"\"";
    const auto r = reg(args);
    ASSERT_TRUE(r.finished && r.exit_code == 0) << "reg add failed: " << r.output;
  }

 private:
  std::vector<guid> made_;
  std::vector<std::wstring> peer_keys_;
};

// Sets an empty DACL on a key (nobody may open it for anything but its
// security) and puts a NULL one (everyone, all access: Wine's keys have no
// security descriptor of their own) back when it goes.
class denied_key {
 public:
  explicit denied_key(const std::wstring& hklm_path) {
    const std::wstring sub = hklm_path.substr(hklm_path.find(L'\\') + 1);
    ok_ = ::RegOpenKeyExW(HKEY_LOCAL_MACHINE, sub.c_str(), 0, WRITE_DAC | KEY_WOW64_64KEY, &key_) ==
          ERROR_SUCCESS;
    ok_ = ok_ && set(true);
  }
  denied_key(const denied_key&) = delete;
  denied_key& operator=(const denied_key&) = delete;
  ~denied_key() {
    if (key_ != nullptr) {
      set(false);
      ::RegCloseKey(key_);
    }
  }
  bool ok() const { return ok_; }

 private:
  bool set(bool deny) {
    SECURITY_DESCRIPTOR sd;
    ::InitializeSecurityDescriptor(&sd, SECURITY_DESCRIPTOR_REVISION);
    ::InitializeAcl(&acl_, sizeof acl_, ACL_REVISION);
    ::SetSecurityDescriptorDacl(&sd, TRUE, deny ? &acl_ : nullptr, FALSE);
    return ::RegSetKeySecurity(key_, DACL_SECURITY_INFORMATION, &sd) == ERROR_SUCCESS;
  }
  HKEY key_ = nullptr;
  ACL acl_{};
  bool ok_ = false;
};

// A name with a quote, a backslash, Latin-1, the BMP beyond it, and a
// character outside the BMP (a surrogate pair in UTF-16).
constexpr char unicode_name[] =
    "D\xc3\xa9mo \"agent\" \\ \xe2\x98\x83 \xd0\xb0\xd0\xb3\xd0\xb5\xd0\xbd\xd1\x82 "
    "\xf0\x9d\x84\x9e";

}  // namespace

// ---- The driver ---------------------------------------------------------------------

// When hv_registry_prefix.sh ran this program, the prefix really is the
// scratch one (else every Registry case would skip and the run say nothing).
TEST(ScratchPrefix, IsTheOneTheDriverMade) {
  if (env("VMSOCK_HV_REGISTRY_PREFIX").empty()) GTEST_SKIP() << "not run by hv_registry_prefix.sh";
  EXPECT_EQ(why_not_scratch(), "");
  std::printf("  scratch prefix: %s\n", env("WINEPREFIX").c_str());
}

// Wine runs programs with an elevated administrator token, so HKLM is
// writable here without asking; the access-denied cases below deny with
// DACLs instead.
TEST_F(Registry, WineRunsElevated) {
  HANDLE token = nullptr;
  ASSERT_TRUE(::OpenProcessToken(::GetCurrentProcess(), TOKEN_QUERY, &token));
  TOKEN_ELEVATION elevation{};
  DWORD n = 0;
  ASSERT_TRUE(::GetTokenInformation(token, TokenElevation, &elevation, sizeof elevation, &n));
  ::CloseHandle(token);
  EXPECT_NE(elevation.TokenIsElevated, 0u);
}

// ---- Register, read back with reg.exe ------------------------------------------

TEST_F(Registry, RegisterWritesTheKeyAndItsElementName) {
  const guid id = make_id();
  ASSERT_FALSE(reg_key_exists(key_of(id)));
  hv::register_service(id, unicode_name);

  // reg query: the key, the value's name and type, as Wine's reg.exe sees them.
  const auto q = reg(L"query \"" + key_of(id) + L"\" /v ElementName");
  ASSERT_TRUE(q.finished);
  EXPECT_EQ(q.exit_code, 0u) << q.output;
  EXPECT_TRUE(contains(q.output, "ElementName")) << q.output;
  EXPECT_TRUE(contains(q.output, "REG_SZ")) << q.output;

  // reg export: the exact text, in UTF-16.
  const auto name = exported_name(key_of(id));
  ASSERT_TRUE(name.has_value());
  EXPECT_TRUE(*name == widen(unicode_name)) << "reg export gave another ElementName";

  // The key's own name is the lower-case GUID without braces.
  const auto parent = reg(L"query \"" + parent_short + L"\"");
  ASSERT_EQ(parent.exit_code, 0u);
  EXPECT_TRUE(contains(parent.output, "GuestCommunicationServices\\" + id.to_string() + "\r\n"))
      << parent.output;
  EXPECT_TRUE(hv::is_service_registered(id));
}

TEST_F(Registry, ListShowsWhatWasRegistered) {
  const guid a = make_id();
  const guid b = make_id();
  hv::register_service(a, "service a");
  hv::register_service(b, unicode_name);
  const auto list = hv::registered_services();
  ASSERT_NE(find(list, a), nullptr);
  ASSERT_NE(find(list, b), nullptr);
  EXPECT_EQ(find(list, a)->element_name, "service a");
  EXPECT_EQ(find(list, a)->key_name, a.to_string());
  EXPECT_EQ(find(list, b)->element_name, unicode_name);

  std::error_code ec;
  const auto again = hv::registered_services(ec);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(again, list);
}

TEST_F(Registry, UnregisterRemovesTheKey) {
  const guid id = make_id();
  hv::register_service(id, "going away");
  ASSERT_TRUE(reg_key_exists(key_of(id)));
  hv::unregister_service(id);
  EXPECT_FALSE(reg_key_exists(key_of(id))) << "reg.exe still finds the key";
  EXPECT_FALSE(hv::is_service_registered(id));
  EXPECT_EQ(find(hv::registered_services(), id), nullptr);
}

// A key with a subkey inside (another tool's) goes too.
TEST_F(Registry, UnregisterRemovesWhatTheKeyHolds) {
  const guid id = make_id();
  hv::register_service(id, "with a subkey");
  peer_add(key_of(id) + L"\\Extra", L"x");
  std::error_code ec;
  EXPECT_TRUE(hv::unregister_service(id, ec));
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_FALSE(reg_key_exists(key_of(id)));
}

TEST_F(Registry, UnregisteringAnAbsentServiceIsNotFound) {
  const guid id = make_id();
  std::error_code ec = std::make_error_code(std::errc::io_error);
  EXPECT_FALSE(hv::unregister_service(id, ec)) << "the noexcept form says it was not there";
  EXPECT_EQ(ec, std::errc::no_such_file_or_directory)
      << "both forms report an absent service alike: " << ec.message();

  const auto t = thrown_by([&] { hv::unregister_service(id); });
  EXPECT_EQ(t.code, std::errc::no_such_file_or_directory) << t.what;
  EXPECT_TRUE(contains(t.what, "unregister Hyper-V service " + id.to_string())) << t.what;
  EXPECT_TRUE(contains(t.what, hv::service_key(id))) << t.what;
  EXPECT_TRUE(contains(t.what, "not registered")) << t.what;
  std::printf("  %s\n", t.what.c_str());
}

// ---- The port overload -----------------------------------------------------------

TEST_F(Registry, PortOverloadWritesTheTemplateGuid) {
  const guid expected = guid::parse("00000ac9-facb-11e6-bd58-64006a7986d3");
  forget_later(expected);
  hv::register_service(2761u, "port 2761");
  const auto q =
      reg(L"query \"" + parent_short + L"\\00000ac9-facb-11e6-bd58-64006a7986d3\" /v ElementName");
  EXPECT_EQ(q.exit_code, 0u) << q.output;
  EXPECT_TRUE(contains(q.output, "port 2761")) << q.output;
  EXPECT_TRUE(hv::is_service_registered(expected));

  std::error_code ec;
  hv::register_service(std::uint32_t{0x80000000u}, "too far", ec);
  EXPECT_EQ(ec, vmsock::errc::no_mapping);
  const auto t = thrown_by([] { hv::register_service(std::uint32_t{0xFFFFFFFFu}, "too far"); });
  EXPECT_EQ(t.code, vmsock::errc::no_mapping);
  EXPECT_TRUE(contains(t.what, "4294967295")) << t.what;
  EXPECT_TRUE(contains(t.what, "max_port")) << t.what;
}

// ---- Re-registering -------------------------------------------------------------------

TEST_F(Registry, RegisteringAgainUpdatesTheName) {
  const guid id = make_id();
  hv::register_service(id, "first name");
  hv::register_service(id, unicode_name);
  EXPECT_TRUE(exported_name(key_of(id)) == widen(unicode_name));
  const auto list = hv::registered_services();
  EXPECT_EQ(count_of(list, id), 1u);
  ASSERT_NE(find(list, id), nullptr);
  EXPECT_EQ(find(list, id)->element_name, unicode_name);
}

// The guide's own example key is upper case; the registry ignores case, so
// registering the same GUID updates that key in place.
TEST_F(Registry, RegisteringOverAnUpperCaseKeyUpdatesIt) {
  const guid id = make_id();
  std::string upper = id.to_string();
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  peer_add(key_of(upper), L"written by reg.exe");
  EXPECT_TRUE(hv::is_service_registered(id));
  hv::register_service(id, "written by vmsock");
  EXPECT_TRUE(exported_name(key_of(upper)) == std::wstring(L"written by vmsock"));
  const auto list = hv::registered_services();
  EXPECT_EQ(count_of(list, id), 1u);
  ASSERT_NE(find(list, id), nullptr);
  EXPECT_EQ(find(list, id)->key_name, upper) << "the key keeps the name it was made with";
}

// ---- Keys vmsock did not write -----------------------------------------------------------

TEST_F(Registry, ReadsKeysInAnyCaseWithOrWithoutBraces) {
  const guid upper_id = make_id();
  const guid braced_id = make_id();
  const guid bare_id = make_id();  // a key and no ElementName
  std::string upper = upper_id.to_string();
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::string braced = "{" + braced_id.to_string() + "}";
  for (auto& c : braced) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  peer_add(key_of(upper), L"Upper");
  peer_add(key_of(braced), L"Braced");
  peer_add(key_of(bare_id), L"");

  EXPECT_TRUE(hv::is_service_registered(upper_id));
  EXPECT_TRUE(hv::is_service_registered(braced_id));
  EXPECT_TRUE(hv::is_service_registered(bare_id));
  const auto list = hv::registered_services();
  ASSERT_NE(find(list, upper_id), nullptr);
  ASSERT_NE(find(list, braced_id), nullptr);
  ASSERT_NE(find(list, bare_id), nullptr);
  EXPECT_EQ(find(list, upper_id)->element_name, "Upper");
  EXPECT_EQ(find(list, upper_id)->key_name, upper);
  EXPECT_EQ(find(list, braced_id)->element_name, "Braced");
  EXPECT_EQ(find(list, braced_id)->key_name, braced);
  EXPECT_EQ(find(list, bare_id)->element_name, "");

  hv::unregister_service(braced_id);
  EXPECT_FALSE(reg_key_exists(key_of(braced))) << "the braced key is still there";
  hv::unregister_service(upper_id);
  EXPECT_FALSE(reg_key_exists(key_of(upper)));
}

TEST_F(Registry, NonGuidSubkeysAreSkippedAndReported) {
  const guid id = make_id();
  hv::register_service(id, "a real one");
  peer_add(key_of(std::string("not-a-guid")), L"Not a GUID");
  peer_add(key_of(std::string("{") + id.to_string()), L"");  // unbalanced brace
  peer_add(key_of(id.to_string() + "0"), L"");               // one digit too many

  std::vector<std::string> skipped{"left over from before"};
  std::vector<hv::registered_service> list;
  ASSERT_NO_THROW(list = hv::registered_services(&skipped));
  ASSERT_NE(find(list, id), nullptr);
  for (const auto& e : list) EXPECT_EQ(guid::try_parse(e.key_name), e.service_id) << e.key_name;
  std::sort(skipped.begin(), skipped.end());
  std::vector<std::string> expected{"not-a-guid", "{" + id.to_string(), id.to_string() + "0"};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(skipped, expected);

  // No out-parameter: skipped all the same, nothing thrown.
  std::error_code ec;
  EXPECT_EQ(hv::registered_services(ec), list);
  EXPECT_FALSE(ec);
}

// ---- Bad names change nothing -----------------------------------------------------------

struct bad_name {
  const char* label;
  std::string name;
  std::errc code;
  const char* says;
};

std::vector<bad_name> bad_names() {
  return {
      {"empty", "", std::errc::invalid_argument, "is empty"},
      {"embedded NUL", std::string("ab\0cd", 5), std::errc::invalid_argument,
       "NUL byte at offset 2"},
      {"overlong '/'", "x\xc0\xaf", std::errc::illegal_byte_sequence, "offset 1 (byte 0xc0)"},
      {"UTF-16 surrogate", "\xed\xa0\x80", std::errc::illegal_byte_sequence, "offset 0"},
      {"above U+10FFFF", "ok\xf4\x90\x80\x80", std::errc::illegal_byte_sequence, "offset 2"},
      {"cut short", "abc\xe2\x82", std::errc::illegal_byte_sequence, "offset 3"},
      {"Latin-1, not UTF-8", "D\xe9mo", std::errc::illegal_byte_sequence, "offset 1 (byte 0xe9)"},
      {"one unit too long", std::string(hv::max_element_name_units + 1, 'x'),
       std::errc::value_too_large, "524288 UTF-16 units"},
      // 1 MiB of UTF-8 in 4-byte characters: 2 units each, so 524288 units.
      {"too long in surrogate pairs",
       [] {
         std::string s;
         for (std::size_t i = 0; i < (hv::max_element_name_units + 1) / 2; ++i)
           s += "\xf0\x9d\x84\x9e";
         return s;
       }(),
       std::errc::value_too_large, "524288 UTF-16 units"},
  };
}

TEST_F(Registry, BadNamesAreRefusedAndChangeNothing) {
  const guid existing = make_id();
  hv::register_service(existing, "unchanged");
  for (const auto& bad : bad_names()) {
    SCOPED_TRACE(bad.label);
    const guid fresh = make_id();
    std::error_code ec;
    hv::register_service(fresh, bad.name, ec);
    EXPECT_EQ(ec, bad.code) << ec.message();
    EXPECT_FALSE(reg_key_exists(key_of(fresh))) << "a key was made for a bad name";

    hv::register_service(existing, bad.name, ec);
    EXPECT_EQ(ec, bad.code);
    const auto t = thrown_by([&] { hv::register_service(existing, bad.name); });
    EXPECT_EQ(t.code, bad.code);
    EXPECT_TRUE(contains(t.what, "register Hyper-V service " + existing.to_string())) << t.what;
    EXPECT_TRUE(contains(t.what, hv::service_key(existing))) << t.what;
    EXPECT_TRUE(contains(t.what, bad.says)) << t.what;
    EXPECT_TRUE(contains(t.what, "nothing was written")) << t.what;
    EXPECT_LT(t.what.size(), 1000u) << "the message quotes a long name whole";
  }
  EXPECT_TRUE(exported_name(key_of(existing)) == std::wstring(L"unchanged"));
  std::printf("  e.g. %s\n",
              thrown_by([&] { hv::register_service(existing, "D\xe9mo"); }).what.c_str());
}

// The limit is the registry's, in UTF-16 units: 524287 of them fit whether
// they take 1 byte of UTF-8 each or 3 (1.5 MiB of UTF-8).
TEST_F(Registry, TheLongestNamesFit) {
  std::string cjk;
  for (std::size_t i = 0; i < hv::max_element_name_units; ++i) cjk += "\xe4\xb8\xad";  // U+4E2D
  ASSERT_EQ(cjk.size(), 3 * hv::max_element_name_units);
  for (const std::string& name : {std::string(hv::max_element_name_units, 'a'), cjk}) {
    const guid id = make_id();
    hv::register_service(id, name);
    const auto list = hv::registered_services();
    ASSERT_NE(find(list, id), nullptr);
    EXPECT_TRUE(find(list, id)->element_name == name) << "read back differs";
    const auto exported = exported_name(key_of(id));
    ASSERT_TRUE(exported.has_value());
    EXPECT_EQ(exported->size(), hv::max_element_name_units) << "reg export's length";
  }
}

// ---- Access denied ----------------------------------------------------------------------
// Wine checks a key's DACL when it is opened, so an empty DACL on a service's
// key denies what a non-administrator is denied on Windows.

TEST_F(Registry, AccessDeniedNamesTheKeyAndAdministratorRights) {
  const guid id = make_id();
  hv::register_service(id, "locked");
  {
    denied_key lock(key_of(id));
    ASSERT_TRUE(lock.ok());

    std::error_code ec;
    hv::register_service(id, "changed", ec);
    EXPECT_EQ(ec, std::errc::permission_denied) << ec.message();
    auto t = thrown_by([&] { hv::register_service(id, "changed"); });
    EXPECT_EQ(t.code, std::errc::permission_denied);
    EXPECT_TRUE(contains(t.what, "register Hyper-V service " + id.to_string())) << t.what;
    EXPECT_TRUE(contains(t.what, hv::service_key(id))) << t.what;
    EXPECT_TRUE(contains(t.what, "administrator rights are needed")) << t.what;
    std::printf("  %s\n", t.what.c_str());

    EXPECT_FALSE(hv::unregister_service(id, ec));
    EXPECT_EQ(ec, std::errc::permission_denied);
    t = thrown_by([&] { hv::unregister_service(id); });
    EXPECT_EQ(t.code, std::errc::permission_denied);
    EXPECT_TRUE(contains(t.what, "unregister Hyper-V service " + id.to_string())) << t.what;
    EXPECT_TRUE(contains(t.what, hv::service_key(id))) << t.what;
    EXPECT_TRUE(contains(t.what, "administrator rights are needed")) << t.what;

    EXPECT_FALSE(hv::is_service_registered(id, ec));
    EXPECT_EQ(ec, std::errc::permission_denied);
    t = thrown_by([&] { hv::is_service_registered(id); });
    EXPECT_TRUE(contains(t.what, hv::service_key(id))) << t.what;
    EXPECT_TRUE(contains(t.what, "administrator")) << t.what;

    // The list fails on that key, and says which one.
    EXPECT_TRUE(hv::registered_services(ec).empty());
    EXPECT_EQ(ec, std::errc::permission_denied);
    t = thrown_by([] { hv::registered_services(); });
    EXPECT_TRUE(contains(t.what, "list Hyper-V services: " + hv::service_key(id))) << t.what;
  }
  // Nothing changed while it was denied.
  EXPECT_TRUE(exported_name(key_of(id)) == std::wstring(L"locked"));
}

TEST_F(Registry, ListingADeniedParentNamesIt) {
  const guid id = make_id();
  hv::register_service(id, "under a locked parent");
  denied_key lock(parent_short);
  ASSERT_TRUE(lock.ok());
  const auto t = thrown_by([] { hv::registered_services(); });
  EXPECT_EQ(t.code, std::errc::permission_denied);
  EXPECT_TRUE(contains(t.what, std::string("list Hyper-V services: ") +
                                   std::string(hv::services_key) + ": reading this key was denied"))
      << t.what;
}

// ---- Two processes at once ---------------------------------------------------------------

TEST_F(Registry, TwoProcessesRegisterAtOnce) {
  wchar_t self[MAX_PATH];
  const DWORD n = ::GetModuleFileNameW(nullptr, self, MAX_PATH);
  ASSERT_GT(n, 0u);
  std::wstring helper(self, n);
  helper = helper.substr(0, helper.rfind(L'\\') + 1) + L"vmsock_hv_registry_helper.exe";
  ASSERT_NE(::GetFileAttributesW(helper.c_str()), INVALID_FILE_ATTRIBUTES);

  constexpr int per_process = 200;
  const guid shared = make_id();
  guid base_a = fresh_guid();
  guid base_b = fresh_guid();
  base_a.data1 = 0x5a000000u;
  base_b.data1 = 0x5b000000u;
  for (int i = 0; i < per_process; ++i) {
    guid a = base_a, b = base_b;
    a.data1 += static_cast<std::uint32_t>(i);
    b.data1 += static_cast<std::uint32_t>(i);
    forget_later(a);
    forget_later(b);
  }

  const std::wstring event = L"vmsock-hv-registry-go-" + std::to_wstring(::GetCurrentProcessId());
  const HANDLE go = ::CreateEventW(nullptr, TRUE, FALSE, event.c_str());
  ASSERT_NE(go, nullptr);
  const auto cmd = [&](const guid& base, const wchar_t* tag) {
    return L"\"" + helper + L"\" " + event + L" " + widen(base.to_string()) + L" " +
           std::to_wstring(per_process) + L" " + tag + L" " + widen(shared.to_string());
  };
  child a = start(cmd(base_a, L"A"));
  child b = start(cmd(base_b, L"B"));
  ::Sleep(200);  // both waiting at the event, most likely
  const ULONGLONG t0 = ::GetTickCount64();
  ::SetEvent(go);
  const auto ra = finish(a, 60000);
  const auto rb = finish(b, 60000);
  const ULONGLONG elapsed = ::GetTickCount64() - t0;
  ::CloseHandle(go);
  ASSERT_TRUE(ra.finished && rb.finished) << "a helper did not finish within 60 s";
  EXPECT_EQ(ra.exit_code, 0u) << ra.output;
  EXPECT_EQ(rb.exit_code, 0u) << rb.output;
  // "At once": the two runs overlap in time.
  unsigned long long a0 = 0, a1 = 0, b0 = 0, b1 = 0;
  ASSERT_EQ(std::sscanf(ra.output.c_str(), "ran %llu %llu", &a0, &a1), 2) << ra.output;
  ASSERT_EQ(std::sscanf(rb.output.c_str(), "ran %llu %llu", &b0, &b1), 2) << rb.output;
  EXPECT_LT(std::max(a0, b0), std::min(a1, b1)) << "the helpers ran one after the other: A " << a0
                                                << ".." << a1 << ", B " << b0 << ".." << b1;
  const double overlap_ms = static_cast<double>(std::min(a1, b1) - std::max(a0, b0)) / 1e4;

  // Every service of both, with its own name, as reg.exe exports them.
  const auto exported = exported_names(reg_export(parent_short));
  const auto list = hv::registered_services();
  for (int i = 0; i < per_process; ++i) {
    for (const auto& [base, tag] : {std::pair{base_a, "A"}, std::pair{base_b, "B"}}) {
      guid id = base;
      id.data1 += static_cast<std::uint32_t>(i);
      const std::string name = std::string(tag) + " #" + std::to_string(i);
      const auto it = exported.find(widen(id.to_string()));
      ASSERT_TRUE(it != exported.end()) << id.to_string() << " missing from reg export";
      EXPECT_TRUE(it->second == widen(name)) << id.to_string();
      ASSERT_NE(find(list, id), nullptr);
      EXPECT_EQ(find(list, id)->element_name, name);
    }
  }
  // Both wrote the shared one; the last write won, whole.
  ASSERT_NE(find(list, shared), nullptr);
  const std::string last = find(list, shared)->element_name;
  EXPECT_TRUE(last == "A" || last == "B") << last;
  EXPECT_EQ(count_of(list, shared), 1u);
  std::printf(
      "  2 processes x %d services (+ %d writes of one shared service each): %llu ms, "
      "%.1f ms of them overlapping; last name of the shared one: %s\n",
      per_process, per_process, static_cast<unsigned long long>(elapsed), overlap_ms, last.c_str());
}

// ---- The WSAEACCES hint -------------------------------------------------------------------

TEST(AccessDeniedHint, TextForEachState) {
  const guid id = *hv::service_id_from_port(5000);
  const std::string key = hv::service_key(id);
  using state = hv::detail::registration_state;

  const std::string missing = hv::detail::access_denied_hint(id, state::not_registered);
  EXPECT_TRUE(contains(missing, "is not registered on this machine (no key " + key + ")"))
      << missing;
  EXPECT_TRUE(contains(missing, "a host may refuse one that is not")) << missing;
  EXPECT_TRUE(contains(missing, "vmsock::hv::register_service")) << missing;

  const std::string unknown = hv::detail::access_denied_hint(id, state::unknown, "Access denied");
  EXPECT_TRUE(contains(unknown, key)) << unknown;
  EXPECT_TRUE(contains(unknown, "could not be read: Access denied")) << unknown;

  const std::string present = hv::detail::access_denied_hint(id, state::registered);
  EXPECT_TRUE(contains(present, "is registered on this machine (" + key + ")")) << present;
  EXPECT_TRUE(contains(present, "not the cause")) << present;
}

// hv::access_denied_hint looks the registration up in this machine's registry.
TEST_F(Registry, HintFollowsTheRegistry) {
  const guid id = make_id();
  using state = hv::detail::registration_state;
  EXPECT_EQ(hv::access_denied_hint(id), hv::detail::access_denied_hint(id, state::not_registered));
  std::printf("  %s\n", hv::access_denied_hint(id).c_str());

  hv::register_service(id, "now registered");
  EXPECT_EQ(hv::access_denied_hint(id), hv::detail::access_denied_hint(id, state::registered));

  // Unreadable: the hint says so, and why.
  denied_key lock(key_of(id));
  ASSERT_TRUE(lock.ok());
  const std::string unknown = hv::access_denied_hint(id);
  EXPECT_TRUE(contains(unknown, "could not be read: ")) << unknown;
}

// ---- UTF-8: vmsock's check and Windows' conversion agree --------------------------------

bool windows_accepts(std::string_view s, int& units) {
  units = ::MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s.data(), static_cast<int>(s.size()),
                                nullptr, 0);
  return units > 0;
}

TEST(ElementNameCheck, AgreesWithMultiByteToWideChar) {
  const char* const table[] = {
      "a", "\x7f", "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xef\xbf\xbf", "\xf0\x90\x80\x80",
      "\xf4\x8f\xbf\xbf", "\xed\x9f\xbf", "\xee\x80\x80",
      // and what must be refused
      "\x80", "\xbf", "\xc0\x80", "\xc1\xbf", "\xe0\x80\x80", "\xe0\x9f\xbf", "\xed\xa0\x80",
      "\xed\xbf\xbf", "\xf0\x80\x80\x80", "\xf0\x8f\xbf\xbf", "\xf4\x90\x80\x80",
      "\xf5\x80\x80\x80", "\xf8\x88\x80\x80\x80", "\xfe", "\xff", "\xc2", "\xe2\x82",
      "\xf0\x9d\x84", "\xc2\x41"};
  for (const char* s : table) {
    SCOPED_TRACE(testing::PrintToString(std::string(s)));
    int units = 0;
    const bool windows = windows_accepts(s, units);
    const auto check = hv::detail::check_element_name(s);
    EXPECT_EQ(check.problem == hv::detail::name_problem::none, windows);
    if (windows) {
      EXPECT_EQ(check.utf16_units, static_cast<std::size_t>(units));
    }
  }
  // Random short strings, biased towards bytes that start or continue
  // sequences; NUL left out (MultiByteToWideChar takes it as a character).
  std::mt19937 rng(20240611);
  const unsigned char pool[] = {'a',  0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2,
                                0xdf, 0xe0, 0xe1, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf4, 0xf5, 0xff};
  int accepted = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string s(1 + rng() % 6, '\0');
    for (auto& c : s) c = static_cast<char>(pool[rng() % sizeof pool]);
    int units = 0;
    const bool windows = windows_accepts(s, units);
    const auto check = hv::detail::check_element_name(s);
    ASSERT_EQ(check.problem == hv::detail::name_problem::none, windows)
        << testing::PrintToString(s);
    if (windows) {
      ++accepted;
      ASSERT_EQ(check.utf16_units, static_cast<std::size_t>(units)) << testing::PrintToString(s);
    }
  }
  std::printf("  20000 random strings, %d valid UTF-8: same verdict and length as Windows\n",
              accepted);
}
