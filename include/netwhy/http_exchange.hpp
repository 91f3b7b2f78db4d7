// The I/O of `netwhy url URL`: one bounded exchange with a server. A TCP
// connect, a CONNECT through an HTTP proxy when asked, a TLS handshake when
// asked (OpenSSL, driven through memory buffers: every byte on the wire is
// read and written here, so every wait is under the one deadline and no
// write can raise SIGPIPE), the request, and the answer's bytes. What the
// bytes mean is http_answer.hpp's business, what a problem means the
// diagnosis's: this module only records what happened, and never prints.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "netwhy/error.hpp"
#include "netwhy/inet.hpp"

namespace netwhy {

// What is wrong with the server's TLS, as curl would refuse it. In this
// order, which is the order of TlsFacts::problems.
enum class TlsProblem {
  handshake,         // no TLS session: the peer isn't TLS, or refused ours (handshake_error says how)
  expired,           // a certificate of the chain is past its notAfter
  not_yet_valid,     // a certificate of the chain is before its notBefore
  name_mismatch,     // the leaf names neither the URL's host name nor its IP address
  untrusted,         // no chain to a trusted root: self-signed, an unknown issuer, or another verify error
  chain_incomplete,  // the server sent its certificate without the intermediate that issued it
};

// "handshake", "expired", "not-yet-valid", "name-mismatch", "untrusted", "chain-incomplete"
[[nodiscard]] std::string_view to_string(TlsProblem p);

// One error the certificate verification reported: code is OpenSSL's
// X509_V_ERR_* value, depth 0 the leaf, 1 its issuer, and so on.
struct VerifyError {
  int depth = 0;
  int code = 0;
  bool operator==(const VerifyError&) const = default;
};

// What classify_verify_errors needs to know about the leaf besides the errors.
struct LeafHints {
  bool self_issued = false;        // its issuer name is its subject name
  bool names_issuer_url = false;   // an Authority Information Access caIssuers URI: where its issuer can be fetched
};

// The problems the verification errors amount to, in TlsProblem's order,
// without duplicates (never `handshake`: that is not a verification error).
//   CERT_HAS_EXPIRED -> expired; CERT_NOT_YET_VALID -> not_yet_valid;
//   HOSTNAME_MISMATCH, IP_ADDRESS_MISMATCH, EMAIL_MISMATCH -> name_mismatch;
//   UNABLE_TO_GET_ISSUER_CERT(_LOCALLY) or UNABLE_TO_VERIFY_LEAF_SIGNATURE at
//   depth 0, for a leaf that is not self-issued and names its issuer's URL
//   -> chain_incomplete (see below); every other code, those included
//   otherwise (DEPTH_ZERO_SELF_SIGNED_CERT, SELF_SIGNED_CERT_IN_CHAIN, a
//   missing issuer higher up, a bad signature, an invalid CA...) -> untrusted.
// Why the issuer URL: "issuer not found" at the leaf reads the same whether
// the leaf's issuer is an intermediate the server forgot to send (its root
// trusted here) or a private CA nobody here trusts; telling them apart takes
// the missing certificate, which netwhy does not fetch. Public CAs put an
// AIA caIssuers URL in their leaves (the CA/Browser Forum's Baseline
// Requirements 7.1.2.7.7: SHOULD; Let's Encrypt's leaves have
// http://r3.i.lencr.org/ and the like), and browsers fetch the missing
// intermediate from it: that is why "works in the browser, fails in curl"
// is the symptom of a server that sends its leaf alone. The private CAs
// developers make (openssl req/x509, mkcert) write no AIA. So a leaf with
// the URL whose issuer is missing is taken as an incomplete chain, one
// without it as untrusted. Known misreadings: a private CA that writes AIA
// (Active Directory Certificate Services does) and is not trusted here
// reads as chain_incomplete; a public leaf whose root this store lacks
// while the server also forgot the intermediate reads as chain_incomplete
// (sending the intermediate is needed either way). Only the leaf counts: a
// sent intermediate whose issuer is missing is nearly always a root this
// store lacks (untrusted), and intermediates name their issuer's URL too.
[[nodiscard]] std::vector<TlsProblem> classify_verify_errors(const std::vector<VerifyError>& errors,
                                                             const LeafHints& leaf);

struct TlsFacts {
  std::string protocol;                          // "TLSv1.3"; empty when the handshake failed
  std::string cipher;                            // "TLS_AES_256_GCM_SHA384"; empty when the handshake failed
  std::optional<std::string> subject, issuer;    // the leaf's, one line RFC 2253 ("CN=a,O=b"), raw bytes
  std::vector<std::string> names;                // SAN DNS names and IP addresses (as text), else the CNs; raw
  std::optional<std::string> not_before, not_after;  // "2026-12-07T09:00:00Z"
  std::optional<std::string> issuer_url;         // the leaf's AIA caIssuers URI (the first), raw
  bool self_signed = false;                      // the leaf's issuer is its subject and its own key verifies it
  int chain_length = 0;                          // certificates the server sent, the leaf included
  std::vector<TlsProblem> problems;              // in TlsProblem's order, no duplicates
  std::vector<VerifyError> verify_failures;      // each error the verification saw, in order, no duplicates
  std::vector<std::string> verify_errors;        // X509_verify_cert_error_string of each of verify_failures
  std::optional<std::string> handshake_error;    // why the handshake failed: OpenSSL's reason ("wrong version
                                                 // number", "tlsv1 alert protocol version") or what the socket did
  std::optional<std::string> session_error;      // OpenSSL's reason when the session failed after the handshake
                                                 // (TLS 1.3 alerts arrive then: "tlsv13 alert certificate required")
};

struct ExchangePlan {
  IpAddr address;                            // where the TCP connection goes: the URL host's address, or a proxy's
  std::uint16_t port = 0;
  std::optional<std::string> connect_authority;  // "host:port" ("[::1]:443"): CONNECT through the proxy first
  bool tls = false;                          // TLS to the origin (inside the tunnel when there is one)
  std::string tls_name;                      // the URL's host: SNI when a name, and the name or IP verified
                                             // (brackets and one trailing dot are ignored; empty: no name check)
  std::optional<std::string> ca_file;        // curl --cacert: trust this PEM bundle instead of the system store
  std::string request;                       // the exact bytes sent after the tunnel and handshake (build_request)
  double timeout_s = 5;                      // one deadline for all of it: connect, CONNECT, handshake, send, read
  std::string user_agent;                    // the CONNECT request's User-Agent
};

enum class ExchangeStage { connect, proxy_connect, tls_handshake, send, receive, done };

// "connect", "proxy-connect", "tls-handshake", "send", "receive", "done"
[[nodiscard]] std::string_view to_string(ExchangeStage s);

inline constexpr std::size_t exchange_max_first_bytes = 512;
inline constexpr std::size_t exchange_max_proxy_answer = 8 * 1024;

struct ExchangeResult {
  ExchangeStage reached = ExchangeStage::connect;  // the stage that failed, or done
  int error_number = 0;                     // errno of a failed connect/send/recv: ECONNREFUSED, EHOSTUNREACH,
                                            // ECONNRESET, ETIMEDOUT (also for our own deadline)
  bool timed_out = false;                   // the deadline passed in stage `reached`
  std::optional<Error> local_error;         // nothing was tried on the network, or it stopped, because of this
                                            // host: socket() failed, the CA file can't be read, a CONNECT
                                            // authority or User-Agent with a control byte. Not the peer's doing.
  std::optional<std::string> proxy_answer;  // once CONNECT was tried: the proxy's raw answer head (1xx heads
                                            // before it included), at most exchange_max_proxy_answer bytes;
                                            // "" when it closed, reset or timed out without a byte
  std::string first_bytes;                  // the first bytes the peer sent after the tunnel, raw, at most
                                            // exchange_max_first_bytes: TLS records, an HTTP answer, anything
  std::optional<TlsFacts> tls;              // when plan.tls and the connection got that far
  std::string answer;                       // the answer's raw bytes, at most http_max_head + http_max_body
  bool complete = false;                    // the peer closed after `answer`, or the answer's framing says it is all
                                            // there (Content-Length met, the last chunk): not cut by cap or deadline
  double elapsed_s = 0;
};

// The exchange plan describes, each step bounded by the plan's one deadline.
// Never throws. reached is the stage that failed (error_number, timed_out,
// local_error, tls->handshake_error say how) or done: the request went out
// and the answer was read until the peer closed or the cap. A peer that
// closes without one byte of answer stops at receive (curl's "Empty reply
// from server"), complete = true.
[[nodiscard]] ExchangeResult run_exchange(const ExchangePlan& plan);

}  // namespace netwhy
