// Private to src/http: the client side of one TLS session over a Wire,
// OpenSSL driven through two memory BIOs (it never touches the socket).
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "netwhy/error.hpp"
#include "netwhy/http_exchange.hpp"
#include "wire.hpp"

namespace netwhy {

class TlsClient {
 public:
  // Everything that can fail before a byte goes out: the context, the trust
  // store (ca_file, else the system's), the name to verify and send as SNI.
  [[nodiscard]] static Expected<TlsClient> create(std::string_view tls_name, const std::optional<std::string>& ca_file);

  TlsClient(TlsClient&&) noexcept;
  TlsClient& operator=(TlsClient&&) noexcept;
  ~TlsClient();

  // ok, or why not (protocol: facts().handshake_error says). The facts are
  // filled either way, as far as the handshake got.
  [[nodiscard]] IoStatus handshake(Wire& wire);
  // Sends all of bytes; protocol when the session failed (facts().session_error).
  [[nodiscard]] IoStatus write(Wire& wire, std::string_view bytes);
  // Appends at least one byte of plaintext and at most max to out; closed
  // when the peer ends the session (close_notify, or the TCP connection);
  // protocol when the session failed (facts().session_error says why).
  [[nodiscard]] IoStatus read(Wire& wire, std::string& out, std::size_t max);

  [[nodiscard]] const TlsFacts& facts() const { return facts_; }

 private:
  struct State;
  explicit TlsClient(std::unique_ptr<State> state);
  [[nodiscard]] IoStatus flush(Wire& wire);
  [[nodiscard]] IoStatus feed(Wire& wire);
  void record_facts(bool handshake_done);

  std::unique_ptr<State> state_;
  TlsFacts facts_;
};

}  // namespace netwhy
