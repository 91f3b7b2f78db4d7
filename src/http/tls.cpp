// The client side of one TLS session: OpenSSL reads and writes two memory
// BIOs, and the Wire moves their bytes, so every wait is the exchange's.
#include "tls.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstring>
#include <ctime>
#include <utility>

namespace netwhy {

namespace {

template <auto Free>
struct Deleter {
  template <class T>
  void operator()(T* p) const noexcept {
    Free(p);
  }
};
void free_openssl_bytes(unsigned char* p) noexcept { OPENSSL_free(p); }

using SslCtxPtr = std::unique_ptr<SSL_CTX, Deleter<SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, Deleter<SSL_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES_free>>;
using InfoAccessPtr = std::unique_ptr<AUTHORITY_INFO_ACCESS, Deleter<AUTHORITY_INFO_ACCESS_free>>;
using OpensslBytes = std::unique_ptr<unsigned char, Deleter<free_openssl_bytes>>;

constexpr std::size_t tls_chunk = 16 * 1024;  // one TLS record's plaintext

// The verify callback's notes: the SSL's app data points here.
struct VerifyLog {
  std::vector<VerifyError> errors;
};

// Records every error and says go on, so the handshake completes and every
// fact is known; what an error means is classify_verify_errors' business,
// and refusing the server the caller's.
int record_verify_error(int ok, X509_STORE_CTX* store) noexcept {
  if (ok == 1) return 1;
  const auto* ssl = static_cast<const SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* log = ssl != nullptr ? static_cast<VerifyLog*>(SSL_get_app_data(ssl)) : nullptr;
  if (log != nullptr) {
    const VerifyError e{X509_STORE_CTX_get_error_depth(store), X509_STORE_CTX_get_error(store)};
    try {
      if (std::find(log->errors.begin(), log->errors.end(), e) == log->errors.end()) log->errors.push_back(e);
    } catch (...) {
      return 0;  // out of memory: fail the handshake rather than lose an error
    }
  }
  return 1;
}

// The reason of the first error on OpenSSL's queue (the cause; the rest
// are where it passed), and the queue emptied.
std::string openssl_reason(std::string_view fallback) {
  const unsigned long code = ERR_peek_error();
  std::string text;
  if (code != 0) {
    if (const char* reason = ERR_reason_error_string(code)) {
      text = reason;
    } else {
      std::array<char, 256> buf{};
      ERR_error_string_n(code, buf.data(), buf.size());
      text = buf.data();
    }
  } else {
    text = fallback;
  }
  ERR_clear_error();
  return text;
}

std::string text_of(const ASN1_STRING* s) {
  if (s == nullptr) return {};
  return {reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)), static_cast<std::size_t>(ASN1_STRING_length(s))};
}

// One line, RFC 2253 ("CN=leaf,O=Example"), UTF-8 kept as it is (no \XX for
// bytes past ASCII): the caller escapes.
std::optional<std::string> name_line(const X509_NAME* name) {
  if (name == nullptr) return std::nullopt;
  const BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0) return std::nullopt;
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  if (len < 0 || data == nullptr) return std::string();
  return std::string(data, static_cast<std::size_t>(len));
}

// "2026-12-07T09:00:00Z"
std::optional<std::string> time_text(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return std::nullopt;
  std::array<char, 32> buf{};
  const std::size_t n = std::strftime(buf.data(), buf.size(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  if (n == 0) return std::nullopt;
  return std::string(buf.data(), n);
}

// SAN DNS names and IP addresses, in the certificate's order; without
// either, the subject's common names.
std::vector<std::string> cert_names(X509* cert) {
  std::vector<std::string> names;
  const GeneralNamesPtr sans(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans.get()); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans.get(), i);
    if (gn->type == GEN_DNS) {
      names.push_back(text_of(gn->d.dNSName));
    } else if (gn->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* ip = gn->d.iPAddress;
      const auto len = static_cast<std::size_t>(ASN1_STRING_length(ip));
      const auto addr = IpAddr::from_bytes(len == 16 ? Family::inet6 : Family::inet, ASN1_STRING_get0_data(ip), len);
      if (addr) names.push_back(addr->to_string());
    }
  }
  if (!names.empty()) return names;
  const X509_NAME* subject = X509_get_subject_name(cert);
  for (int i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(subject, NID_commonName, i)) {
    unsigned char* utf8 = nullptr;
    const int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i)));
    const OpensslBytes owned(utf8);
    if (len >= 0 && utf8 != nullptr) {
      names.emplace_back(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(len));
    }
  }
  return names;
}

// The first Authority Information Access caIssuers URI: where the issuer's
// certificate can be fetched.
std::optional<std::string> issuer_url(X509* cert) {
  const InfoAccessPtr aia(
      static_cast<AUTHORITY_INFO_ACCESS*>(X509_get_ext_d2i(cert, NID_info_access, nullptr, nullptr)));
  for (int i = 0; aia && i < sk_ACCESS_DESCRIPTION_num(aia.get()); ++i) {
    const ACCESS_DESCRIPTION* ad = sk_ACCESS_DESCRIPTION_value(aia.get(), i);
    if (OBJ_obj2nid(ad->method) == NID_ad_ca_issuers && ad->location != nullptr && ad->location->type == GEN_URI) {
      return text_of(ad->location->d.uniformResourceIdentifier);
    }
  }
  return std::nullopt;
}

}  // namespace

std::string_view to_string(TlsProblem p) {
  switch (p) {
    case TlsProblem::handshake: return "handshake";
    case TlsProblem::expired: return "expired";
    case TlsProblem::not_yet_valid: return "not-yet-valid";
    case TlsProblem::name_mismatch: return "name-mismatch";
    case TlsProblem::untrusted: return "untrusted";
    case TlsProblem::chain_incomplete: return "chain-incomplete";
  }
  return "?";
}

std::vector<TlsProblem> classify_verify_errors(const std::vector<VerifyError>& errors, const LeafHints& leaf) {
  constexpr std::array order{TlsProblem::handshake,     TlsProblem::expired,   TlsProblem::not_yet_valid,
                             TlsProblem::name_mismatch, TlsProblem::untrusted, TlsProblem::chain_incomplete};
  std::array<bool, order.size()> seen{};
  const auto mark = [&](TlsProblem p) { seen[static_cast<std::size_t>(p)] = true; };
  for (const VerifyError& e : errors) {
    switch (e.code) {
      case X509_V_OK:
        break;
      case X509_V_ERR_CERT_HAS_EXPIRED:
        mark(TlsProblem::expired);
        break;
      case X509_V_ERR_CERT_NOT_YET_VALID:
        mark(TlsProblem::not_yet_valid);
        break;
      case X509_V_ERR_HOSTNAME_MISMATCH:
      case X509_V_ERR_IP_ADDRESS_MISMATCH:
      case X509_V_ERR_EMAIL_MISMATCH:
        mark(TlsProblem::name_mismatch);
        break;
      case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
      case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
      case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        mark(e.depth == 0 && !leaf.self_issued && leaf.names_issuer_url ? TlsProblem::chain_incomplete
                                                                        : TlsProblem::untrusted);
        break;
      default:
        mark(TlsProblem::untrusted);
        break;
    }
  }
  std::vector<TlsProblem> problems;
  for (const TlsProblem p : order) {
    if (seen[static_cast<std::size_t>(p)]) problems.push_back(p);
  }
  return problems;
}

struct TlsClient::State {
  SslCtxPtr ctx;
  SslPtr ssl;
  BIO* in = nullptr;   // what the peer sent, for OpenSSL to read (owned by ssl)
  BIO* out = nullptr;  // what OpenSSL wrote, for the wire (owned by ssl)
  VerifyLog log;
};

TlsClient::TlsClient(std::unique_ptr<State> state) : state_(std::move(state)) {}
TlsClient::TlsClient(TlsClient&&) noexcept = default;
TlsClient& TlsClient::operator=(TlsClient&&) noexcept = default;
TlsClient::~TlsClient() = default;

Expected<TlsClient> TlsClient::create(std::string_view tls_name, const std::optional<std::string>& ca_file) {
  ERR_clear_error();
  auto state = std::make_unique<State>();
  state->ctx.reset(SSL_CTX_new(TLS_client_method()));
  if (!state->ctx) return Error{ErrorKind::system, 0, "create a TLS context: " + openssl_reason("out of memory")};
  SSL_CTX* ctx = state->ctx.get();
  if (ca_file) {
    if (ca_file->empty() || ca_file->find('\0') != std::string::npos) {
      return input_error("CA file \"" + *ca_file + "\": not a file name");
    }
    if (SSL_CTX_load_verify_file(ctx, ca_file->c_str()) != 1) {
      const unsigned long code = ERR_peek_error();
      if (ERR_GET_LIB(code) == ERR_LIB_SYS && ERR_GET_REASON(code) != 0) {
        ERR_clear_error();
        return system_error("read CA file " + *ca_file, ERR_GET_REASON(code));
      }
      return input_error("CA file " + *ca_file + ": " + openssl_reason("no certificate found"));
    }
  } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
    return Error{ErrorKind::system, 0, "the system's trusted certificates: " + openssl_reason("can't be read")};
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, record_verify_error);

  state->ssl.reset(SSL_new(ctx));
  BioPtr in(BIO_new(BIO_s_mem()));
  BioPtr out(BIO_new(BIO_s_mem()));
  if (!state->ssl || !in || !out) {
    return Error{ErrorKind::system, 0, "create a TLS session: " + openssl_reason("out of memory")};
  }
  // An empty memory BIO means "no bytes yet", never end of stream: the wire
  // says when the peer closed.
  BIO_set_mem_eof_return(in.get(), -1);
  BIO_set_mem_eof_return(out.get(), -1);
  state->in = in.get();
  state->out = out.get();
  SSL_set_bio(state->ssl.get(), in.release(), out.release());
  SSL* ssl = state->ssl.get();
  SSL_set_connect_state(ssl);
  SSL_set_app_data(ssl, &state->log);
  // http/1.1 in ALPN, as curl offers it: the one protocol netwhy speaks.
  static constexpr unsigned char alpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  if (SSL_set_alpn_protos(ssl, alpn, sizeof alpn) != 0) {
    return Error{ErrorKind::system, 0, "offer ALPN http/1.1: " + openssl_reason("out of memory")};
  }

  std::string name(tls_name);
  if (name.size() >= 2 && name.front() == '[' && name.back() == ']') name = name.substr(1, name.size() - 2);
  if (name.size() >= 2 && name.back() == '.') name.pop_back();
  if (name.find('\0') != std::string::npos) return input_error("TLS name with a NUL byte");
  if (!name.empty()) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    if (IpAddr::parse(name)) {
      // An IP literal: no SNI (RFC 6066), and the certificate must name the address.
      if (X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str()) != 1) {
        return input_error("TLS address " + name + ": " + openssl_reason("not an address"));
      }
    } else {
      if (SSL_set_tlsext_host_name(ssl, name.c_str()) != 1) {
        return input_error("TLS server name " + name + ": " + openssl_reason("not a server name"));
      }
      if (X509_VERIFY_PARAM_set1_host(param, name.data(), name.size()) != 1) {
        return input_error("TLS server name " + name + ": " + openssl_reason("not a host name"));
      }
    }
  }
  ERR_clear_error();
  return TlsClient(std::move(state));
}

IoStatus TlsClient::flush(Wire& wire) {
  std::array<char, tls_chunk> buf{};
  while (BIO_ctrl_pending(state_->out) > 0) {
    const int n = BIO_read(state_->out, buf.data(), static_cast<int>(buf.size()));
    if (n <= 0) break;
    const IoStatus st = wire.write_all(std::string_view(buf.data(), static_cast<std::size_t>(n)));
    if (st != IoStatus::ok) return st;
  }
  return IoStatus::ok;
}

IoStatus TlsClient::feed(Wire& wire) {
  std::string got;
  const IoStatus st = wire.read_some(got, tls_chunk);
  if (st != IoStatus::ok) return st;
  if (BIO_write(state_->in, got.data(), static_cast<int>(got.size())) != static_cast<int>(got.size())) {
    return IoStatus::protocol;
  }
  return IoStatus::ok;
}

namespace {

// What the wire did, in words, when the handshake or the session stopped there.
std::string wire_failure(IoStatus st, const Wire& wire) {
  switch (st) {
    case IoStatus::closed: return "the peer closed the connection";
    case IoStatus::timed_out: return "no answer before the deadline";
    case IoStatus::failed: return std::strerror(wire.error_number());
    case IoStatus::ok:
    case IoStatus::protocol: break;
  }
  return "failed";
}

}  // namespace

IoStatus TlsClient::handshake(Wire& wire) {
  SSL* ssl = state_->ssl.get();
  for (;;) {
    ERR_clear_error();
    const int rc = SSL_do_handshake(ssl);
    const int err = rc == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl, rc);
    // With memory BIOs OpenSSL only ever waits for input (a write to one
    // always succeeds): anything else is a failure.
    std::string reason;
    if (err != SSL_ERROR_NONE && err != SSL_ERROR_WANT_READ) reason = openssl_reason("the TLS library failed");
    // Whatever OpenSSL wrote goes out first: the next flight, or its alert.
    const IoStatus sent = flush(wire);
    if (!reason.empty()) {
      facts_.handshake_error = std::move(reason);
      record_facts(false);
      return IoStatus::protocol;
    }
    if (sent != IoStatus::ok) {
      facts_.handshake_error = wire_failure(sent, wire);
      record_facts(false);
      return sent;
    }
    if (rc == 1) {
      record_facts(true);
      return IoStatus::ok;
    }
    if (err == SSL_ERROR_WANT_READ) {
      if (const IoStatus got = feed(wire); got != IoStatus::ok) {
        facts_.handshake_error = got == IoStatus::protocol ? "out of memory" : wire_failure(got, wire);
        record_facts(false);
        return got;
      }
    }
  }
}

IoStatus TlsClient::write(Wire& wire, std::string_view bytes) {
  SSL* ssl = state_->ssl.get();
  while (!bytes.empty()) {
    const std::size_t n = std::min(bytes.size(), tls_chunk);
    ERR_clear_error();
    const int rc = SSL_write(ssl, bytes.data(), static_cast<int>(n));
    if (rc <= 0) {
      facts_.session_error = openssl_reason("the TLS library failed");
      return IoStatus::protocol;
    }
    bytes.remove_prefix(static_cast<std::size_t>(rc));
    if (const IoStatus st = flush(wire); st != IoStatus::ok) return st;
  }
  return IoStatus::ok;
}

IoStatus TlsClient::read(Wire& wire, std::string& out, std::size_t max) {
  SSL* ssl = state_->ssl.get();
  std::array<char, tls_chunk> buf{};
  for (;;) {
    ERR_clear_error();
    const int n = SSL_read(ssl, buf.data(), static_cast<int>(std::min(max, buf.size())));
    const int err = n > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl, n);
    std::string reason;
    if (err != SSL_ERROR_NONE && err != SSL_ERROR_WANT_READ && err != SSL_ERROR_ZERO_RETURN) {
      reason = openssl_reason("the TLS library failed");
    }
    // An answer OpenSSL owes the peer (a KeyUpdate): a write that fails
    // shows in the reads that follow.
    (void)flush(wire);
    if (n > 0) {
      out.append(buf.data(), static_cast<std::size_t>(n));
      return IoStatus::ok;
    }
    if (err == SSL_ERROR_ZERO_RETURN) return IoStatus::closed;  // close_notify
    if (err == SSL_ERROR_WANT_READ) {
      // A TCP close without close_notify ends the answer too: many servers
      // end a Connection: close answer that way.
      if (const IoStatus got = feed(wire); got != IoStatus::ok) return got;
      continue;
    }
    facts_.session_error = std::move(reason);
    return IoStatus::protocol;
  }
}

void TlsClient::record_facts(bool handshake_done) {
  SSL* ssl = state_->ssl.get();
  if (handshake_done) {
    facts_.protocol = SSL_get_version(ssl);
    if (const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl)) facts_.cipher = SSL_CIPHER_get_name(cipher);
  }
  const STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl);
  facts_.chain_length = chain != nullptr ? sk_X509_num(chain) : 0;
  LeafHints hints;
  if (X509* leaf = SSL_get0_peer_certificate(ssl)) {
    facts_.subject = name_line(X509_get_subject_name(leaf));
    facts_.issuer = name_line(X509_get_issuer_name(leaf));
    facts_.names = cert_names(leaf);
    facts_.not_before = time_text(X509_get0_notBefore(leaf));
    facts_.not_after = time_text(X509_get0_notAfter(leaf));
    facts_.issuer_url = issuer_url(leaf);
    facts_.self_signed = X509_self_signed(leaf, 1) == 1;
    hints.self_issued = X509_NAME_cmp(X509_get_subject_name(leaf), X509_get_issuer_name(leaf)) == 0;
    hints.names_issuer_url = facts_.issuer_url.has_value();
  }
  facts_.verify_failures = state_->log.errors;
  facts_.verify_errors.clear();
  for (const VerifyError& e : facts_.verify_failures) {
    facts_.verify_errors.emplace_back(X509_verify_cert_error_string(e.code));
  }
  facts_.problems.clear();
  if (!handshake_done) facts_.problems.push_back(TlsProblem::handshake);
  for (const TlsProblem p : classify_verify_errors(facts_.verify_failures, hints)) facts_.problems.push_back(p);
  ERR_clear_error();
}

}  // namespace netwhy
