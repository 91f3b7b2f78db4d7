// Wires the command line to the commands; nothing else.
#include <CLI/CLI.hpp>

#include <algorithm>

#include <string>
#include <string_view>
#include <vector>

#include "netwhy/text.hpp"
#include "options.hpp"
#include "report.hpp"

#ifndef NETWHY_VERSION
#define NETWHY_VERSION "unknown"
#endif

namespace {

using netwhy::cli::GlobalOptions;

// ip's spellings that CLI11 would read as bundles of short flags.
std::vector<std::string> normalize_args(int argc, char** argv) {
  std::vector<std::string> out;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-br" || a == "-brief") a = "--brief";
    // CLI11 reads "-4" after a command as a negative number; ip's users don't.
    if (a == "-4") a = "--ipv4";
    if (a == "-6") a = "--ipv6";
    if (a == "-json") a = "--json";
    if (a == "-pretty") a = "--pretty";
    if (a == "--color" || a == "-color" || a == "-c") {
      const bool has_value = i + 1 < argc && (std::string(argv[i + 1]) == "auto" ||
                                              std::string(argv[i + 1]) == "always" ||
                                              std::string(argv[i + 1]) == "never");
      a = has_value ? "--color" : "--color=always";
    }
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"netwhy: why can't I connect to my server?\n"
               "Reads links, addresses, routes and sockets and says what is wrong.",
               "netwhy"};
  app.set_version_flag("-V,--version", std::string("netwhy ") + NETWHY_VERSION);
  app.footer(
      "Commands (as with ip, short forms work: l, a, r):\n"
      "  port PORT [--host HOST]       why PORT is or isn't reachable, and the fix\n"
      "  port PORT --wait SECONDS      wait until it is reachable (scripts, healthchecks)\n"
      "  url URL                       why curl URL fails: the port, a proxy, TLS, the HTTP answer\n"
      "  link [show] [dev] IFNAME      network devices, like ip link\n"
      "  addr [show] [dev] IFNAME      addresses, like ip addr\n"
      "  route [show] [table T]        routes, like ip route\n"
      "  route get ADDRESS             the route the kernel would use\n"
      "  ports [PORT] [-t] [-u]        listening sockets and their processes\n"
      "  snapshot                      the facts behind the diagnosis, as JSON\n"
      "See netwhy(1).");

  GlobalOptions g;
  bool v4 = false;
  bool v6 = false;
  std::string color = "auto";
  app.add_flag("-4,--ipv4", v4, "IPv4 only");
  app.add_flag("-6,--ipv6", v6, "IPv6 only");
  app.add_flag("-j,--json", g.json, "JSON output (the shape of ip -j for link/addr/route)");
  app.add_flag("-p,--pretty", g.pretty, "indent JSON");
  app.add_flag("-b,--brief", g.brief, "one line per interface, like ip -br");
  app.add_option("-n,--netns", g.netns,
                 "work in network namespace NAME (/run/netns), pid:PID, or a container's:\n"
                 "docker:NAME, podman:NAME (a name, or 12+ hex digits of its id)");
  app.add_option("--color", color, "colour: auto (on a terminal), always, never")
      ->check(CLI::IsMember({"auto", "always", "never"}));

  std::vector<std::string> link_args;
  std::vector<std::string> addr_args;
  std::vector<std::string> route_args;
  auto* link = app.add_subcommand("link", "network devices, like ip link");
  auto* addr = app.add_subcommand("addr", "addresses, like ip addr");
  auto* route = app.add_subcommand("route", "routes, like ip route");
  netwhy::cli::PortsOptions ports_opt;
  auto* ports = app.add_subcommand("ports", "listening sockets and the processes holding them, like ss -ltunp");
  ports->add_option("port", ports_opt.port, "only this port (number or service name)");
  ports->add_flag("-t,--tcp", ports_opt.tcp, "TCP only");
  ports->add_flag("-u,--udp", ports_opt.udp, "UDP only");
  ports->add_option("--source", ports_opt.source, "where sockets come from: auto, netlink (sock_diag), proc")
      ->check(CLI::IsMember({"auto", "netlink", "proc"}));
  for (const char* alias : {"l", "li", "lin"}) link->alias(alias);
  for (const char* alias : {"a", "ad", "address"}) addr->alias(alias);
  for (const char* alias : {"r", "ro", "rou", "rout"}) route->alias(alias);
  link->add_option("args", link_args, "[show] [dev] IFNAME [up]");
  addr->add_option("args", addr_args, "[show] [dev] IFNAME [up]");
  route->add_option("args", route_args, "[show] [table TABLE] [dev IFNAME] | get ADDRESS");
  netwhy::cli::PortOptions port_opt;
  auto* port = app.add_subcommand("port", "why PORT is or isn't reachable, and what to type to fix it");
  port->add_option("port", port_opt.port, "the port (number or service name)")->required();
  port->add_option("--host", port_opt.host, "the name or address clients use (default: every address here)");
  port->add_flag("--udp", port_opt.udp, "UDP instead of TCP");
  port->add_option("--timeout", port_opt.timeout, "seconds the connect probe waits (default 2)");
  port->add_flag("--no-probe", port_opt.no_probe, "do not connect to a remote HOST");
  port->add_option("--snapshot", port_opt.snapshot, "diagnose a snapshot file (netwhy snapshot -j) instead of this host");
  port->add_option("--wait", port_opt.wait,
                   "look again, with pauses, until PORT is reachable (exit 0) or SECONDS have passed (exit 1)");
  netwhy::cli::UrlOptions url_opt;
  auto* url = app.add_subcommand("url", "why curl URL fails when the port is open: proxy, TLS, the HTTP answer");
  url->add_option("url", url_opt.url, "http:// or https:// URL (a missing scheme is http)")->required();
  url->add_flag("-k,--insecure", url_opt.insecure, "certificate problems don't fail the verdict (curl -k)");
  url->add_option("--timeout", url_opt.timeout, "seconds each step waits: connect, handshake, answer (default 5)");
  url->add_option("--cacert", url_opt.ca_file, "trust the CA certificates in this PEM file instead of the system's");
  auto* snapshot = app.add_subcommand("snapshot", "everything the diagnosis reads, as JSON (for another host)");
  for (auto* sub : {link, addr, route, ports, port, url, snapshot}) {
    sub->fallthrough();
    sub->positionals_at_end(false);
  }
  app.require_subcommand(0, 1);

  // What was typed, as typed and as CLI11 sees it: its messages quote both.
  std::vector<std::string> typed(argv + std::min(argc, 1), argv + argc);
  try {
    std::vector<std::string> args = normalize_args(argc, argv);
    typed.insert(typed.end(), args.begin(), args.end());
    std::reverse(args.begin(), args.end());
    app.parse(args);
  } catch (const CLI::CallForHelp&) {
    netwhy::cli::write_stdout(app.help());
    return netwhy::cli::exit_ok;
  } catch (const CLI::CallForAllHelp&) {
    netwhy::cli::write_stdout(app.help("", CLI::AppFormatMode::All));
    return netwhy::cli::exit_ok;
  } catch (const CLI::CallForVersion& e) {
    netwhy::cli::write_stdout(std::string(e.what()) + "\n");
    return netwhy::cli::exit_ok;
  } catch (const CLI::ParseError& e) {
    return netwhy::cli::fail(netwhy::escape_typed(e.what(), typed));
  }

  if (v4 && v6) return netwhy::cli::fail("-4 and -6 exclude each other");
  if (v4) g.family = netwhy::Family::inet;
  if (v6) g.family = netwhy::Family::inet6;
  g.color = color == "always" ? netwhy::cli::ColorWhen::always
            : color == "never" ? netwhy::cli::ColorWhen::never
                               : netwhy::cli::ColorWhen::automatic;

  try {
    if (link->parsed()) return netwhy::cli::run_link(g, link_args);
    if (addr->parsed()) return netwhy::cli::run_addr(g, addr_args);
    if (route->parsed()) return netwhy::cli::run_route(g, route_args);
    if (ports->parsed()) return netwhy::cli::run_ports(g, ports_opt);
    if (port->parsed()) return netwhy::cli::run_port(g, port_opt);
    if (url->parsed()) return netwhy::cli::run_url(g, url_opt);
    if (snapshot->parsed()) return netwhy::cli::run_snapshot(g);
  } catch (const std::exception& e) {
    return netwhy::cli::fail(std::string("internal error: ") + e.what());
  }
  return netwhy::cli::fail("no command given (try: netwhy addr, netwhy route; netwhy --help for more)");
}
