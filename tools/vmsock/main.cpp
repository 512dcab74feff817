// vmsock: the command-line tool.  One executable, subcommands after git's and
// ip(8)'s layout, each with its own --help.  Exit codes: 0 done, 1 a run-time
// failure (the library's message), 2 a usage error (a one-line reason).
#include "cli.hpp"

#include <vmsock/config.hpp>
#include <vmsock/error.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <system_error>
#include <vector>

namespace vmsock_cli {

namespace {

constexpr const char* main_help =
    "usage: vmsock <command> [arguments]\n"
    "\n"
    "Sockets between hypervisor hosts and their VMs, from the shell.\n"
    "\n"
    "commands:\n"
    "  cat ADDR ADDR        relay bytes both ways between two addresses (a socat for VM\n"
    "                       sockets): URIs, listen:URI, - (stdin/stdout), exec:COMMAND\n"
    "  mux UDS_PATH TARGET  a Firecracker-style vsock socket (CONNECT <port>) in front of\n"
    "                       a QEMU/KVM or Hyper-V guest's VM sockets\n"
    "  port2guid PORT       the Hyper-V service id of a VSOCK port\n"
    "  guid2port GUID       the VSOCK port of a template Hyper-V service id\n"
    "  cid                  this machine's VSOCK context id\n"
    "  parse URI...         the normalised URI, its family and native size\n"
    "  service register|unregister|list\n"
    "                       Hyper-V service registration (Windows hosts)\n"
    "\n"
    "'vmsock <command> --help' describes each.  URIs: vsock://CID:PORT,\n"
    "hvsock://VM/SERVICE, hybrid-vsock:///UDS:PORT, tcp://ADDR:PORT, tcp://[ADDR6]:PORT,\n"
    "udp://..., unix:///PATH, unix://@ABSTRACT.\n"
    "\n"
    "Exit status: 0 success, 1 a run-time failure, 2 a usage error.\n";

int dispatch(const std::string& name, arguments& args) {
  if (name == "cat") return run_cat(args);
  if (name == "mux") return run_mux(args);
  if (name == "port2guid") return run_port2guid(args);
  if (name == "guid2port") return run_guid2port(args);
  if (name == "cid") return run_cid(args);
  if (name == "parse") return run_parse(args);
  if (name == "service") return run_service(args);
  throw usage_error("unknown command '" + name +
                    "' (cat, mux, port2guid, guid2port, cid, parse, service)");
}

}  // namespace

parsed_number parse_number(std::string_view what, std::string_view text, std::uint64_t max) {
  std::string_view digits = text;
  unsigned base = 10;
  if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
    base = 16;
    digits.remove_prefix(2);
  }
  if (digits.empty())
    throw usage_error(std::string(what) + " '" + std::string(text) + "' is not a number");
  parsed_number r;
  for (const char c : digits) {
    unsigned d = 0;
    if (c >= '0' && c <= '9')
      d = static_cast<unsigned>(c - '0');
    else if (base == 16 && c >= 'a' && c <= 'f')
      d = static_cast<unsigned>(c - 'a' + 10);
    else if (base == 16 && c >= 'A' && c <= 'F')
      d = static_cast<unsigned>(c - 'A' + 10);
    else
      throw usage_error(std::string(what) + " '" + std::string(text) +
                        "' is not a number (decimal, or hexadecimal with 0x)");
    if (r.too_large) continue;
    if (r.value > (max - d) / base) {
      r.too_large = true;  // keep checking the digits: "0x8000000z" is not a number
      continue;
    }
    r.value = r.value * base + d;
  }
  return r;
}

std::chrono::milliseconds parse_duration(std::string_view option, std::string_view text) {
  std::size_t i = 0;
  double v = 0;
  bool any = false;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i, any = true)
    v = v * 10 + (text[i] - '0');
  if (i < text.size() && text[i] == '.') {
    double scale = 0.1;
    for (++i; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i, any = true, scale /= 10)
      v += (text[i] - '0') * scale;
  }
  const std::string_view unit = text.substr(i);
  double ms = 0;
  if (unit.empty() || unit == "s")
    ms = v * 1000;
  else if (unit == "ms")
    ms = v;
  else if (unit == "m" || unit == "min")
    ms = v * 60'000;
  else if (unit == "h")
    ms = v * 3'600'000;
  else
    any = false;
  if (!any)
    throw usage_error(std::string(option) + ": '" + std::string(text) +
                      "' is not a duration (e.g. 500ms, 5s, 2m; seconds when no unit)");
  if (ms < 1 || ms > 1e12)
    throw usage_error(std::string(option) + ": '" + std::string(text) +
                      "' is out of range (1 ms to 31 years)");
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::ceil(ms)));
}

std::size_t parse_size(std::string_view option, std::string_view text, std::size_t min,
                       std::size_t max) {
  std::size_t i = 0;
  std::uint64_t v = 0;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    v = v * 10 + static_cast<std::uint64_t>(text[i] - '0');
    if (v > max) break;
  }
  std::uint64_t mult = 1;
  const std::string_view unit = text.substr(i);
  if (unit == "K" || unit == "k" || unit == "KiB")
    mult = 1024;
  else if (unit == "M" || unit == "MiB")
    mult = 1024 * 1024;
  else if (!unit.empty() || i == 0)
    throw usage_error(std::string(option) + ": '" + std::string(text) +
                      "' is not a size (e.g. 65536, 64K, 1M)");
  if (v > max / mult || v * mult < min || v * mult > max)
    throw usage_error(std::string(option) + ": '" + std::string(text) + "' is out of range (" +
                      std::to_string(min) + " to " + std::to_string(max) + " bytes)");
  return static_cast<std::size_t>(v * mult);
}

std::optional<std::vector<std::string>> positionals(arguments& args, const char* help) {
  std::vector<std::string> out;
  bool only_positionals = false;
  while (!args.empty()) {
    std::string a = args.take();
    if (!only_positionals && (a == "-h" || a == "--help")) {
      print_help(help);
      return std::nullopt;
    }
    if (!only_positionals && a == "--") {
      only_positionals = true;
      continue;
    }
    if (!only_positionals && a.size() > 1 && a[0] == '-' && !(a[1] >= '0' && a[1] <= '9'))
      throw usage_error("unknown option '" + a + "'");
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace vmsock_cli

int main(int argc, char** argv) {
  using namespace vmsock_cli;
  std::vector<std::string> all(argv + 1, argv + argc);
  std::string prefix = "vmsock";
  try {
    if (all.empty())
      throw usage_error(
          "a command is needed: cat, mux, port2guid, guid2port, cid, parse or service (vmsock "
          "--help)");
    const std::string name = all.front();
    if (name == "-h" || name == "--help" || name == "help") {
      if (name == "help" && all.size() > 1) {
        arguments help_args(all[1], {"--help"});
        prefix = "vmsock " + all[1];
        return dispatch(all[1], help_args);
      }
      return print_help(main_help);
    }
    if (name == "--version" || name == "-V") {
      std::printf("vmsock %d.%d.%d\n", VMSOCK_VERSION_MAJOR, VMSOCK_VERSION_MINOR,
                  VMSOCK_VERSION_PATCH);
      return exit_ok;
    }
    if (!name.empty() && name[0] == '-')
      throw usage_error("unknown option '" + name + "' before the command");
    arguments args(name, std::vector<std::string>(all.begin() + 1, all.end()));
    prefix = "vmsock " + name;
    return dispatch(name, args);
  } catch (const usage_error& e) {
    std::fprintf(stderr, "%s: %s\n", prefix.c_str(), e.what());
    return exit_usage;
  } catch (const std::exception& e) {
    // vmsock::parse_error, std::system_error (the library's messages) and our own.
    std::fprintf(stderr, "%s: %s\n", prefix.c_str(), e.what());
    return exit_failure;
  }
}
