// What the command line asked for, shared by every command.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "netwhy/color.hpp"
#include "netwhy/inet.hpp"
#include "netwhy/error.hpp"
#include "netwhy/json_writer.hpp"
#include "netwhy/services.hpp"
#include "netwhy/sockets.hpp"

namespace netwhy::cli {

enum class ColorWhen { automatic, always, never };

struct GlobalOptions {
  Family family = Family::unspec;  // -4 / -6
  bool json = false;
  bool pretty = false;
  bool brief = false;
  std::optional<std::string> netns;
  ColorWhen color = ColorWhen::automatic;

  [[nodiscard]] JsonStyle json_style() const { return pretty ? JsonStyle::pretty : JsonStyle::compact; }
  // Colour only on a terminal, never with NO_COLOR set, never with JSON.
  [[nodiscard]] Palette palette() const;
};

// Enters -n's namespace, when one was asked for.
[[nodiscard]] Expected<void> enter_requested_netns(const GlobalOptions& g);

// Exit statuses.
inline constexpr int exit_ok = 0;
inline constexpr int exit_negative = 1;  // the answer is "no" (port: not reachable)
inline constexpr int exit_usage = 2;     // bad input, or the question could not be answered

struct PortsOptions {
  std::optional<std::string> port;
  bool tcp = false;
  bool udp = false;
  std::string source = "auto";  // auto | netlink | proc
};

int run_ports(const GlobalOptions& g, const PortsOptions& o);

struct PortOptions {
  std::string port;
  std::optional<std::string> host;
  bool udp = false;
  double timeout = 2.0;
  bool no_probe = false;
  std::optional<std::string> snapshot;
  std::optional<double> wait;  // --wait SECONDS: until reachable, or the time is up
};
int run_port(const GlobalOptions& g, const PortOptions& o);

struct UrlOptions {
  std::string url;
  bool insecure = false;                // -k: certificate problems don't fail, as with curl -k
  double timeout = 5.0;                 // each wait: connect, handshake, answer
  std::optional<std::string> ca_file;   // --cacert FILE, as curl's
};
int run_url(const GlobalOptions& g, const UrlOptions& o);
int run_snapshot(const GlobalOptions& g);
int run_link(const GlobalOptions& g, const std::vector<std::string>& args);
int run_addr(const GlobalOptions& g, const std::vector<std::string>& args);
int run_route(const GlobalOptions& g, const std::vector<std::string>& args);

}  // namespace netwhy::cli
