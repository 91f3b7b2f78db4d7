// The one place that decides: the verdict from the endpoints and the probe,
// each finding's severity from what it means for the clients the question
// is about, and the headline from both. No rule sets any of these.
#include <algorithm>

#include <fmt/format.h>

#include "engine.hpp"

namespace netwhy::engine {

namespace {

enum class Answer { yes, no, unknown };

// For one of HOST's addresses: does the client the question is about get
// through?
Answer answer_for(const Context& c, const IpAddr& addr) {
  const Endpoint* e = c.endpoint(addr);
  if (e == nullptr) return Answer::no;
  switch (c.place(addr)) {
    case Place::loopback: return e->local ? Answer::yes : Answer::no;
    case Place::own: return !e->remote ? Answer::unknown : *e->remote ? Answer::yes : Answer::no;
    case Place::other: {
      const Probe* p = c.probe_for(addr);
      const auto r = c.route_for(addr);
      if (r && !r->route) return Answer::no;
      if (p == nullptr) return Answer::unknown;
      return p->result == ProbeResult::ok ? Answer::yes : Answer::no;
    }
  }
  return Answer::no;
}

bool remote_endpoint(const Context& c, const Endpoint& e) {
  return e.interface && !e.address.is_loopback() && c.place(e.address) == Place::own;
}

bool inner(const Context& c, const Endpoint& e) {
  return e.interface && c.inner_interfaces.count(*e.interface) != 0;
}

bool host_is_elsewhere(const Context& c) {
  return c.q.host && std::all_of(c.q.addresses.begin(), c.q.addresses.end(),
                                 [&](const IpAddr& a) { return c.place(a) == Place::other; });
}

Verdict decide(const Context& c) {
  const bool listens = !c.listeners.empty() || c.forwarding;
  // Link-local IPv6 addresses decide only on a host that has no other: they
  // are rarely what a client uses, and their own rules (rpfilter, ND) are
  // often beyond evaluation.
  const bool routable = std::any_of(c.endpoints.begin(), c.endpoints.end(), [&](const Endpoint& e) {
    return remote_endpoint(c, e) && !link_local_v6(e.address);
  });
  // Likewise the addresses on a bridge of this host's own containers.
  const bool outer = std::any_of(c.endpoints.begin(), c.endpoints.end(), [&](const Endpoint& e) {
    return remote_endpoint(c, e) && !link_local_v6(e.address) && !inner(c, e);
  });
  const auto decisive = [&](const Endpoint& e) {
    return remote_endpoint(c, e) && (!routable || !link_local_v6(e.address)) && (!outer || !inner(c, e));
  };
  const bool any_remote_ok = std::any_of(c.endpoints.begin(), c.endpoints.end(), [&](const Endpoint& e) {
    return decisive(e) && e.remote == true;
  });
  const bool any_remote_unknown = std::any_of(c.endpoints.begin(), c.endpoints.end(), [&](const Endpoint& e) {
    return decisive(e) && !e.remote;
  });
  const bool any_local = std::any_of(c.endpoints.begin(), c.endpoints.end(),
                                     [&](const Endpoint& e) { return e.interface && e.local; });
  if (c.q.host) {
    bool yes = false;
    bool unknown = false;
    for (const IpAddr& a : c.q.addresses) {
      const Answer ans = answer_for(c, a);
      yes = yes || ans == Answer::yes;
      unknown = unknown || ans == Answer::unknown;
    }
    if (yes) return Verdict::reachable;
    if (unknown) return Verdict::unknown;
    if (host_is_elsewhere(c)) return Verdict::unreachable;
    if (!listens) return Verdict::not_listening;
    const bool asks_for_others = std::any_of(c.q.addresses.begin(), c.q.addresses.end(),
                                             [&](const IpAddr& a) { return c.place(a) == Place::own; });
    // Local-only when the listeners take only loopback: HOST's address is not
    // refused by a down interface, a rule or a family, but by a loopback bind.
    const bool loopback_only = !c.listeners.empty() && std::all_of(c.listeners.begin(), c.listeners.end(), [&](const Listener& l) {
      return l.socket.local.is_loopback() || (l.socket.bound_ifindex != 0 && c.is_loopback_link(l.socket.bound_ifindex));
    });
    if (asks_for_others && loopback_only && any_local) return Verdict::local_only;
    return Verdict::unreachable;
  }
  if (any_remote_ok) return Verdict::reachable;
  if (!listens) return Verdict::not_listening;
  if (any_remote_unknown) return Verdict::unknown;
  if (any_local) return Verdict::local_only;
  return Verdict::unreachable;
}

// Is the finding about the clients the question asks about? (`no_remote`:
// no endpoint is one other hosts use.)
bool about_question(const Context& c, const Draft& d, bool no_remote) {
  if (!c.q.host) {
    if (d.about.empty()) return true;
    return std::any_of(d.about.begin(), d.about.end(), [&](const IpAddr& a) {
      return !a.is_loopback() && c.place(a) == Place::own;
    }) || no_remote;
  }
  if (d.about.empty()) return !host_is_elsewhere(c);  // the port here, when HOST is here
  return std::any_of(d.about.begin(), d.about.end(), [&](const IpAddr& a) {
    return std::find(c.q.addresses.begin(), c.q.addresses.end(), a) != c.q.addresses.end();
  });
}

bool no_remote_endpoint(const Context& c) {
  return std::none_of(c.endpoints.begin(), c.endpoints.end(), [&](const Endpoint& e) { return remote_endpoint(c, e); });
}

Severity severity(const Context& c, const Draft& d, Verdict v, bool no_remote) {
  if (!about_question(c, d, no_remote)) return Severity::info;
  switch (d.effect) {
    case Effect::cause: return v == Verdict::reachable ? Severity::warning : Severity::error;
    case Effect::partial: return Severity::warning;
    case Effect::doubt: return v == Verdict::reachable ? Severity::info : Severity::warning;
    case Effect::hint: return v == Verdict::reachable ? Severity::info : Severity::warning;
    case Effect::context: return Severity::info;
  }
  return Severity::info;
}

// The finding that answers "why not": the most fundamental error (the
// code list is in that order), else the first warning.
const Finding* lead(const std::vector<Finding>& findings, Severity level) {
  const Finding* best = nullptr;
  for (const Finding& f : findings) {
    if (f.severity != level) continue;
    if (best == nullptr || static_cast<int>(f.code) < static_cast<int>(best->code)) best = &f;
  }
  return best;
}

// What is unknown, for the headline: the first doubt about the question.
std::string unknown_reason(const Context& c) {
  const bool no_remote = no_remote_endpoint(c);
  for (const Draft& d : c.drafts) {
    if (d.effect == Effect::doubt && !d.reason.empty() && about_question(c, d, no_remote)) return d.reason;
  }
  for (const Draft& d : c.drafts) {
    if (d.effect == Effect::doubt && about_question(c, d, no_remote)) return lower_first(d.finding.message);
  }
  return {};
}

// The listener that takes other machines' connections, when one does; else the first.
std::string listener_phrase(const Context& c) {
  const Listener* l = &c.listeners.front();
  for (const Endpoint& e : c.endpoints) {
    if (e.remote == true && e.listener && remote_endpoint(c, e) && !link_local_v6(e.address) && !inner(c, e)) {
      l = &c.listeners[*e.listener];
      break;
    }
  }
  return fmt::format("{} listens on {}", c.owners_text(*l), listener_text(*l));
}

std::string reachable_via(const Context& c) {
  // The addresses other machines can use; link-local ones only when there
  // is nothing else.
  std::vector<std::string> via;
  std::vector<std::string> link_local;
  std::vector<std::string> containers;
  for (const Endpoint& e : c.endpoints) {
    if (!remote_endpoint(c, e) || e.remote != true) continue;
    (link_local_v6(e.address) ? link_local : inner(c, e) ? containers : via)
        .push_back(fmt::format("{} on {}", e.address.to_string(), *e.interface));
  }
  if (via.empty()) via = std::move(containers);
  if (via.empty()) via = std::move(link_local);
  std::string list;
  for (std::size_t i = 0; i < via.size() && i < 3; ++i) list += (i == 0 ? "" : ", ") + via[i];
  if (via.size() > 3) list += ", ...";
  return list.empty() ? "" : " (" + list + ")";
}

std::string headline_for_host(const Context& c, Verdict v, const std::vector<Finding>& findings) {
  const std::string target = endpoint_text_host(*c.q.host, c.q.port);
  // The address that decided: the first that works, else the first unknown, else the first.
  const IpAddr* decisive = &c.q.addresses.front();
  for (const Answer want : {Answer::yes, Answer::unknown}) {
    const auto it = std::find_if(c.q.addresses.begin(), c.q.addresses.end(),
                                 [&](const IpAddr& a) { return answer_for(c, a) == want; });
    if (it != c.q.addresses.end()) {
      decisive = &*it;
      break;
    }
  }
  const std::string via = *c.q.host == decisive->to_string() ? "" : fmt::format(" (via {})", decisive->to_string());
  const Place where = c.place(*decisive);
  const Endpoint* e = c.endpoint(*decisive);
  const Listener* l = e != nullptr && e->listener ? &c.listeners[*e->listener] : nullptr;
  switch (v) {
    case Verdict::reachable:
      if (where == Place::other) {
        const Probe* p = c.probe_for(*decisive);
        return fmt::format("{} accepts connections from here{}: the connect worked ({:.0f} ms)", target, via,
                           p != nullptr ? p->millis : 0.0);
      }
      if (where == Place::loopback) {
        return fmt::format("{} is reachable from this host{}{}", target, via,
                           l != nullptr ? fmt::format(": {} listens on {}", c.owners_text(*l), listener_text(*l)) : "");
      }
      return fmt::format("Other machines can connect to {}{}{}", target, via,
                         l != nullptr ? fmt::format(": {} listens on {}", c.owners_text(*l), listener_text(*l)) : "");
    case Verdict::unknown: {
      const std::string why = unknown_reason(c);
      if (where == Place::other) {
        return fmt::format("Whether {} accepts connections is unknown{}", target, why.empty() ? "" : ": " + why);
      }
      return fmt::format("Whether other machines can connect to {}{} is unknown{}", target, via,
                         why.empty() ? "" : ": " + why);
    }
    case Verdict::local_only:
    case Verdict::not_listening:
    case Verdict::unreachable: {
      if (const Finding* why = lead(findings, Severity::error)) return strip_period(why->message);
      if (v == Verdict::not_listening) return fmt::format("Nothing listens on {} here", c.what());
      return fmt::format("{} is not reachable{}", target, where == Place::loopback ? " from this host" : "");
    }
  }
  return {};
}

std::string headline(const Context& c, Verdict v, const std::vector<Finding>& findings) {
  if (c.q.host && c.q.addresses.empty()) return fmt::format("{} did not resolve to any address", *c.q.host);
  if (c.q.host) return headline_for_host(c, v, findings);
  switch (v) {
    case Verdict::reachable:
      if (c.listeners.empty()) {
        for (const Draft& f : c.drafts) {  // a forward that is taken, not one that fails elsewhere
          if (f.finding.code == Code::port_forward && f.effect == Effect::context) {
            return fmt::format("Nothing listens on {} here, but other machines can connect: {}", c.what(),
                               lower_first(f.finding.message));
          }
        }
      }
      return fmt::format("{}: other machines can connect{}", listener_phrase(c), reachable_via(c));
    case Verdict::local_only:
      for (const Finding& f : findings) {
        if (f.code == Code::published_loopback) return strip_period(f.message);
      }
      if (c.listeners.empty()) return fmt::format("Only this host can connect to {}", c.what());
      if (!c.listeners.front().socket.local.is_loopback()) {
        if (const Finding* why = lead(findings, Severity::error)) return strip_period(why->message);
      }
      return fmt::format("{}{}: other machines can't connect", listener_phrase(c),
                         c.listeners.front().socket.local.is_loopback() ? " only" : "");
    case Verdict::not_listening: {
      std::string out = fmt::format("Nothing listens on {} here", c.what());
      for (const Finding& f : findings) {
        if (f.code == Code::other_protocol) return strip_period(f.message);
        if (f.code == Code::container_exited || f.code == Code::not_published) return strip_period(f.message);
        if (f.code == Code::other_netns) return out + "; " + lower_first(f.message);
      }
      return out;
    }
    case Verdict::unknown: {
      const std::string why = unknown_reason(c);
      const std::string who = c.listeners.empty() ? fmt::format("Connections to {} are forwarded", c.what())
                                                  : listener_phrase(c);
      return fmt::format("{}; whether other machines can connect is unknown{}", who, why.empty() ? "" : ": " + why);
    }
    case Verdict::unreachable:
      if (const Finding* why = lead(findings, Severity::error)) return strip_period(why->message);
      if (c.listeners.empty()) return fmt::format("Nothing listens on {} here, and nothing takes it", c.what());
      return fmt::format("{}, but it can't be reached", listener_phrase(c));
  }
  return {};
}

}  // namespace

std::string endpoint_text_host(const std::string& host, std::uint16_t port) {
  return host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port) : fmt::format("{}:{}", host, port);
}

Diagnosis grade(Context& c) {
  Diagnosis d;
  d.query = c.q;
  d.verdict = decide(c);
  const bool no_remote = no_remote_endpoint(c);
  for (Draft& draft : c.drafts) {
    draft.finding.severity = severity(c, draft, d.verdict, no_remote);
    d.findings.push_back(draft.finding);  // the drafts stay whole for the headline
  }
  std::stable_sort(d.findings.begin(), d.findings.end(),
                   [](const Finding& a, const Finding& b) { return a.severity < b.severity; });
  d.headline = headline(c, d.verdict, d.findings);
  d.listeners = std::move(c.listeners);
  d.endpoints = std::move(c.endpoints);
  return d;
}

}  // namespace netwhy::engine
