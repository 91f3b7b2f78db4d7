// The diagnosis: a pure function of a snapshot and a question. No I/O, so
// every finding is testable on a snapshot built in a test, and a snapshot
// from another host diagnoses offline.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "netwhy/findings.hpp"
#include "netwhy/ports.hpp"
#include "netwhy/snapshot.hpp"

namespace netwhy {

struct Query {
  std::uint16_t port = 0;
  Protocol protocol = Protocol::tcp;
  std::optional<std::string> host;       // as typed
  std::vector<IpAddr> addresses;         // what host resolved to, in resolver order
  std::optional<std::string> url;        // netwhy url: the URL as typed
  bool probed = false;                   // the gather step was allowed to connect
};

enum class Verdict { reachable, local_only, not_listening, unreachable, unknown };
[[nodiscard]] std::string_view to_string(Verdict v);
// The exit status that says the verdict to scripts: 0 reachable, 3 unknown, 1 otherwise.
[[nodiscard]] int exit_status(Verdict v);

struct Endpoint {
  IpAddr address;
  std::optional<std::string> interface;  // nullopt: not an address of this host
  bool local = false;                    // a client on this host is accepted
  std::optional<bool> remote;            // a client on another host is accepted; nullopt: unknown
  std::optional<std::size_t> listener;   // index into Diagnosis::listeners
  bool from_host = false;                // one of HOST's addresses
  bool operator==(const Endpoint&) const = default;
};

struct Finding {
  Code code = Code::not_listening;       // stable: see findings.hpp and the JSON contract
  Severity severity = Severity::info;
  std::string message;                   // one sentence; raw bytes of names inside
  std::optional<std::string> fix;
  // Evidence
  std::optional<pid_t> pid;
  std::optional<std::string> interface;
  std::optional<std::string> address;
  std::optional<std::string> netns;
  std::optional<std::uint16_t> port;
  std::optional<std::string> rule;       // firewall rule: table, chain, handle and its text
  std::optional<ProcessContainer> container;  // the container it is about (engine, id, name)
  bool operator==(const Finding&) const = default;
};

struct Diagnosis {
  Query query;
  Verdict verdict = Verdict::not_listening;
  std::string headline;                  // the verdict in plain words
  std::vector<Listener> listeners;       // on the port, this namespace
  std::vector<Endpoint> endpoints;
  std::vector<Finding> findings;
};

[[nodiscard]] Diagnosis diagnose(const Snapshot& snap, const Query& q);

// The program-specific way to make a listener accept from other hosts:
// "gunicorn -b 0.0.0.0:8000 app:app", Flask's host="0.0.0.0", ...
// In a container (in_container), without the warning that it exposes the
// server to every network of the host: only published ports reach it.
[[nodiscard]] std::string fix_to_listen_everywhere(const Listener& l, std::uint16_t port, bool in_container = false);

}  // namespace netwhy
