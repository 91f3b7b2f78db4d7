// What to type so a listener accepts connections from other hosts, in the
// words of the program that holds it.

#include <fmt/format.h>

#include "netwhy/diagnose.hpp"
#include "netwhy/text.hpp"

namespace netwhy {

namespace {

bool contains(std::string_view hay, std::string_view needle) { return hay.find(needle) != std::string_view::npos; }

// "app:app" in "gunicorn -w 3 -b 127.0.0.1:8000 app:app": the WSGI/ASGI target.
std::string app_spec(std::string_view cmdline) {
  const auto w = split_fields(cmdline);
  for (std::size_t i = 0; i < w.size(); ++i) {
    const std::string_view a = w[i];
    if (a.empty() || a[0] == '-' || a.find(':') == std::string_view::npos || a.find('/') != std::string_view::npos) {
      continue;
    }
    if (i > 0 && (w[i - 1] == "-b" || w[i - 1] == "--bind")) continue;  // the address
    if (a.find_first_not_of("0123456789.:[]") == std::string_view::npos) continue;
    return std::string(a);
  }
  return "app:app";
}

// The script a Python process runs: "app.py" in "python3 app.py".
std::string script(std::string_view cmdline) {
  for (const std::string_view w : split_fields(cmdline)) {
    if (w.size() > 3 && w.substr(w.size() - 3) == ".py") return std::string(w);
  }
  return "your app";
}

std::string workers_option(std::string_view cmdline) {
  const auto w = split_fields(cmdline);
  for (std::size_t i = 0; i + 1 < w.size(); ++i) {
    if (w[i] == "-w" || w[i] == "--workers") return fmt::format(" -w {}", w[i + 1]);
  }
  return "";
}

}  // namespace

std::string fix_to_listen_everywhere(const Listener& l, std::uint16_t port, bool in_container) {
  const Process* p = main_process(l);
  const std::string comm = p != nullptr ? p->comm : "";
  const std::string cmd = p != nullptr ? p->cmdline : "";
  const bool python = comm.rfind("python", 0) == 0 || contains(cmd, "python");
  // Inside a container, 0.0.0.0 is the container's own addresses: only the
  // published ports reach it.
  const std::string_view dev_server =
      in_container ? ""
                   : " (this exposes it to every network the host is on: fine for a test box, not for a development "
                     "server on an untrusted network)";
  const std::string_view exposes = in_container ? "" : " (this exposes it to every network the host is on)";
  const std::string who = p != nullptr && !comm.empty() ? comm : "the server";
  const std::string generic = fmt::format(
      "make {} listen on 0.0.0.0 (every IPv4 address) or :: (every address){}: look for its host, bind or listen "
      "setting{}",
      who, in_container ? " inside the container" : "", exposes);
  // The programs below serve TCP; a UDP socket gets the generic words.
  if (l.socket.protocol == Protocol::udp) return generic;
  if (comm == "gunicorn" || contains(cmd, "gunicorn")) {
    return fmt::format("gunicorn{} -b 0.0.0.0:{} {}{}", workers_option(cmd), port, app_spec(cmd), exposes);
  }
  if (comm == "uvicorn" || contains(cmd, "uvicorn")) {
    return fmt::format("uvicorn {} --host 0.0.0.0 --port {}{}", app_spec(cmd), port, dev_server);
  }
  if (contains(cmd, "flask run") || contains(cmd, "-m flask")) {
    return fmt::format("flask run --host 0.0.0.0 --port {}{}", port, dev_server);
  }
  if (contains(cmd, "runserver")) {
    return fmt::format("python manage.py runserver 0.0.0.0:{}{}", port, dev_server);
  }
  if (contains(cmd, "http.server")) {
    return fmt::format("python3 -m http.server {} --bind 0.0.0.0{}", port, dev_server);
  }
  if (p != nullptr && p->framework == "flask") {
    return fmt::format("app.run(host=\"0.0.0.0\", port={}) in {}, or flask run --host 0.0.0.0{}", port,
                       script(cmd), dev_server);
  }
  if (python) {
    // Not identified: no framework's words, only the script's name.
    return fmt::format("make {} ({}) listen on 0.0.0.0 (every IPv4 address) or :: (every address): look for the "
                       "address it binds or its host setting{}",
                       comm.empty() ? "python" : comm, script(cmd), exposes);
  }
  if (comm == "node" || comm == "nodejs" || contains(cmd, "node ")) {
    return fmt::format("server.listen({}, \"0.0.0.0\") (or leave the host out to listen on every address){}", port,
                       dev_server);
  }
  if ((comm == "java" || contains(cmd, "java")) && (contains(cmd, "catalina") || contains(cmd, "tomcat"))) {
    return fmt::format("in Tomcat's conf/server.xml, set address=\"0.0.0.0\" on <Connector port=\"{}\"> (or remove "
                       "the address attribute), then restart Tomcat{}",
                       port, exposes);
  }
  if ((comm == "java" || contains(cmd, "java")) && contains(cmd, "jetty")) {
    return fmt::format("start Jetty with jetty.http.host=0.0.0.0 (in start.d/http.ini, or -Djetty.http.host=0.0.0.0), "
                       "or leave the host unset{}",
                       exposes);
  }
  if ((comm == "java" || contains(cmd, "java")) && (contains(cmd, "spring") || contains(cmd, "-jar"))) {
    return fmt::format("set server.address=0.0.0.0 (or remove server.address) in application.properties, or start "
                       "it with --server.address=0.0.0.0 (Spring Boot){}",
                       exposes);
  }
  if (comm == "nginx" || contains(cmd, "nginx")) {
    return fmt::format("listen {}; (not listen 127.0.0.1:{};) in the server block, then nginx -s reload{}", port, port,
                       exposes);
  }
  // The loopback address and port written on its command line
  // ("httpd -p 127.0.0.1:80"): the same command with 0.0.0.0.
  for (const std::string_view host : {"127.0.0.1:", "localhost:", "[::1]:"}) {
    const std::string bound = fmt::format("{}{}", host, port);
    const std::size_t at = cmd.find(bound);
    const bool whole = at != std::string::npos &&
                       (at + bound.size() == cmd.size() || cmd[at + bound.size()] == ' ') &&
                       (at == 0 || cmd[at - 1] == ' ' || cmd[at - 1] == '=');
    if (!whole) continue;
    std::string rewritten = cmd;
    rewritten.replace(at, bound.size(), fmt::format("0.0.0.0:{}", port));
    return fmt::format("run it as {} (its command line binds {}){}", rewritten, bound, exposes);
  }
  return generic;
}

}  // namespace netwhy
