// The small subcommands: port2guid, guid2port, cid, parse, service.  Each is a
// thin layer over one public part of the library.
#include "cli.hpp"

#include <vmsock/endpoint/any_endpoint.hpp>
#include <vmsock/socket/datagram_socket.hpp>
#include <vmsock/endpoint/guid.hpp>
#include <vmsock/host/hv_registry.hpp>
#include <vmsock/endpoint/hyperv.hpp>
#include <vmsock/host/local_cid.hpp>
#include <vmsock/socket/stream_socket.hpp>
#include <vmsock/endpoint/vsock.hpp>

#include <cstdio>
#include <string>
#include <type_traits>
#include <vector>

namespace vmsock_cli {

namespace {

constexpr const char* port2guid_help =
    "usage: vmsock port2guid PORT\n"
    "\n"
    "Prints the Hyper-V service id that carries VSOCK port PORT (decimal, or hexadecimal\n"
    "with 0x): the VSOCK template 00000000-facb-11e6-bd58-64006a7986d3 with PORT as its\n"
    "first field.  Ports above 0x7fffffff have none (exit 1).\n";

constexpr const char* guid2port_help =
    "usage: vmsock guid2port GUID\n"
    "\n"
    "Prints the VSOCK port a Hyper-V service id carries (braces optional, any case).  A\n"
    "GUID that is not a VSOCK-template id, or whose first field is above 0x7fffffff,\n"
    "carries none (exit 1).\n";

constexpr const char* cid_help =
    "usage: vmsock cid\n"
    "\n"
    "Prints this machine's VSOCK context id (IOCTL_VM_SOCKETS_GET_LOCAL_CID on\n"
    "/dev/vsock), or says why there is none (exit 1).  In a Hyper-V guest on the hv_sock\n"
    "transport it reads as 4294967295 (any).  Nothing is sent.\n";

constexpr const char* parse_help =
    "usage: vmsock parse URI...\n"
    "\n"
    "Parses each URI as the library does and prints its normalised form, scheme,\n"
    "socket type, address family and native address size, and how this platform\n"
    "carries it (an hvsock:// URI travels as AF_VSOCK on Linux, a vsock:// URI as\n"
    "AF_HYPERV on Windows).  Nothing is opened.  A URI that does not parse is a\n"
    "usage error: exit 2 with the reason.\n";

constexpr const char* service_help =
    "usage: vmsock service register GUID|PORT NAME\n"
    "       vmsock service unregister GUID|PORT\n"
    "       vmsock service list\n"
    "\n"
    "Hyper-V integration service registration on a Windows host (the registry key\n"
    "HKLM\\...\\Virtualization\\GuestCommunicationServices\\<GUID> with ElementName NAME),\n"
    "which a Hyper-V host needs before a VM may use a service id.  A PORT stands for its\n"
    "VSOCK-template service id (vmsock port2guid).  Writing needs administrator rights.\n"
    "On Linux there is nothing to register (exit 1, saying so).\n";

// "2147483648 (0x80000000)"
std::string both_bases(std::uint64_t v) {
  char hex[32];
  std::snprintf(hex, sizeof hex, "0x%llx", static_cast<unsigned long long>(v));
  return std::to_string(v) + " (" + hex + ")";
}

// One port argument: a usage error unless it is a number; `too_large` above
// 32 bits is reported with the text as given.
std::uint64_t port_argument(const std::string& text, const char* what) {
  const auto n = parse_number(what, text, 0xFFFFFFFFFFFFFFFFull);
  if (n.too_large)
    throw failure(what + std::string(" ") + text +
                  " is above 0x7fffffff (hv::max_port): no Hyper-V service id carries it");
  return n.value;
}

vmsock::guid guid_argument(const std::string& text) {
  // A malformed GUID is a usage error, with the library's reason.
  try {
    return vmsock::guid::parse(text);
  } catch (const vmsock::parse_error& e) {
    throw usage_error(e.what());
  }
}

std::string service_id_of(const std::string& text, vmsock::guid& out) {
  if (!text.empty() && text.find('-') == std::string::npos) {
    const std::uint64_t port = port_argument(text, "port");
    const auto id = port <= vmsock::hv::max_port
                        ? vmsock::hv::service_id_from_port(static_cast<std::uint32_t>(port))
                        : std::nullopt;
    if (!id)
      throw failure("port " + both_bases(port) +
                    " is above 0x7fffffff (hv::max_port): no Hyper-V service id carries it");
    out = *id;
    return "VSOCK port " + std::to_string(port);
  }
  out = guid_argument(text);
  return {};
}

// The address family's name and its native address struct's.
struct family_text {
  const char* family;
  const char* native;
};
template <class E> constexpr family_text names_of() {
  if constexpr (std::is_same_v<E, vmsock::inet4_endpoint>)
    return {"AF_INET", "sockaddr_in"};
  else if constexpr (std::is_same_v<E, vmsock::inet6_endpoint>)
    return {"AF_INET6", "sockaddr_in6"};
  else if constexpr (std::is_same_v<E, vmsock::unix_endpoint>)
    return {"AF_UNIX", "sockaddr_un"};
  else if constexpr (std::is_same_v<E, vmsock::vsock_endpoint>)
    return {"AF_VSOCK", "sockaddr_vm"};
  else
    return {"AF_HYPERV", "SOCKADDR_HV"};
}

// How this platform's sockets carry an endpoint of the other VM family.
template <class Mapped> void print_carried(int os_family, const std::optional<Mapped>& m) {
  if (m)
    std::printf("carried:   as %s (%d): %s, %s, %zu bytes\n", names_of<Mapped>().family, os_family,
                m->to_string().c_str(), names_of<Mapped>().native, m->native_size());
  else
    std::printf("carried:   not on this platform: %s\n",
                vmsock::make_error_code(vmsock::errc::no_mapping).message().c_str());
}

void print_parsed(const vmsock::any_endpoint& any) {
  std::printf("uri:       %s\n", any.to_string().c_str());
  std::printf("scheme:    %s\n", std::string(vmsock::to_string(any.scheme())).c_str());
  std::printf("type:      %s\n", any.type() == vmsock::socket_type::stream ? "stream" : "datagram");
  vmsock::detail::visit_nothrow(
      [&](const auto& ep) {
        using E = std::decay_t<decltype(ep)>;
        if constexpr (std::is_same_v<E, vmsock::hybrid_vsock_endpoint>) {
          // A guest port behind a VMM's Unix socket: no address family of its own.
          std::printf("family:    AF_UNIX (%d): the VMM's socket, then \"CONNECT %u\"\n", E::family,
                      ep.port());
          std::printf("connects:  %s\n", ep.uds().to_string().c_str());
          std::printf("listens:   %s (the guest's connections to host port %u)\n",
                      ep.listen_uds().to_string().c_str(), ep.port());
          return;
        } else {
          std::printf("family:    %s (%d)\n", names_of<E>().family, E::family);
          std::printf("native:    %s, %zu bytes\n", names_of<E>().native, ep.native_size());
          constexpr int os_family = vmsock::stream_socket<E>::native_family;
          if constexpr (os_family == E::family) {
            std::printf("carried:   as %s\n", names_of<E>().family);
          } else if constexpr (std::is_same_v<E, vmsock::hv_endpoint>) {
            print_carried(os_family, vmsock::to_vsock(ep));  // Linux: the hv_sock transport
          } else if constexpr (std::is_same_v<E, vmsock::vsock_endpoint>) {
            print_carried(os_family, vmsock::to_hyperv(ep));  // Windows: AF_HYPERV
          }
          if constexpr (std::is_same_v<E, vmsock::hv_endpoint>) {
            if (const auto port = ep.port())
              std::printf("port:      %u (a VSOCK-template service id)\n", *port);
          }
        }
      },
      any.value());
}

}  // namespace

int run_port2guid(arguments& args) {
  const auto given = positionals(args, port2guid_help);
  if (!given) return exit_ok;  // --help
  const std::vector<std::string>& pos = *given;
  if (pos.size() != 1)
    throw usage_error(pos.empty() ? "a PORT is needed"
                                  : "one PORT only, got " + std::to_string(pos.size()));
  const auto n = parse_number("PORT", pos[0], 0xFFFFFFFFFFFFFFFFull);
  const auto id = !n.too_large && n.value <= vmsock::hv::max_port
                      ? vmsock::hv::service_id_from_port(static_cast<std::uint32_t>(n.value))
                      : std::nullopt;
  if (!id)
    throw failure("port " + (n.too_large ? pos[0] : both_bases(n.value)) +
                  " is above 0x7fffffff (hv::max_port): no Hyper-V service id carries it");
  std::printf("%s\n", id->to_string().c_str());
  return exit_ok;
}

int run_guid2port(arguments& args) {
  const auto given = positionals(args, guid2port_help);
  if (!given) return exit_ok;  // --help
  const std::vector<std::string>& pos = *given;
  if (pos.size() != 1)
    throw usage_error(pos.empty() ? "a GUID is needed"
                                  : "one GUID only, got " + std::to_string(pos.size()));
  const vmsock::guid id = guid_argument(pos[0]);
  if (const auto port = vmsock::hv::port_from_service_id(id)) {
    std::printf("%u\n", *port);
    return exit_ok;
  }
  vmsock::guid rest = id;
  rest.data1 = 0;
  if (rest == vmsock::hv::vsock_template)
    throw failure(id.to_string() + ": its port " + both_bases(id.data1) +
                  " is above 0x7fffffff (hv::max_port): the VSOCK template carries no such port");
  throw failure(id.to_string() + ": " +
                vmsock::make_error_code(vmsock::errc::not_a_template_service_id).message());
}

int run_cid(arguments& args) {
  const auto given = positionals(args, cid_help);
  if (!given) return exit_ok;  // --help
  const std::vector<std::string>& pos = *given;
  if (!pos.empty()) throw usage_error("takes no arguments, got '" + pos[0] + "'");
  const std::uint32_t cid = vmsock::vsock::local_cid();
  if (cid == vmsock::vsock::cid::any)
    std::printf("%u (any: the hv_sock transport, whose guests have no CID of their own)\n", cid);
  else
    std::printf("%u\n", cid);
  return exit_ok;
}

int run_parse(arguments& args) {
  const auto given = positionals(args, parse_help);
  if (!given) return exit_ok;  // --help
  const std::vector<std::string>& pos = *given;
  if (pos.empty()) throw usage_error("a URI is needed");
  // Every URI is parsed before anything is printed: a bad one fails alone.
  std::vector<vmsock::any_endpoint> eps;
  // A URI that does not parse is a usage error (exit 2), as it is for cat.
  for (const auto& uri : pos) {
    try {
      eps.push_back(vmsock::any_endpoint::parse(uri));
    } catch (const vmsock::parse_error& e) {
      throw usage_error(e.what());
    }
  }
  for (std::size_t i = 0; i < eps.size(); ++i) {
    if (i != 0) std::printf("\n");
    print_parsed(eps[i]);
  }
  return exit_ok;
}

int run_service(arguments& args) {
  const auto given = positionals(args, service_help);
  if (!given) return exit_ok;  // --help
  const std::vector<std::string>& pos = *given;
  if (pos.empty()) throw usage_error("a subcommand is needed: register, unregister or list");
  const std::string& sub = pos[0];
  if (sub == "register") {
    if (pos.size() != 3) throw usage_error("register takes GUID|PORT NAME");
    vmsock::guid id;
    const std::string port = service_id_of(pos[1], id);
    vmsock::hv::register_service(id, pos[2]);
    std::printf("registered %s%s%s as \"%s\"\n", id.to_string().c_str(), port.empty() ? "" : ", ",
                port.c_str(), pos[2].c_str());
    return exit_ok;
  }
  if (sub == "unregister") {
    if (pos.size() != 2) throw usage_error("unregister takes GUID|PORT");
    vmsock::guid id;
    service_id_of(pos[1], id);
    vmsock::hv::unregister_service(id);
    std::printf("unregistered %s\n", id.to_string().c_str());
    return exit_ok;
  }
  if (sub == "list") {
    if (pos.size() != 1) throw usage_error("list takes no arguments");
    std::vector<std::string> skipped;
    const auto services = vmsock::hv::registered_services(&skipped);
    for (const auto& s : services) {
      const auto port = vmsock::hv::port_from_service_id(s.service_id);
      std::printf("%s  %-11s  %s\n", s.service_id.to_string().c_str(),
                  port ? std::to_string(*port).c_str() : "-", s.element_name.c_str());
    }
    for (const auto& k : skipped)
      std::fprintf(stderr, "vmsock service: skipped key '%s' (not a GUID)\n", k.c_str());
    return exit_ok;
  }
  throw usage_error("unknown subcommand '" + sub + "' (register, unregister, list)");
}

}  // namespace vmsock_cli
