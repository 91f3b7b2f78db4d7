#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "netwhy/render_diagnosis.hpp"
#include "snapshot_builder.hpp"

using namespace snaptest;

TEST_CASE("diagnosis JSON follows the contract") {
  Host h;
  h.listen("127.0.0.1", 8000, {proc(256, 1, "gunicorn", "gunicorn app:app")});
  const auto d = diagnose(h.s, query(8000, "localhost", {"127.0.0.1"}));
  JsonWriter w(JsonStyle::compact);
  render_diagnosis_json(w, d);
  const auto doc = nlohmann::json::parse(w.text());
  CHECK(doc["query"]["port"] == 8000);
  CHECK(doc["query"]["protocol"] == "tcp");
  CHECK(doc["query"]["host"] == "localhost");
  CHECK(doc["query"]["addresses"] == nlohmann::json({"127.0.0.1"}));
  CHECK(doc["verdict"] == "reachable");
  CHECK(doc["listeners"][0]["local_address"] == "127.0.0.1");
  const auto& e = doc["endpoints"][0];
  CHECK(e["address"] == "127.0.0.1");
  CHECK(e["family"] == "inet");
  CHECK(e["interface"] == "lo");
  CHECK(e["local"] == true);
  CHECK(e["remote"] == false);
  CHECK(e["listener"] == 0);
  for (const auto& f : doc["findings"]) {
    CHECK(f["code"].is_string());
    CHECK((f["severity"] == "error" || f["severity"] == "warning" || f["severity"] == "info"));
    CHECK(f["message"].is_string());
    CHECK((f["fix"].is_string() || f["fix"].is_null()));
  }
  CHECK(doc["endpoints"][1]["listener"].is_null());
}

TEST_CASE("diagnosis text: the verdict first, the table, the findings; hostile names escaped") {
  Host h;
  h.listen("127.0.0.1", 8000, {proc(256, 1, "\x1b]0;evil\x07", "x")});
  const auto d = diagnose(h.s, query(8000));
  const std::string text = render_diagnosis_text(d, Palette{});
  CHECK(text.rfind("\\x1b]0;evil\\x07 (pid 256) listens on 127.0.0.1:8000 only", 0) == 0);
  CHECK(text.find('\x1b') == std::string::npos);
  CHECK(text.find("  Address    Interface  This host  Other hosts\n") != std::string::npos);
  CHECK(text.find("  10.0.2.15  eth0       no         no\n") != std::string::npos);
  CHECK(text.find("error   bound-to-loopback: ") != std::string::npos);
  CHECK(text.find("        fix: make ") != std::string::npos);
}
