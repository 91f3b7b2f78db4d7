// The netlink decoders on one kernel message each, as the socket delivers
// it (nlmsg_len is the message's size): the first input byte picks the
// decoder (link, address, route, sock_diag TCP or UDP), the rest is what
// follows the 16-byte nlmsghdr. What decodes is rendered as `ip` and
// `ip -j` would show it; the JSON must parse, the text must be safe for a
// terminal.
#include <linux/inet_diag.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>

#include <nlohmann/json.hpp>

#include <cstring>
#include <memory>

#include "fuzz.hpp"
#include "netwhy/json_writer.hpp"
#include "netwhy/netlink.hpp"
#include "netwhy/render_ip.hpp"
#include "netwhy/sockets.hpp"

namespace {

using namespace netwhy;

void check_rendered(const std::string& json, const std::string& text) {
  fuzz::check(nlohmann::json::accept(json), "ip -j output parses");
  fuzz::check(fuzz::terminal_safe(text), "ip output is safe for a terminal");
}

void show_links(const std::vector<Link>& links, const std::vector<Address>& addrs, LinkView view) {
  for (const bool brief : {false, true}) {
    ListOptions opt;
    opt.view = view;
    opt.brief = brief;
    opt.netns_names = {{0, "peer"}};
    const LinkIndex index(links);
    const auto shown = select_links(links, addrs, view, Family::unspec, std::nullopt);
    JsonWriter out(JsonStyle::compact);
    render_links_json(out, shown, index, opt);
    check_rendered(out.text(), render_links_text(shown, index, opt));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const unsigned which = data[0] % 5U;
  const std::size_t body = size - 1;
  const std::size_t len = NLMSG_HDRLEN + body;
  if (len > UINT32_MAX) return 0;
  // Exactly the message's bytes (new[] is aligned for nlmsghdr): ASan sees a
  // read past its end.
  const std::unique_ptr<std::uint8_t[]> buf(new std::uint8_t[len]);
  nlmsghdr h{};
  h.nlmsg_len = static_cast<std::uint32_t>(len);
  h.nlmsg_type = which == 0 ? RTM_NEWLINK : which == 1 ? RTM_NEWADDR : which == 2 ? RTM_NEWROUTE : SOCK_DIAG_BY_FAMILY;
  h.nlmsg_flags = NLM_F_MULTI;
  std::memcpy(buf.get(), &h, sizeof h);
  std::memset(buf.get() + sizeof h, 0, NLMSG_HDRLEN - sizeof h);
  if (body != 0) std::memcpy(buf.get() + NLMSG_HDRLEN, data + 1, body);
  const auto* msg = reinterpret_cast<const nlmsghdr*>(buf.get());

  switch (which) {
    case 0:
      if (const auto l = link_from_rtnl(msg)) {
        show_links({*l}, {}, LinkView::link);
      }
      break;
    case 1:
      if (const auto a = address_from_rtnl(msg)) {
        Link owner;
        owner.ifindex = a->ifindex;
        owner.name = "eth0";
        show_links({owner}, {*a}, LinkView::addr);
      }
      break;
    case 2:
      if (const auto r = route_from_rtnl(msg, 100)) {
        const std::vector<Link> links;
        const LinkIndex index(links);
        for (const bool table : {false, true}) {
          RouteOptions opt;
          opt.show_table = table;
          JsonWriter out(JsonStyle::compact);
          render_route_json(out, *r, index, opt);
          check_rendered(out.text(), render_route_text(*r, index, opt));
        }
      }
      break;
    default:
      (void)socket_from_diag(msg, which == 3 ? Protocol::tcp : Protocol::udp);
      break;
  }
  return 0;
}
