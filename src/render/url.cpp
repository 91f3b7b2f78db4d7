#include <fmt/format.h>

#include "netwhy/render_diagnosis.hpp"
#include "netwhy/render_url.hpp"
#include "netwhy/text.hpp"

namespace netwhy {

namespace {

void optional_field(JsonWriter& out, std::string_view key, const std::optional<std::string>& v) {
  if (v) {
    out.field(key, *v);
  } else {
    out.null_field(key);
  }
}

void optional_field(JsonWriter& out, std::string_view key, std::optional<std::string_view> v) {
  if (v) {
    out.field(key, std::string(*v));
  } else {
    out.null_field(key);
  }
}

void render_proxy(JsonWriter& out, const HttpReport& h) {
  const std::optional<ProxyDecision>& p = h.proxy;
  out.key("proxy");
  if (!p || !p->uses_proxy()) {
    out.null();
  } else {
    out.begin_object();
    out.field("variable", p->variable);
    if (p->proxy) {
      out.field("url", p->proxy->shown());
      out.field("type", proxy_type_name(p->proxy->type));
      out.field("host", p->proxy->host);
      out.field("port", static_cast<unsigned>(p->proxy->port));
      out.null_field("error");
    } else {
      out.null_field("url");
      out.null_field("type");
      out.null_field("host");
      out.null_field("port");
      // curl's message quotes the URL, password and all: not shown
      out.field("error", fmt::format("curl refuses it (exit {})", p->proxy_error ? p->proxy_error->curl_exit : 5));
    }
    if (h.proxy_reachable) {
      out.field("reachable", *h.proxy_reachable);
    } else {
      out.null_field("reachable");
    }
    out.end_object();
  }
  out.key("no_proxy");
  if (!p || !p->no_proxy_variable) {
    out.null();
  } else {
    out.begin_object();
    out.field("variable", *p->no_proxy_variable);
    optional_field(out, "value", p->no_proxy_value);
    optional_field(out, "matched", p->no_proxy_match);
    out.end_object();
  }
}

void render_tls(JsonWriter& out, const std::optional<TlsFacts>& t) {
  out.key("tls");
  if (!t) {
    out.null();
    return;
  }
  out.begin_object();
  optional_field(out, "protocol", t->protocol.empty() ? std::nullopt : std::optional<std::string>(t->protocol));
  optional_field(out, "cipher", t->cipher.empty() ? std::nullopt : std::optional<std::string>(t->cipher));
  optional_field(out, "subject", t->subject);
  optional_field(out, "issuer", t->issuer);
  out.key("names");
  out.begin_array();
  for (const std::string& n : t->names) out.value(n);
  out.end_array();
  optional_field(out, "not_before", t->not_before);
  optional_field(out, "not_after", t->not_after);
  out.field("self_signed", t->self_signed);
  out.key("problems");
  out.begin_array();
  for (const TlsProblem p : t->problems) out.value(to_string(p));
  out.end_array();
  optional_field(out, "error", t->handshake_error ? t->handshake_error : t->session_error);
  out.end_object();
}

}  // namespace

void render_url_json(JsonWriter& out, const UrlDiagnosis& u) {
  const HttpReport& h = u.http;
  out.begin_object();
  render_diagnosis_fields(out, u.diagnosis);
  out.key("http");
  out.begin_object();
  render_proxy(out, h);
  render_tls(out, h.tls);
  out.key("request");
  out.begin_object();
  out.field("method", h.method);
  out.field("target", h.target);
  out.field("host", h.host_header);
  out.field("via_proxy", h.via_proxy);
  optional_field(out, "address", h.connected_to ? std::optional<std::string>(h.connected_to->to_string()) : std::nullopt);
  out.end_object();
  if (h.answer) {
    out.field("status", h.answer->status);
    out.field("reason", h.answer->reason);
  } else {
    out.null_field("status");
    out.null_field("reason");
  }
  out.key("headers");
  out.begin_object();
  optional_field(out, "server", h.answer ? h.answer->server() : std::nullopt);
  optional_field(out, "location", h.answer ? h.answer->location() : std::nullopt);
  optional_field(out, "content_type", h.answer ? h.answer->content_type() : std::nullopt);
  out.end_object();
  optional_field(out, "speaks", h.speaks);
  out.end_object();
  out.end_object();
}

std::string render_url_text(const UrlDiagnosis& u, const Palette& palette) {
  const HttpReport& h = u.http;
  std::string section;
  const auto line = [&](std::string_view label, const std::string& text) {
    section += "  " + palette.paint(Paint::bold, fmt::format("{:<9}", label)) + " " + text + "\n";
  };
  std::string request = fmt::format("{} {}", h.method, escape_text(h.target));
  if (h.connected_to) {
    request += fmt::format(" to {}", h.via_proxy ? "the proxy at " + h.connected_to->to_string()
                                                 : h.connected_to->to_string());
  } else {
    request += " (not sent: no connection)";
  }
  request += ", Host: " + escape_text(h.host_header);
  line("Request", request);
  if (h.proxy && h.proxy->uses_proxy()) {
    line("Proxy", h.proxy->proxy ? fmt::format("{} (from {})", escape_text(h.proxy->proxy->shown()),
                                               escape_text(h.proxy->variable))
                                 : fmt::format("refused by curl (from {})", escape_text(h.proxy->variable)));
  } else if (h.proxy && h.proxy->no_proxy_match) {
    line("Proxy", fmt::format("none: {} lists \"{}\"", escape_text(h.proxy->no_proxy_variable.value_or("no_proxy")),
                              escape_text(*h.proxy->no_proxy_match)));
  }
  if (h.tls) {
    const TlsFacts& t = *h.tls;
    if (t.protocol.empty()) {
      line("TLS", "handshake failed" + (t.handshake_error ? ": " + escape_text(*t.handshake_error) : std::string()));
    } else {
      std::string names;
      for (std::size_t i = 0; i < t.names.size() && i < 4; ++i) names += (i == 0 ? "" : ", ") + escape_text(t.names[i]);
      if (t.names.size() > 4) names += ", ...";
      line("TLS", fmt::format("{}, certificate for {} until {}{}", escape_text(t.protocol), names.empty() ? "?" : names,
                              escape_text(t.not_after.value_or("?")),
                              t.problems.empty() ? "" : " (" + std::string(to_string(t.problems.front())) +
                                                            (t.problems.size() > 1 ? ", ..." : "") + ")"));
    }
  }
  if (h.answer) {
    const HttpAnswer& a = *h.answer;
    std::string answer = fmt::format("{} {}", a.status, escape_arg(a.reason, 60));
    if (auto s = a.server()) answer += ", Server: " + escape_arg(*s, 60);
    if (auto l = a.location()) answer += ", Location: " + escape_arg(*l, 100);
    if (auto c = a.content_type()) answer += ", Content-Type: " + escape_arg(*c, 60);
    line("Answer", answer);
  } else {
    line("Answer", "none");
  }
  return render_diagnosis_text(u.diagnosis, palette, section);
}

}  // namespace netwhy
