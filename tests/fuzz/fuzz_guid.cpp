// libFuzzer target: vmsock::guid::parse and the service-id <-> port functions.
#include <vmsock/endpoint/guid.hpp>
#include <vmsock/endpoint/hyperv.hpp>

#include "fuzz_support.hpp"

#include <array>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using vmsock::guid;
  const auto parsed = vmsock_fuzz::check_parse<guid>(vmsock_fuzz::as_text(data, size));
  if (parsed) {
    // Every other spelling of the same value parses to it.
    const std::string text = parsed->to_string();
    VMSOCK_FUZZ_CHECK(text.size() == 36);
    std::string upper = text;
    for (auto& c : upper)
      if (c >= 'a' && c <= 'f') c = static_cast<char>(c - 'a' + 'A');
    VMSOCK_FUZZ_CHECK(guid::try_parse(upper) == parsed);
    VMSOCK_FUZZ_CHECK(guid::try_parse("{" + text + "}") == parsed);
    VMSOCK_FUZZ_CHECK(!guid::try_parse("{" + text).has_value());
  }
  // The first 16 bytes as a GUID's memory image.
  if (size >= 16) {
    std::array<std::uint8_t, 16> image{};
    std::memcpy(image.data(), data, 16);
    const guid g = guid::from_bytes(image);
    VMSOCK_FUZZ_CHECK(g.to_bytes() == image);
    VMSOCK_FUZZ_CHECK(guid::try_parse(g.to_string()) == g);
    // A port comes back from a service id only for template GUIDs, and then
    // maps back to the same GUID.
    if (const auto port = vmsock::hv::port_from_service_id(g)) {
      VMSOCK_FUZZ_CHECK(*port <= vmsock::hv::max_port);
      VMSOCK_FUZZ_CHECK(vmsock::hv::service_id_from_port(*port) == g);
    }
    const auto id = vmsock::hv::service_id_from_port(g.data1);
    VMSOCK_FUZZ_CHECK(id.has_value() == (g.data1 <= vmsock::hv::max_port));
    if (id) VMSOCK_FUZZ_CHECK(vmsock::hv::port_from_service_id(*id) == g.data1);
  }
  return 0;
}
