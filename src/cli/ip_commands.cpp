// netwhy link | addr | route: the views of ip link/addr/route.
#include <linux/if.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "netwhy/iproute_names.hpp"
#include "netwhy/netlink.hpp"
#include "netwhy/render_ip.hpp"
#include "netwhy/text.hpp"
#include "options.hpp"
#include "report.hpp"

namespace netwhy::cli {

namespace {

bool is_show_word(std::string_view w) { return w == "show" || w == "list" || w == "lst" || w == "sh" || w == "ls"; }

bool is_write_word(std::string_view w) {
  return w == "add" || w == "del" || w == "delete" || w == "set" || w == "change" || w == "replace" ||
         w == "flush" || w == "append" || w == "prepend" || w == "save" || w == "restore";
}

Expected<void> refuse_write(std::string_view object, std::string_view verb) {
  return input_error(fmt::format("netwhy only reads: use ip {} {} to change the system", object,
                                 escape_arg(verb)));
}

// Enters -n's namespace (if any) and opens rtnetlink there.
Expected<Rtnl> open_rtnl(const GlobalOptions& g) {
  if (auto entered = enter_requested_netns(g); !entered) return entered.error();
  return Rtnl::open();
}

struct LinkArgs {
  std::optional<std::string> dev;
  bool up_only = false;
};

Expected<LinkArgs> parse_link_args(std::string_view object, const std::vector<std::string>& args) {
  LinkArgs out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (i == 0 && is_show_word(a)) continue;
    if (i == 0 && is_write_word(a)) {
      if (auto r = refuse_write(object, a); !r) return r.error();
    }
    if (a == "up") {
      out.up_only = true;
      continue;
    }
    std::string name = a;
    if (a == "dev") {
      if (i + 1 == args.size()) return input_error("\"dev\" needs an interface name");
      name = args[++i];
    }
    if (out.dev) return input_error(fmt::format("unexpected argument \"{}\"", escape_arg(a)));
    out.dev = name;
  }
  return out;
}

Expected<std::optional<int>> resolve_dev(const std::vector<Link>& links, const std::optional<std::string>& dev) {
  if (!dev) return std::optional<int>{};
  for (const Link& l : links) {
    if (l.name == *dev) return std::optional<int>(l.ifindex);
    if (l.altnames) {
      for (const auto& alt : *l.altnames) {
        if (alt == *dev) return std::optional<int>(l.ifindex);
      }
    }
  }
  return input_error(fmt::format("no interface named \"{}\"", escape_arg(*dev)));
}

int run_links(const GlobalOptions& g, const std::vector<std::string>& args, LinkView view) {
  const std::string_view object = view == LinkView::link ? "link" : "address";
  auto parsed = parse_link_args(object, args);
  if (!parsed) return fail(parsed.error());
  auto rtnl = open_rtnl(g);
  if (!rtnl) return fail(rtnl.error());
  const std::uint8_t dump_family =
      view == LinkView::link ? static_cast<std::uint8_t>(AF_PACKET) : static_cast<std::uint8_t>(g.family);
  auto links = read_links(*rtnl, dump_family);
  if (!links) return fail(links.error());
  std::vector<Address> addrs;
  if (view == LinkView::addr) {
    auto got = read_addresses(*rtnl, g.family);
    if (!got) return fail(got.error());
    addrs = std::move(*got);
  }
  auto only = resolve_dev(*links, parsed->dev);
  if (!only) return fail(only.error());

  ListOptions opt;
  opt.view = view;
  opt.family = view == LinkView::link ? Family::unspec : g.family;
  opt.brief = g.brief;
  opt.palette = g.palette();
  const LinkIndex index(*links);
  auto shown = select_links(*links, addrs, view, opt.family, *only);
  if (parsed->up_only) {
    std::erase_if(shown, [](const LinkAddrs& la) { return (la.link->flags & IFF_UP) == 0; });
  }
  if (g.json) {
    JsonWriter out(g.json_style());
    render_links_json(out, shown, index, opt);
    write_stdout(out.text());
    return exit_ok;
  }
  const bool any_peer_ns =
      std::any_of(shown.begin(), shown.end(), [](const LinkAddrs& la) { return la.link->link_netnsid.has_value(); });
  if (any_peer_ns && !g.brief) opt.netns_names = read_netns_ids(*rtnl);
  write_stdout(render_links_text(shown, index, opt));
  return exit_ok;
}

struct RouteArgs {
  bool get = false;
  std::optional<std::string> address;
  std::optional<std::uint32_t> table = RT_TABLE_MAIN;  // nullopt: all
  std::optional<std::string> dev;
};

Expected<RouteArgs> parse_route_args(const std::vector<std::string>& args) {
  RouteArgs out;
  std::size_t i = 0;
  if (!args.empty()) {
    if (is_show_word(args[0])) {
      i = 1;
    } else if (args[0] == "get") {
      out.get = true;
      i = 1;
    } else if (is_write_word(args[0])) {
      if (auto r = refuse_write("route", args[0]); !r) return r.error();
    }
  }
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    const bool has_value = i + 1 < args.size();
    if (!out.get && a == "table") {
      if (!has_value) return input_error("\"table\" needs a table name or number");
      const std::string& t = args[++i];
      if (t == "all") {
        out.table.reset();
      } else if (auto id = route_table_id(t)) {
        out.table = *id;
      } else {
        return input_error(fmt::format("no routing table named \"{}\"", escape_arg(t)));
      }
    } else if (!out.get && (a == "dev" || a == "oif")) {
      if (!has_value) return input_error("\"dev\" needs an interface name");
      out.dev = args[++i];
    } else if (out.get && (a == "to" || !out.address)) {
      if (a == "to") {
        if (!has_value) return input_error("\"to\" needs an address");
        out.address = args[++i];
      } else {
        out.address = a;
      }
    } else {
      return input_error(fmt::format("unexpected argument \"{}\"", escape_arg(a)));
    }
  }
  if (out.get && !out.address) return input_error("route get needs an address");
  return out;
}

int route_get_command(const GlobalOptions& g, Rtnl& rtnl, const std::string& text) {
  auto addr = IpAddr::parse(text);
  if (!addr) return fail(fmt::format("bad address \"{}\"", escape_arg(text)));
  if (g.family != Family::unspec && addr->family != g.family) {
    return fail(fmt::format("address \"{}\" is not {}", escape_arg(text), g.family == Family::inet ? "IPv4" : "IPv6"));
  }
  auto links = read_links(rtnl, AF_UNSPEC);
  if (!links) return fail(links.error());
  auto route = route_get(rtnl, *addr);
  if (!route) {
    const Error& e = route.error();
    if (e.kind != ErrorKind::kernel || e.code == 0) return fail(e);
    std::string why = std::strerror(e.code);
    if (e.code == EINVAL) why += " (a blackhole route?)";
    if (e.code == EACCES) why += " (a prohibit route)";
    return fail(fmt::format("no route to {}: {}", addr->to_string(), why));
  }
  const LinkIndex index(*links);
  const RouteOptions opt{true, false, g.palette()};
  if (g.json) {
    JsonWriter out(g.json_style());
    out.begin_array();
    render_route_json(out, *route, index, opt);
    out.end_array();
    write_stdout(out.text());
  } else {
    write_stdout(render_route_text(*route, index, opt));
  }
  return exit_ok;
}

}  // namespace

int run_link(const GlobalOptions& g, const std::vector<std::string>& args) {
  return run_links(g, args, LinkView::link);
}

int run_addr(const GlobalOptions& g, const std::vector<std::string>& args) {
  return run_links(g, args, LinkView::addr);
}

int run_route(const GlobalOptions& g, const std::vector<std::string>& args) {
  auto parsed = parse_route_args(args);
  if (!parsed) return fail(parsed.error());
  auto rtnl = open_rtnl(g);
  if (!rtnl) return fail(rtnl.error());
  if (parsed->get) return route_get_command(g, *rtnl, *parsed->address);

  auto links = read_links(*rtnl, AF_UNSPEC);
  if (!links) return fail(links.error());
  std::optional<int> oif;
  if (parsed->dev) {
    auto found = resolve_dev(*links, parsed->dev);
    if (!found) return fail(found.error());
    oif = **found;
  }
  const LinkIndex index(*links);
  RouteDump what;
  // ip shows one family when a table is named (the default, main): IPv4
  // unless -6; with "table all", both.
  what.family = g.family;
  if (what.family == Family::unspec && parsed->table) what.family = Family::inet;
  what.table = parsed->table;
  const RouteOptions opt{!parsed->table.has_value(), oif.has_value(), g.palette()};

  // Rendered into memory and printed only when the whole dump succeeded: a
  // dump that fails partway prints nothing but the error.
  const auto keep = [&](const Route& r) { return !oif || (r.oif && *r.oif == *oif); };
  JsonWriter json(g.json_style());
  std::string text;
  if (g.json) json.begin_array();
  const auto result = for_each_route(*rtnl, what, [&](const Route& r) {
    if (!keep(r)) return;
    if (g.json) {
      render_route_json(json, r, index, opt);
    } else {
      text += render_route_text(r, index, opt);
    }
  });
  if (!result) return fail(result.error());
  if (g.json) json.end_array();
  if (result->interrupted) warn("the routing table changed during the dump; it may be inconsistent");
  write_stdout(g.json ? json.text() : text);
  return exit_ok;
}

}  // namespace netwhy::cli
