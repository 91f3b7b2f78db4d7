// The one exchange of `netwhy url URL`: connect, CONNECT through a proxy,
// TLS, the request, the answer. Each step writes down how far it got.
#include "netwhy/http_exchange.hpp"

#include <cerrno>
#include <new>
#include <optional>
#include <utility>

#include "netwhy/http_answer.hpp"
#include "tls.hpp"
#include "wire.hpp"

namespace netwhy {

std::string_view to_string(ExchangeStage s) {
  switch (s) {
    case ExchangeStage::connect: return "connect";
    case ExchangeStage::proxy_connect: return "proxy-connect";
    case ExchangeStage::tls_handshake: return "tls-handshake";
    case ExchangeStage::send: return "send";
    case ExchangeStage::receive: return "receive";
    case ExchangeStage::done: return "done";
  }
  return "?";
}

namespace {

// A final answer whose head ended and whose body its framing (Content-Length,
// chunked, or none for 204/304) says is complete: nothing more is coming
// even if the peer keeps the connection open. Checked only once the head's
// end has arrived, so the parse runs a few times per answer, not per byte.
bool answer_is_whole(std::string_view bytes) {
  if (bytes.find("\r\n\r\n") == std::string_view::npos && bytes.find("\n\n") == std::string_view::npos) return false;
  auto a = parse_http_answer(bytes, false);
  return a && a->head_complete && a->status >= 200 && a->body_complete;
}

constexpr std::size_t max_interim_heads = 8;  // 1xx heads a proxy may send before its answer to CONNECT

// No byte a header line can't carry: controls (CR, LF, NUL, tab...) and DEL;
// and, for words like an authority, no space.
enum class Spaces { allowed, refused };
bool header_safe(std::string_view text, Spaces spaces) {
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || (u == ' ' && spaces == Spaces::refused)) return false;
  }
  return true;
}

// Where the head ends: just past the empty line (CRLF CRLF, or LF LF as
// lenient parsers accept), or npos.
std::size_t head_end(std::string_view bytes) {
  for (std::size_t i = bytes.find('\n'); i != std::string_view::npos; i = bytes.find('\n', i + 1)) {
    if (i + 1 < bytes.size() && bytes[i + 1] == '\n') return i + 2;
    if (i + 2 < bytes.size() && bytes[i + 1] == '\r' && bytes[i + 2] == '\n') return i + 3;
  }
  return std::string_view::npos;
}

// The status of "HTTP/1.x NNN ...", or nullopt.
std::optional<int> status_of(std::string_view head) {
  if (head.size() < 12 || !head.starts_with("HTTP/1.") || head[8] != ' ') return std::nullopt;
  int status = 0;
  for (std::size_t i = 9; i < 12; ++i) {
    if (head[i] < '0' || head[i] > '9') return std::nullopt;
    status = status * 10 + (head[i] - '0');
  }
  if (head.size() > 12 && head[12] != ' ' && head[12] != '\r' && head[12] != '\n') return std::nullopt;
  return status;
}

void note_failure(ExchangeResult& r, IoStatus st, const Wire& wire) {
  if (st == IoStatus::failed || st == IoStatus::timed_out) r.error_number = wire.error_number();
  r.timed_out = st == IoStatus::timed_out;
}

// CONNECT authority through the proxy: true when it answered 2xx; the
// bytes it sent after its head stay in the wire for the tunnel.
bool open_tunnel(const ExchangePlan& plan, Wire& wire, ExchangeResult& r) {
  const std::string& authority = *plan.connect_authority;
  std::string request = "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n";
  if (!plan.user_agent.empty()) request += "User-Agent: " + plan.user_agent + "\r\n";
  request += "\r\n";
  if (const IoStatus st = wire.write_all(request); st != IoStatus::ok) {
    note_failure(r, st, wire);
    r.proxy_answer = "";
    return false;
  }
  std::string answer;
  std::size_t scanned = 0;  // heads already read (1xx)
  for (std::size_t heads = 0;;) {
    const std::size_t end = head_end(std::string_view(answer).substr(scanned));
    if (end != std::string_view::npos) {
      const std::string_view head = std::string_view(answer).substr(scanned, end);
      const std::optional<int> status = status_of(head);
      if (status && *status >= 100 && *status < 200 && ++heads < max_interim_heads) {
        scanned += end;
        continue;
      }
      wire.unread(std::string_view(answer).substr(scanned + end));
      answer.resize(scanned + end);
      r.proxy_answer = answer;
      return status && *status >= 200 && *status < 300;
    }
    if (answer.size() >= exchange_max_proxy_answer) {
      r.proxy_answer = answer.substr(0, exchange_max_proxy_answer);
      return false;
    }
    const IoStatus st = wire.read_some(answer, exchange_max_proxy_answer - answer.size());
    if (st != IoStatus::ok) {
      note_failure(r, st, wire);
      r.proxy_answer = answer;
      return false;
    }
  }
}

void exchange(const ExchangePlan& plan, const Deadline& deadline, ExchangeResult& r) {
  // Everything that can fail here is checked before a byte goes out.
  if (plan.connect_authority) {
    if (plan.connect_authority->empty() || !header_safe(*plan.connect_authority, Spaces::refused)) {
      r.local_error = input_error("CONNECT authority \"" + *plan.connect_authority + "\": not a host:port");
      return;
    }
    if (!header_safe(plan.user_agent, Spaces::allowed)) {
      r.local_error = input_error("User-Agent with a control character");
      return;
    }
  }
  std::optional<TlsClient> tls;
  if (plan.tls) {
    auto client = TlsClient::create(plan.tls_name, plan.ca_file);
    if (!client) {
      r.local_error = client.error();
      return;
    }
    tls.emplace(std::move(*client));
  }

  Wire wire(deadline);
  r.reached = ExchangeStage::connect;
  if (auto opened = wire.open(plan.address.family); !opened) {
    r.local_error = opened.error();
    return;
  }
  if (const IoStatus st = wire.connect(plan.address, plan.port); st != IoStatus::ok) {
    note_failure(r, st, wire);
    return;
  }

  if (plan.connect_authority) {
    r.reached = ExchangeStage::proxy_connect;
    if (!open_tunnel(plan, wire, r)) return;
  }
  wire.start_capture(exchange_max_first_bytes);
  // Whatever stops the exchange from here, first_bytes shows what came.
  const auto finish = [&] {
    wire.read_arrived();
    r.first_bytes = wire.first_bytes();
    if (tls) r.tls = tls->facts();
  };

  if (tls) {
    r.reached = ExchangeStage::tls_handshake;
    if (const IoStatus st = tls->handshake(wire); st != IoStatus::ok) {
      note_failure(r, st, wire);
      finish();
      return;
    }
  }

  r.reached = ExchangeStage::send;
  if (const IoStatus st = tls ? tls->write(wire, plan.request) : wire.write_all(plan.request); st != IoStatus::ok) {
    note_failure(r, st, wire);
    finish();
    return;
  }

  r.reached = ExchangeStage::receive;
  constexpr std::size_t cap = http_max_head + http_max_body;
  IoStatus st = IoStatus::ok;
  bool whole = false;  // the answer's own framing says it is all here (a server that keeps the connection open)
  while (st == IoStatus::ok && r.answer.size() < cap && !whole) {
    st = tls ? tls->read(wire, r.answer, cap - r.answer.size()) : wire.read_some(r.answer, cap - r.answer.size());
    if (st == IoStatus::ok) whole = answer_is_whole(r.answer);
  }
  if (whole) {
    r.complete = true;
    r.reached = ExchangeStage::done;
  } else if (st == IoStatus::closed) {
    r.complete = true;
    if (!r.answer.empty()) r.reached = ExchangeStage::done;  // else an empty reply: stopped at receive
  } else if (st == IoStatus::ok) {
    r.reached = ExchangeStage::done;  // the cap: enough to diagnose
  } else {
    note_failure(r, st, wire);
  }
  finish();
}

}  // namespace

ExchangeResult run_exchange(const ExchangePlan& plan) {
  ExchangeResult r;
  const Deadline deadline(plan.timeout_s);
  try {
    exchange(plan, deadline, r);
  } catch (const std::bad_alloc&) {
    try {
      r.local_error = Error{ErrorKind::system, ENOMEM, "HTTP exchange"};
    } catch (...) {  // nothing more can be said
    }
  } catch (...) {
    try {
      r.local_error = Error{ErrorKind::system, 0, "HTTP exchange failed"};
    } catch (...) {  // nothing more can be said
    }
  }
  r.elapsed_s = deadline.elapsed_s();
  return r;
}

}  // namespace netwhy
