// run_exchange against real servers on loopback: OpenSSL on both sides, the
// keys and certificates made here (EC P-256, so it is quick), each server a
// thread serving one connection on 127.0.0.1, every wait of it bounded.
// Nothing leaves the host. Durations are never asserted, only outcomes.
#include <doctest/doctest.h>

#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "netwhy/fd.hpp"
#include "netwhy/http_answer.hpp"
#include "netwhy/http_exchange.hpp"

using netwhy::ExchangePlan;
using netwhy::ExchangeResult;
using netwhy::ExchangeStage;
using netwhy::IpAddr;
using netwhy::LeafHints;
using netwhy::run_exchange;
using netwhy::Speaks;
using netwhy::TlsProblem;
using netwhy::UniqueFd;
using netwhy::VerifyError;
using Problems = std::vector<TlsProblem>;

namespace {

template <auto Free>
struct Deleter {
  template <class T>
  void operator()(T* p) const noexcept {
    Free(p);
  }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free>>;
using SslCtxPtr = std::unique_ptr<SSL_CTX, Deleter<SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, Deleter<SSL_free>>;

// A bound on every wait of a server thread, so a test that goes wrong ends.
constexpr int server_wait_s = 5;

// ---------------------------------------------------------------- certificates

KeyPtr new_key() {
  KeyPtr key(EVP_EC_gen("P-256"));
  if (!key) throw std::runtime_error("EC key generation failed");
  return key;
}

struct CertSpec {
  std::string cn;
  std::string san;  // "DNS:localhost,IP:127.0.0.1"; empty: no SAN extension
  std::time_t not_before = 0;
  std::time_t not_after = 0;
  bool ca = false;
  std::string issuer_url;  // AIA caIssuers; empty: none
};

void add_ext(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
  const ExtPtr ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) throw std::runtime_error("extension " + value);
}

// Signed by issuer (its key issuer_key), or self-signed when issuer is null.
X509Ptr make_cert(const CertSpec& spec, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key) {
  static long serial = 1000;
  X509Ptr cert(X509_new());
  X509* x = cert.get();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), ++serial);
  ASN1_TIME_set(X509_getm_notBefore(x), spec.not_before);
  ASN1_TIME_set(X509_getm_notAfter(x), spec.not_after);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  const auto add_entry = [name](const char* field, const std::string& value) {
    X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(value.c_str()), -1,
                               -1, 0);
  };
  add_entry("O", "netwhy test");
  add_entry("CN", spec.cn);
  X509_set_issuer_name(x, issuer != nullptr ? X509_get_subject_name(issuer) : name);
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, issuer != nullptr ? issuer : x, x, nullptr, nullptr, 0);
  add_ext(x, &v3, NID_basic_constraints, spec.ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  add_ext(x, &v3, NID_key_usage, spec.ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
  if (!spec.ca) add_ext(x, &v3, NID_ext_key_usage, "serverAuth");
  add_ext(x, &v3, NID_subject_key_identifier, "hash");
  if (issuer != nullptr) add_ext(x, &v3, NID_authority_key_identifier, "keyid:always");
  if (!spec.san.empty()) add_ext(x, &v3, NID_subject_alt_name, spec.san);
  if (!spec.issuer_url.empty()) add_ext(x, &v3, NID_info_access, "caIssuers;URI:" + spec.issuer_url);
  if (X509_sign(x, issuer_key != nullptr ? issuer_key : key, EVP_sha256()) <= 0) throw std::runtime_error("sign");
  return cert;
}

std::string utc_text(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::array<char, 32> buf{};
  return {buf.data(), std::strftime(buf.data(), buf.size(), "%Y-%m-%dT%H:%M:%SZ", &tm)};
}

// A PEM file of certificates that removes itself.
class PemFile {
 public:
  explicit PemFile(const std::vector<X509*>& certs) {
    const char* tmp = std::getenv("TMPDIR");
    std::string path = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/netwhy-ca-XXXXXX";
    const UniqueFd fd(::mkstemp(path.data()));
    if (!fd.valid()) throw std::runtime_error("mkstemp");
    path_ = path;
    const BioPtr bio(BIO_new_file(path_.c_str(), "w"));
    for (X509* c : certs) {
      if (!bio || PEM_write_bio_X509(bio.get(), c) != 1) throw std::runtime_error("write " + path_);
    }
  }
  PemFile(const PemFile&) = delete;
  PemFile& operator=(const PemFile&) = delete;
  ~PemFile() { std::remove(path_.c_str()); }
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// One test PKI: a root, an intermediate it signed, an unrelated root, and
// a key for the leaves each test makes. Made once: keys are the slow part.
struct Pki {
  std::time_t now = std::time(nullptr);
  KeyPtr root_key = new_key();
  KeyPtr inter_key = new_key();
  KeyPtr other_key = new_key();
  KeyPtr leaf_key = new_key();
  X509Ptr root = make_cert({"netwhy test root", "", now - 86400, now + 30 * 86400, true, ""}, root_key.get(), nullptr,
                           nullptr);
  X509Ptr inter = make_cert({"netwhy test intermediate", "", now - 86400, now + 30 * 86400, true,
                             "http://ca.netwhy.invalid/root.der"},
                            inter_key.get(), root.get(), root_key.get());
  X509Ptr other_root = make_cert({"netwhy other root", "", now - 86400, now + 30 * 86400, true, ""}, other_key.get(),
                                 nullptr, nullptr);
  PemFile root_pem{{root.get()}};
  PemFile other_pem{{other_root.get()}};

  // A leaf for localhost and 127.0.0.1, valid from an hour ago for a day, signed by the root.
  [[nodiscard]] CertSpec leaf_spec() const {
    return {"localhost", "DNS:localhost,IP:127.0.0.1", now - 3600, now + 86400, false, ""};
  }
  [[nodiscard]] X509Ptr leaf_by_root(const CertSpec& spec) const {
    return make_cert(spec, leaf_key.get(), root.get(), root_key.get());
  }
  [[nodiscard]] X509Ptr leaf_by_inter(const CertSpec& spec) const {
    return make_cert(spec, leaf_key.get(), inter.get(), inter_key.get());
  }
};

const Pki& pki() {
  static const Pki p;
  return p;
}

// ---------------------------------------------------------------- servers

void set_timeouts(int fd) {
  timeval tv{server_wait_s, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

// A listener on 127.0.0.1 (a free port) and a thread that serves its first
// connection with serve(fd), then closes it. The thread waits at most
// server_wait_s for the connection and for each read and write; join()
// (the destructor too) waits for it, so a failed test leaves no thread.
class Server {
 public:
  explicit Server(std::function<void(int)> serve) : listener_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sin;
    if (!listener_.valid() || ::bind(listener_.get(), reinterpret_cast<sockaddr*>(&sin), len) != 0 ||
        ::listen(listener_.get(), 4) != 0 ||
        ::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&sin), &len) != 0) {
      throw std::runtime_error("loopback listener");
    }
    port_ = ntohs(sin.sin_port);
    thread_ = std::thread([this, serve = std::move(serve)] { run(serve); });
  }
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  ~Server() { join(); }
  void join() {
    if (thread_.joinable()) thread_.join();
  }
  [[nodiscard]] std::uint16_t port() const { return port_; }

 private:
  void run(const std::function<void(int)>& serve) {
    // A write to a client that has gone is EPIPE for this thread, never a
    // SIGPIPE that ends the test binary (OpenSSL writes with write()).
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
    pollfd pfd{listener_.get(), POLLIN, 0};
    if (::poll(&pfd, 1, server_wait_s * 1000) != 1) return;
    const UniqueFd conn(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn.valid()) return;
    set_timeouts(conn.get());
    serve(conn.get());
  }

  UniqueFd listener_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

// Reads until the bytes end with an empty line (or max, EOF, the timeout).
std::string read_head(int fd, std::size_t max = 16 * 1024) {
  std::string got;
  char c = 0;
  while (got.size() < max && got.find("\r\n\r\n") == std::string::npos && ::recv(fd, &c, 1, 0) == 1) got += c;
  return got;
}

void send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

// Reads and drops what the client sends until it closes (or the timeout).
void drain(int fd) {
  std::array<char, 4096> buf{};
  while (::recv(fd, buf.data(), buf.size(), 0) > 0) {
  }
}

// An orderly end: our FIN after what was sent, and the client's bytes read
// until it closes, so no unread byte turns the close into a reset.
void finish(int fd) {
  ::shutdown(fd, SHUT_WR);
  drain(fd);
}

constexpr std::string_view hello =
    "HTTP/1.1 200 OK\r\nServer: test\r\nContent-Type: text/plain\r\nContent-Length: 6\r\nConnection: close\r\n\r\n"
    "hello\n";

// What a TLS server thread saw.
struct Seen {
  bool handshake = false;
  std::string sni;
  std::string alpn;  // the protocols the client offered, as on the wire
  std::string request;
  std::string error;
};

struct TlsServerSetup {
  X509* cert = nullptr;
  EVP_PKEY* key = nullptr;
  std::vector<X509*> chain;  // sent after the leaf
  bool require_client_cert = false;
};

std::string server_error() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  const char* reason = code != 0 ? ERR_reason_error_string(code) : nullptr;
  return reason != nullptr ? reason : "failed";
}

int note_alpn(SSL* /*ssl*/, const unsigned char** /*out*/, unsigned char* /*outlen*/, const unsigned char* in,
              unsigned inlen, void* arg) {
  static_cast<Seen*>(arg)->alpn.assign(reinterpret_cast<const char*>(in), inlen);
  return SSL_TLSEXT_ERR_NOACK;
}

// Serves one TLS connection on fd: the handshake, the request's head, the
// answer, close_notify. seen says how far it got.
void serve_tls(int fd, const TlsServerSetup& setup, std::string_view answer, Seen& seen) {
  const SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx || SSL_CTX_use_certificate(ctx.get(), setup.cert) != 1 ||
      SSL_CTX_use_PrivateKey(ctx.get(), setup.key) != 1) {
    seen.error = "server context: " + server_error();
    return;
  }
  for (X509* c : setup.chain) SSL_CTX_add1_chain_cert(ctx.get(), c);
  SSL_CTX_set_alpn_select_cb(ctx.get(), note_alpn, &seen);
  if (setup.require_client_cert) {
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  const SslPtr ssl(SSL_new(ctx.get()));
  SSL_set_fd(ssl.get(), fd);
  if (SSL_accept(ssl.get()) != 1) {
    seen.error = server_error();
    finish(fd);
    return;
  }
  seen.handshake = true;
  if (const char* sni = SSL_get_servername(ssl.get(), TLSEXT_NAMETYPE_host_name)) seen.sni = sni;
  std::array<char, 4096> buf{};
  while (seen.request.find("\r\n\r\n") == std::string::npos) {
    const int n = SSL_read(ssl.get(), buf.data(), static_cast<int>(buf.size()));
    if (n <= 0) {
      seen.error = "read: " + server_error();
      return;
    }
    seen.request.append(buf.data(), static_cast<std::size_t>(n));
  }
  for (std::string_view rest = answer; !rest.empty();) {
    const int n = SSL_write(ssl.get(), rest.data(), static_cast<int>(std::min<std::size_t>(rest.size(), 16384)));
    if (n <= 0) return;  // the client stopped reading (the cap)
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
  SSL_shutdown(ssl.get());
  finish(fd);
}

// The plain HTTP server: reads the head, answers, closes.
void serve_plain(int fd, std::string_view answer, std::string* request = nullptr) {
  const std::string head = read_head(fd);
  if (request != nullptr) *request = head;
  send_all(fd, answer);
  finish(fd);
}

ExchangePlan plan_to(const Server& server, bool tls, std::string tls_name = "localhost") {
  ExchangePlan plan;
  plan.address = *IpAddr::parse("127.0.0.1");
  plan.port = server.port();
  plan.tls = tls;
  plan.tls_name = std::move(tls_name);
  plan.ca_file = pki().root_pem.path();
  plan.request = *netwhy::build_request("localhost:" + std::to_string(server.port()), "/", "test");
  plan.timeout_s = 5;
  plan.user_agent = "netwhy/test";
  return plan;
}

// An exchange with a TLS server that presents cert (and chain), the client
// verifying tls_name against ca_file.
struct TlsRun {
  ExchangeResult result;
  Seen seen;
};
TlsRun tls_run(X509* cert, std::vector<X509*> chain, const std::string& tls_name,
               const std::string& ca_file = pki().root_pem.path()) {
  TlsRun run;
  const TlsServerSetup setup{cert, pki().leaf_key.get(), std::move(chain), false};
  Server server([&](int fd) { serve_tls(fd, setup, hello, run.seen); });
  ExchangePlan plan = plan_to(server, true, tls_name);
  plan.ca_file = ca_file;
  run.result = run_exchange(plan);
  server.join();
  return run;
}

// The TLS run went through: the handshake, the request, the whole answer.
void check_done(const TlsRun& run) {
  const ExchangeResult& r = run.result;
  CHECK(r.reached == ExchangeStage::done);
  CHECK(r.error_number == 0);
  CHECK_FALSE(r.timed_out);
  CHECK_FALSE(r.local_error.has_value());
  CHECK(r.answer == hello);
  CHECK(r.complete);
  CHECK(netwhy::speaks(r.first_bytes) == Speaks::tls);
  CHECK(run.seen.handshake);
  CHECK(run.seen.error.empty());
  REQUIRE(r.tls.has_value());
  CHECK(r.tls->protocol == "TLSv1.3");
  CHECK_FALSE(r.tls->cipher.empty());
  CHECK_FALSE(r.tls->handshake_error.has_value());
  CHECK_FALSE(r.tls->session_error.has_value());
}

}  // namespace

// ---------------------------------------------------------------- classification

TEST_CASE("verify errors: each code to its problem, in a stable order, without duplicates") {
  const LeafHints plain_leaf;
  using E = VerifyError;
  CHECK(classify_verify_errors({}, plain_leaf).empty());
  CHECK(classify_verify_errors({E{0, X509_V_ERR_CERT_HAS_EXPIRED}}, plain_leaf) == Problems{TlsProblem::expired});
  CHECK(classify_verify_errors({E{1, X509_V_ERR_CERT_HAS_EXPIRED}}, plain_leaf) == Problems{TlsProblem::expired});
  CHECK(classify_verify_errors({E{0, X509_V_ERR_CERT_NOT_YET_VALID}}, plain_leaf) ==
        Problems{TlsProblem::not_yet_valid});
  CHECK(classify_verify_errors({E{0, X509_V_ERR_HOSTNAME_MISMATCH}}, plain_leaf) ==
        Problems{TlsProblem::name_mismatch});
  CHECK(classify_verify_errors({E{0, X509_V_ERR_IP_ADDRESS_MISMATCH}}, plain_leaf) ==
        Problems{TlsProblem::name_mismatch});
  CHECK(classify_verify_errors({E{0, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT}}, plain_leaf) ==
        Problems{TlsProblem::untrusted});
  CHECK(classify_verify_errors({E{2, X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN}}, plain_leaf) ==
        Problems{TlsProblem::untrusted});
  CHECK(classify_verify_errors({E{0, X509_V_ERR_CERT_SIGNATURE_FAILURE}}, plain_leaf) ==
        Problems{TlsProblem::untrusted});  // any other failure: curl refuses it too
  // Every problem at once comes out in TlsProblem's order, each once.
  CHECK(classify_verify_errors({E{0, X509_V_ERR_HOSTNAME_MISMATCH}, E{0, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT},
                                E{0, X509_V_ERR_CERT_NOT_YET_VALID}, E{1, X509_V_ERR_CERT_HAS_EXPIRED},
                                E{0, X509_V_ERR_CERT_HAS_EXPIRED}, E{0, X509_V_ERR_HOSTNAME_MISMATCH}},
                               plain_leaf) == Problems{TlsProblem::expired, TlsProblem::not_yet_valid,
                                                       TlsProblem::name_mismatch, TlsProblem::untrusted});
}

TEST_CASE("verify errors: a missing issuer is an incomplete chain only at a leaf that names its issuer's URL") {
  using E = VerifyError;
  const std::vector<VerifyError> leaf_alone{E{0, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY},
                                            E{0, X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE}};
  CHECK(classify_verify_errors(leaf_alone, LeafHints{false, true}) == Problems{TlsProblem::chain_incomplete});
  // A private CA's leaf (no AIA): its issuer is nowhere to be had.
  CHECK(classify_verify_errors(leaf_alone, LeafHints{false, false}) == Problems{TlsProblem::untrusted});
  // Self-issued: there is no other issuer to send.
  CHECK(classify_verify_errors(leaf_alone, LeafHints{true, true}) == Problems{TlsProblem::untrusted});
  // The intermediate was sent and its issuer is missing: a root this store lacks.
  CHECK(classify_verify_errors({E{1, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY}}, LeafHints{false, true}) ==
        Problems{TlsProblem::untrusted});
  CHECK(classify_verify_errors({E{0, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT}}, LeafHints{false, true}) ==
        Problems{TlsProblem::chain_incomplete});
  CHECK(classify_verify_errors({E{0, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY}, E{0, X509_V_ERR_HOSTNAME_MISMATCH}},
                               LeafHints{false, true}) ==
        Problems{TlsProblem::name_mismatch, TlsProblem::chain_incomplete});
}

TEST_CASE("problem and stage names") {
  CHECK(to_string(TlsProblem::handshake) == "handshake");
  CHECK(to_string(TlsProblem::expired) == "expired");
  CHECK(to_string(TlsProblem::not_yet_valid) == "not-yet-valid");
  CHECK(to_string(TlsProblem::name_mismatch) == "name-mismatch");
  CHECK(to_string(TlsProblem::untrusted) == "untrusted");
  CHECK(to_string(TlsProblem::chain_incomplete) == "chain-incomplete");
  CHECK(to_string(ExchangeStage::connect) == "connect");
  CHECK(to_string(ExchangeStage::proxy_connect) == "proxy-connect");
  CHECK(to_string(ExchangeStage::tls_handshake) == "tls-handshake");
  CHECK(to_string(ExchangeStage::send) == "send");
  CHECK(to_string(ExchangeStage::receive) == "receive");
  CHECK(to_string(ExchangeStage::done) == "done");
}

// ---------------------------------------------------------------- TLS

TEST_CASE("https with a chain the CA file trusts: no problem, TLS 1.3, the leaf's names and dates") {
  const Pki& p = pki();
  const X509Ptr leaf = p.leaf_by_root(p.leaf_spec());
  const TlsRun run = tls_run(leaf.get(), {}, "localhost");
  check_done(run);
  const netwhy::TlsFacts& t = *run.result.tls;
  CHECK(t.problems.empty());
  CHECK(t.verify_failures.empty());
  CHECK(t.verify_errors.empty());
  CHECK(t.subject == "CN=localhost,O=netwhy test");
  CHECK(t.issuer == "CN=netwhy test root,O=netwhy test");
  CHECK(t.names == std::vector<std::string>{"localhost", "127.0.0.1"});
  CHECK(t.not_before == utc_text(p.now - 3600));
  CHECK(t.not_after == utc_text(p.now + 86400));
  CHECK_FALSE(t.issuer_url.has_value());
  CHECK_FALSE(t.self_signed);
  CHECK(t.chain_length == 1);
  // What the server saw: SNI, and http/1.1 the one protocol offered.
  CHECK(run.seen.sni == "localhost");
  CHECK(run.seen.alpn == std::string_view("\x08http/1.1", 9));
}

TEST_CASE("https: the request goes out byte for byte, with SNI and one trailing dot ignored") {
  const Pki& p = pki();
  const X509Ptr leaf = p.leaf_by_root(p.leaf_spec());
  Seen seen;
  const TlsServerSetup setup{leaf.get(), p.leaf_key.get(), {}, false};
  Server server([&](int fd) { serve_tls(fd, setup, hello, seen); });
  const ExchangePlan plan = plan_to(server, true, "localhost.");
  const ExchangeResult r = run_exchange(plan);
  server.join();
  CHECK(r.reached == ExchangeStage::done);
  CHECK(seen.request == plan.request);
  CHECK(seen.sni == "localhost");
  REQUIRE(r.tls.has_value());
  CHECK(r.tls->problems.empty());
}

TEST_CASE("https to a self-signed certificate: untrusted, self_signed") {
  const Pki& p = pki();
  const X509Ptr self = make_cert(p.leaf_spec(), p.leaf_key.get(), nullptr, nullptr);
  const TlsRun run = tls_run(self.get(), {}, "localhost");
  check_done(run);
  const netwhy::TlsFacts& t = *run.result.tls;
  CHECK(t.problems == Problems{TlsProblem::untrusted});
  CHECK(t.self_signed);
  CHECK(t.subject == t.issuer);
  CHECK(t.verify_failures == std::vector<VerifyError>{{0, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT}});
  CHECK(t.verify_errors == std::vector<std::string>{"self-signed certificate"});
}

TEST_CASE("https to an expired certificate the CA file trusts: expired, nothing else") {
  const Pki& p = pki();
  SUBCASE("expired") {
    CertSpec spec = p.leaf_spec();
    spec.not_before = p.now - 10 * 86400;
    spec.not_after = p.now - 86400;
    const X509Ptr leaf = p.leaf_by_root(spec);
    const TlsRun run = tls_run(leaf.get(), {}, "localhost");
    check_done(run);
    CHECK(run.result.tls->problems == Problems{TlsProblem::expired});
    CHECK(run.result.tls->not_after == utc_text(p.now - 86400));
    CHECK(run.result.tls->verify_failures == std::vector<VerifyError>{{0, X509_V_ERR_CERT_HAS_EXPIRED}});
  }
  SUBCASE("not yet valid") {
    CertSpec spec = p.leaf_spec();
    spec.not_before = p.now + 86400;
    spec.not_after = p.now + 10 * 86400;
    const X509Ptr leaf = p.leaf_by_root(spec);
    const TlsRun run = tls_run(leaf.get(), {}, "localhost");
    check_done(run);
    CHECK(run.result.tls->problems == Problems{TlsProblem::not_yet_valid});
    CHECK(run.result.tls->not_before == utc_text(p.now + 86400));
  }
}

TEST_CASE("https to a certificate for another name: name_mismatch, and the names it has") {
  const Pki& p = pki();
  const X509Ptr leaf = p.leaf_by_root(p.leaf_spec());
  const TlsRun run = tls_run(leaf.get(), {}, "www.example.test");
  check_done(run);
  CHECK(run.result.tls->problems == Problems{TlsProblem::name_mismatch});
  CHECK(run.result.tls->names == std::vector<std::string>{"localhost", "127.0.0.1"});
  CHECK(run.result.tls->verify_failures == std::vector<VerifyError>{{0, X509_V_ERR_HOSTNAME_MISMATCH}});
  CHECK(run.seen.sni == "www.example.test");
}

TEST_CASE("https to a certificate without SAN: its common name is the name, as OpenSSL checks it") {
  const Pki& p = pki();
  CertSpec spec = p.leaf_spec();
  spec.cn = "legacy.test";
  spec.san.clear();
  const X509Ptr leaf = p.leaf_by_root(spec);
  const TlsRun ok = tls_run(leaf.get(), {}, "legacy.test");
  check_done(ok);
  CHECK(ok.result.tls->problems.empty());
  CHECK(ok.result.tls->names == std::vector<std::string>{"legacy.test"});
  const TlsRun other = tls_run(leaf.get(), {}, "localhost");
  check_done(other);
  CHECK(other.result.tls->problems == Problems{TlsProblem::name_mismatch});
}

TEST_CASE("https to an IP literal: the certificate must name the address; no SNI") {
  const Pki& p = pki();
  SUBCASE("an IP SAN") {
    const X509Ptr leaf = p.leaf_by_root(p.leaf_spec());
    const TlsRun run = tls_run(leaf.get(), {}, "127.0.0.1");
    check_done(run);
    CHECK(run.result.tls->problems.empty());
    CHECK(run.seen.sni.empty());
  }
  SUBCASE("DNS names only") {
    CertSpec spec = p.leaf_spec();
    spec.san = "DNS:localhost";
    const X509Ptr leaf = p.leaf_by_root(spec);
    const TlsRun run = tls_run(leaf.get(), {}, "127.0.0.1");
    check_done(run);
    CHECK(run.result.tls->problems == Problems{TlsProblem::name_mismatch});
    CHECK(run.result.tls->verify_failures == std::vector<VerifyError>{{0, X509_V_ERR_IP_ADDRESS_MISMATCH}});
    CHECK(run.seen.sni.empty());
  }
  SUBCASE("IPv6 in brackets") {
    CertSpec spec = p.leaf_spec();
    spec.san = "IP:::1";
    const X509Ptr leaf = p.leaf_by_root(spec);
    const TlsRun run = tls_run(leaf.get(), {}, "[::1]");
    check_done(run);
    CHECK(run.result.tls->problems.empty());
    CHECK(run.result.tls->names == std::vector<std::string>{"::1"});
  }
}

TEST_CASE("https, a leaf issued by an intermediate: sent alone it is an incomplete chain, with it fine") {
  const Pki& p = pki();
  CertSpec spec = p.leaf_spec();
  spec.issuer_url = "http://ca.netwhy.invalid/intermediate.der";  // as public CAs write in every leaf
  const X509Ptr leaf = p.leaf_by_inter(spec);
  SUBCASE("the leaf alone, the root in the CA file") {
    const TlsRun run = tls_run(leaf.get(), {}, "localhost");
    check_done(run);
    const netwhy::TlsFacts& t = *run.result.tls;
    CHECK(t.problems == Problems{TlsProblem::chain_incomplete});
    CHECK(t.chain_length == 1);
    CHECK(t.issuer == "CN=netwhy test intermediate,O=netwhy test");
    CHECK(t.issuer_url == "http://ca.netwhy.invalid/intermediate.der");
    CHECK(t.verify_failures == std::vector<VerifyError>{{0, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY},
                                                       {0, X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE}});
    CHECK(t.verify_errors == std::vector<std::string>{"unable to get local issuer certificate",
                                                      "unable to verify the first certificate"});
  }
  SUBCASE("the leaf and the intermediate") {
    const TlsRun run = tls_run(leaf.get(), {p.inter.get()}, "localhost");
    check_done(run);
    CHECK(run.result.tls->problems.empty());
    CHECK(run.result.tls->chain_length == 2);
  }
  SUBCASE("the leaf and the intermediate, the root not trusted") {
    const TlsRun run = tls_run(leaf.get(), {p.inter.get()}, "localhost", p.other_pem.path());
    check_done(run);
    CHECK(run.result.tls->problems == Problems{TlsProblem::untrusted});
    CHECK(run.result.tls->verify_failures.at(0) == VerifyError{1, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY});
  }
  SUBCASE("a private CA's leaf (no issuer URL) alone: untrusted") {
    const X509Ptr private_leaf = p.leaf_by_inter(p.leaf_spec());
    const TlsRun run = tls_run(private_leaf.get(), {}, "localhost");
    check_done(run);
    CHECK(run.result.tls->problems == Problems{TlsProblem::untrusted});
  }
}

TEST_CASE("https to a server that requires a client certificate: TLS 1.3 says so after the handshake") {
  const Pki& p = pki();
  const X509Ptr leaf = p.leaf_by_root(p.leaf_spec());
  Seen seen;
  const TlsServerSetup setup{leaf.get(), p.leaf_key.get(), {}, true};
  Server server([&](int fd) { serve_tls(fd, setup, hello, seen); });
  const ExchangeResult r = run_exchange(plan_to(server, true));
  server.join();
  CHECK(r.reached == ExchangeStage::receive);
  CHECK(r.answer.empty());
  REQUIRE(r.tls.has_value());
  CHECK(r.tls->protocol == "TLSv1.3");
  CHECK(r.tls->problems.empty());
  CHECK(r.tls->session_error == "tlsv13 alert certificate required");
}

TEST_CASE("https to a plain HTTP server: the handshake fails, first_bytes is its HTTP answer") {
  Server server([](int fd) {
    std::array<char, 4096> buf{};
    (void)::recv(fd, buf.data(), buf.size(), 0);  // the ClientHello, or its start
    send_all(fd, "HTTP/1.1 400 Bad Request\r\nContent-Length: 11\r\nConnection: close\r\n\r\nBad Request");
    finish(fd);
  });
  const ExchangeResult r = run_exchange(plan_to(server, true));
  server.join();
  CHECK(r.reached == ExchangeStage::tls_handshake);
  CHECK_FALSE(r.timed_out);
  CHECK(r.first_bytes.starts_with("HTTP/1.1 400"));
  CHECK(netwhy::speaks(r.first_bytes) == Speaks::http);
  REQUIRE(r.tls.has_value());
  CHECK(r.tls->problems == Problems{TlsProblem::handshake});
  CHECK(r.tls->handshake_error == "wrong version number");
  CHECK(r.tls->protocol.empty());
  CHECK_FALSE(r.tls->subject.has_value());
  CHECK(r.answer.empty());
}

TEST_CASE("https to a server that closes at once: a handshake failure") {
  Server server([](int fd) { finish(fd); });
  const ExchangeResult r = run_exchange(plan_to(server, true));
  server.join();
  CHECK(r.reached == ExchangeStage::tls_handshake);
  CHECK(r.first_bytes.empty());
  REQUIRE(r.tls.has_value());
  CHECK(r.tls->problems == Problems{TlsProblem::handshake});
  CHECK(r.tls->handshake_error == "the peer closed the connection");
}

TEST_CASE("plain HTTP to a TLS port") {
  const Pki& p = pki();
  const X509Ptr leaf = p.leaf_by_root(p.leaf_spec());
  SUBCASE("an OpenSSL server closes without a byte: an empty reply") {
    Seen seen;
    const TlsServerSetup setup{leaf.get(), p.leaf_key.get(), {}, false};
    Server server([&](int fd) { serve_tls(fd, setup, hello, seen); });
    const ExchangeResult r = run_exchange(plan_to(server, false));
    server.join();
    CHECK(seen.error == "http request");  // OpenSSL saw "GET " and sent no alert
    CHECK(r.reached == ExchangeStage::receive);
    CHECK(r.error_number == 0);
    CHECK(r.complete);
    CHECK(r.answer.empty());
    CHECK(r.first_bytes.empty());
    CHECK(netwhy::speaks(r.first_bytes) == Speaks::none);
    CHECK_FALSE(r.tls.has_value());
  }
  SUBCASE("a TLS stack that answers with an alert record") {
    Server server([](int fd) {
      (void)read_head(fd);
      send_all(fd, std::string_view("\x15\x03\x01\x00\x02\x02\x46", 7));  // fatal protocol_version
      finish(fd);
    });
    const ExchangeResult r = run_exchange(plan_to(server, false));
    server.join();
    CHECK(r.reached == ExchangeStage::done);
    CHECK(r.first_bytes == std::string_view("\x15\x03\x01\x00\x02\x02\x46", 7));
    CHECK(netwhy::speaks(r.first_bytes) == Speaks::tls);
  }
}

// ---------------------------------------------------------------- plain HTTP, failures, bounds

TEST_CASE("http: the request as planned, the answer until the server closes") {
  std::string request;
  Server server([&](int fd) { serve_plain(fd, hello, &request); });
  const ExchangePlan plan = plan_to(server, false);
  const ExchangeResult r = run_exchange(plan);
  server.join();
  CHECK(r.reached == ExchangeStage::done);
  CHECK(request == plan.request);
  CHECK(r.answer == hello);
  CHECK(r.first_bytes == hello);
  CHECK(r.complete);
  CHECK_FALSE(r.tls.has_value());
  CHECK_FALSE(r.proxy_answer.has_value());
  CHECK(r.elapsed_s >= 0);
}

TEST_CASE("a server that keeps the connection open after a whole answer: done, without waiting for the deadline") {
  const std::string framed = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
  const std::string chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
  const std::string empty = "HTTP/1.1 204 No Content\r\n\r\n";
  for (const std::string* answer : {&framed, &chunked, &empty}) {
    CAPTURE(*answer);
    bool client_closed = false;
    Server server([&](int fd) {
      read_head(fd);
      send_all(fd, *answer);
      // keep-alive: open until the client closes (recv 0), or this thread's own timeout (-1)
      std::array<char, 256> buf{};
      ssize_t n = 0;
      while ((n = ::recv(fd, buf.data(), buf.size(), 0)) > 0) {
      }
      client_closed = n == 0;
    });
    ExchangePlan plan = plan_to(server, false);
    plan.timeout_s = 30;
    const ExchangeResult r = run_exchange(plan);
    server.join();
    CHECK(client_closed);  // the client went first: it did not wait for the server to close
    CHECK(r.reached == ExchangeStage::done);
    CHECK(r.complete);
    CHECK_FALSE(r.timed_out);
    CHECK(r.answer == *answer);
  }
  // Without framing, only the close ends the body: the deadline does here.
  Server open_ended([&](int fd) {
    read_head(fd);
    send_all(fd, "HTTP/1.1 200 OK\r\n\r\nhel");
    drain(fd);
  });
  ExchangePlan plan = plan_to(open_ended, false);
  plan.timeout_s = 0.3;
  const ExchangeResult r = run_exchange(plan);
  open_ended.join();
  CHECK(r.timed_out);
  CHECK_FALSE(r.complete);
}

TEST_CASE("a server that accepts and never answers: timed out, at the stage it was in") {
  const Pki& p = pki();
  const X509Ptr leaf = p.leaf_by_root(p.leaf_spec());
  for (const bool tls : {false, true}) {
    CAPTURE(tls);
    Server server([](int fd) { drain(fd); });  // reads until the client gives up
    ExchangePlan plan = plan_to(server, tls);
    plan.timeout_s = 0.3;
    const ExchangeResult r = run_exchange(plan);
    server.join();
    CHECK(r.timed_out);
    CHECK(r.error_number == ETIMEDOUT);
    CHECK(r.reached == (tls ? ExchangeStage::tls_handshake : ExchangeStage::receive));
    CHECK_FALSE(r.complete);
  }
}

TEST_CASE("a closed port: ECONNREFUSED at connect") {
  // A socket bound to a port and not listening: a connect to it is refused
  // (and no other program can take the port meanwhile).
  const UniqueFd bound(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sin;
  REQUIRE(::bind(bound.get(), reinterpret_cast<sockaddr*>(&sin), len) == 0);
  REQUIRE(::getsockname(bound.get(), reinterpret_cast<sockaddr*>(&sin), &len) == 0);
  ExchangePlan plan;
  plan.address = *IpAddr::parse("127.0.0.1");
  plan.port = ntohs(sin.sin_port);
  plan.request = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  for (const bool tls : {false, true}) {
    plan.tls = tls;
    plan.tls_name = "localhost";
    const ExchangeResult r = run_exchange(plan);
    CHECK(r.reached == ExchangeStage::connect);
    CHECK(r.error_number == ECONNREFUSED);
    CHECK_FALSE(r.timed_out);
    CHECK_FALSE(r.tls.has_value());
  }
}

TEST_CASE("a peer that has gone: the send fails with EPIPE or ECONNRESET, and no SIGPIPE ends the process") {
  // The proxy answers CONNECT and closes: its FIN, then the reset for the
  // first request bytes that reach the closed socket. A send after that is
  // EPIPE, with a SIGPIPE unless MSG_NOSIGNAL (this thread does not block
  // it; without MSG_NOSIGNAL this test ends the binary with SIGPIPE);
  // ECONNRESET when the reset wins the race. 32 MiB can't all sit in the
  // socket buffers, so some send does fail.
  for (int i = 0; i < 3; ++i) {
    Server proxy([](int fd) {
      (void)read_head(fd);
      send_all(fd, "HTTP/1.1 200 Connection established\r\n\r\n");
    });
    ExchangePlan plan = plan_to(proxy, false);
    plan.connect_authority = "localhost:80";
    plan.request = "GET / HTTP/1.1\r\nHost: localhost\r\nX-Pad: " + std::string(32 << 20, 'a') + "\r\n\r\n";
    const ExchangeResult r = run_exchange(plan);
    proxy.join();
    CHECK(r.reached == ExchangeStage::send);
    CHECK((r.error_number == EPIPE || r.error_number == ECONNRESET));
    CHECK_FALSE(r.timed_out);
  }
}

TEST_CASE("an answer longer than the cap is cut there, not complete") {
  constexpr std::size_t cap = netwhy::http_max_head + netwhy::http_max_body;
  const std::string big = "HTTP/1.1 200 OK\r\nContent-Length: 200000\r\n\r\n" + std::string(200000, 'x');
  SUBCASE("http") {
    Server server([&](int fd) { serve_plain(fd, big); });
    const ExchangeResult r = run_exchange(plan_to(server, false));
    server.join();
    CHECK(r.reached == ExchangeStage::done);
    CHECK(r.answer.size() == cap);
    CHECK(r.answer == big.substr(0, cap));
    CHECK_FALSE(r.complete);
    CHECK(r.first_bytes == big.substr(0, netwhy::exchange_max_first_bytes));
  }
  SUBCASE("https") {
    const Pki& p = pki();
    const X509Ptr leaf = p.leaf_by_root(p.leaf_spec());
    Seen seen;
    const TlsServerSetup setup{leaf.get(), p.leaf_key.get(), {}, false};
    Server server([&](int fd) { serve_tls(fd, setup, big, seen); });
    const ExchangeResult r = run_exchange(plan_to(server, true));
    server.join();
    CHECK(r.reached == ExchangeStage::done);
    CHECK(r.answer == big.substr(0, cap));
    CHECK_FALSE(r.complete);
    CHECK(r.first_bytes.size() == netwhy::exchange_max_first_bytes);
  }
}

TEST_CASE("through a proxy: CONNECT, then TLS in the tunnel") {
  const Pki& p = pki();
  const X509Ptr leaf = p.leaf_by_root(p.leaf_spec());
  std::string connect;
  Seen seen;
  const TlsServerSetup setup{leaf.get(), p.leaf_key.get(), {}, false};
  // The proxy answers CONNECT and is the origin itself, so the test needs one thread.
  Server proxy([&](int fd) {
    connect = read_head(fd);
    send_all(fd, "HTTP/1.1 200 Connection established\r\n\r\n");
    serve_tls(fd, setup, hello, seen);
  });
  ExchangePlan plan = plan_to(proxy, true);
  plan.connect_authority = "localhost:443";
  const ExchangeResult r = run_exchange(plan);
  proxy.join();
  CHECK(connect == "CONNECT localhost:443 HTTP/1.1\r\nHost: localhost:443\r\nUser-Agent: netwhy/test\r\n\r\n");
  CHECK(r.reached == ExchangeStage::done);
  CHECK(r.proxy_answer == "HTTP/1.1 200 Connection established\r\n\r\n");
  CHECK(r.answer == hello);
  CHECK(netwhy::speaks(r.first_bytes) == Speaks::tls);  // after the tunnel: not the proxy's words
  REQUIRE(r.tls.has_value());
  CHECK(r.tls->problems.empty());
  CHECK(seen.sni == "localhost");
}

TEST_CASE("through a proxy: its bytes after the answer head are the tunnel's first bytes") {
  Server proxy([](int fd) {
    (void)read_head(fd);
    // One write: a 1xx, the answer, and the origin's banner right behind it.
    send_all(fd, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\nVia: test\n\nSSH-2.0-OpenSSH_9.2p1\r\n");
    finish(fd);
  });
  ExchangePlan plan = plan_to(proxy, false);
  plan.connect_authority = "[::1]:22";
  const ExchangeResult r = run_exchange(plan);
  proxy.join();
  CHECK(r.reached == ExchangeStage::done);
  CHECK(r.proxy_answer == "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\nVia: test\n\n");
  CHECK(r.first_bytes == "SSH-2.0-OpenSSH_9.2p1\r\n");
  CHECK(r.answer == "SSH-2.0-OpenSSH_9.2p1\r\n");
  CHECK(netwhy::speaks(r.first_bytes) == Speaks::other);
}

TEST_CASE("through a proxy that refuses: stopped at proxy_connect, with its answer") {
  const std::string forbidden = "HTTP/1.1 403 Forbidden\r\nServer: tinyproxy/1.11.1\r\nContent-Length: 9\r\n\r\n";
  SUBCASE("403") {
    Server proxy([&](int fd) {
      (void)read_head(fd);
      send_all(fd, forbidden + "Forbidden");
      finish(fd);
    });
    ExchangePlan plan = plan_to(proxy, true);
    plan.connect_authority = "localhost:443";
    const ExchangeResult r = run_exchange(plan);
    proxy.join();
    CHECK(r.reached == ExchangeStage::proxy_connect);
    CHECK(r.proxy_answer == forbidden);
    CHECK_FALSE(r.tls.has_value());
    CHECK(r.first_bytes.empty());
  }
  SUBCASE("closed without a word") {
    Server proxy([&](int fd) {
      (void)read_head(fd);
      finish(fd);
    });
    ExchangePlan plan = plan_to(proxy, true);
    plan.connect_authority = "localhost:443";
    const ExchangeResult r = run_exchange(plan);
    proxy.join();
    CHECK(r.reached == ExchangeStage::proxy_connect);
    CHECK(r.proxy_answer == "");
    CHECK(r.error_number == 0);
  }
  SUBCASE("silent: the deadline") {
    Server proxy([&](int fd) { drain(fd); });
    ExchangePlan plan = plan_to(proxy, true);
    plan.connect_authority = "localhost:443";
    plan.timeout_s = 0.3;
    const ExchangeResult r = run_exchange(plan);
    proxy.join();
    CHECK(r.reached == ExchangeStage::proxy_connect);
    CHECK(r.timed_out);
    CHECK(r.proxy_answer == "");
  }
  SUBCASE("a head without end, past the cap") {
    Server proxy([&](int fd) {
      (void)read_head(fd);
      send_all(fd, "HTTP/1.1 200 OK\r\nX: " + std::string(20000, 'a'));
      finish(fd);
    });
    ExchangePlan plan = plan_to(proxy, true);
    plan.connect_authority = "localhost:443";
    const ExchangeResult r = run_exchange(plan);
    proxy.join();
    CHECK(r.reached == ExchangeStage::proxy_connect);
    REQUIRE(r.proxy_answer.has_value());
    CHECK(r.proxy_answer->size() == netwhy::exchange_max_proxy_answer);
  }
}

TEST_CASE("this host's own trouble is a local error, and nothing is sent") {
  ExchangePlan plan;
  plan.address = *IpAddr::parse("127.0.0.1");
  plan.port = 9;  // never connected to: the checks come first
  plan.tls = true;
  plan.tls_name = "localhost";
  SUBCASE("a CA file that isn't there") {
    plan.ca_file = "/nonexistent/netwhy-ca.pem";
    const ExchangeResult r = run_exchange(plan);
    REQUIRE(r.local_error.has_value());
    CHECK(r.local_error->code == ENOENT);
    CHECK(r.local_error->message() == "read CA file /nonexistent/netwhy-ca.pem: No such file or directory");
    CHECK(r.reached == ExchangeStage::connect);
    CHECK(r.error_number == 0);
  }
  SUBCASE("a CA file without a certificate") {
    const char* tmp = std::getenv("TMPDIR");
    std::string path = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/netwhy-empty-XXXXXX";
    const UniqueFd fd(::mkstemp(path.data()));
    REQUIRE(fd.valid());
    plan.ca_file = path;
    const ExchangeResult r = run_exchange(plan);
    std::remove(path.c_str());
    REQUIRE(r.local_error.has_value());
    CHECK(r.local_error->kind == netwhy::ErrorKind::input);
  }
  SUBCASE("a CONNECT authority or User-Agent that would inject a header") {
    plan.tls = false;
    plan.connect_authority = "example.com:443\r\nX-Evil: 1";
    CHECK(run_exchange(plan).local_error.has_value());
    plan.connect_authority = "example.com:443";
    plan.user_agent = "netwhy\r\nX-Evil: 1";
    CHECK(run_exchange(plan).local_error.has_value());
    plan.connect_authority = "";
    plan.user_agent = "netwhy";
    CHECK(run_exchange(plan).local_error.has_value());
  }
}
