#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "netwhy/json_writer.hpp"

using netwhy::JsonStyle;
using netwhy::JsonWriter;

TEST_CASE("compact output is ip -j's spelling, keys in written order") {
  JsonWriter w(JsonStyle::compact);
  w.begin_array();
  w.begin_object();
  w.field("ifindex", 1);
  w.field("ifname", "lo");
  w.key("flags");
  w.begin_array();
  w.value("LOOPBACK");
  w.value("UP");
  w.end_array();
  w.field("valid_life_time", std::uint64_t{4294967295U});
  w.null_field("link");
  w.field("up", true);
  w.key("addr_info");
  w.begin_array();
  w.end_array();
  w.end_object();
  w.end_array();
  CHECK(w.text() ==
        R"([{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP"],"valid_life_time":4294967295,"link":null,"up":true,"addr_info":[]}])"
        "\n");
}

TEST_CASE("pretty output parses to the same document") {
  JsonWriter compact(JsonStyle::compact);
  JsonWriter pretty(JsonStyle::pretty);
  for (JsonWriter* w : {&compact, &pretty}) {
    w->begin_object();
    w->field("a", -5);
    w->key("b");
    w->begin_array();
    w->begin_object();
    w->end_object();
    w->value(std::uint64_t{7});
    w->end_array();
    w->end_object();
  }
  CHECK(pretty.text().find('\n') < pretty.text().size() - 1);
  CHECK(nlohmann::json::parse(compact.text()) == nlohmann::json::parse(pretty.text()));
}

TEST_CASE("strings from the system are escaped and made valid UTF-8") {
  JsonWriter w(JsonStyle::compact);
  w.begin_array();
  w.value("quote\" back\\ nl\n esc\x1b[31m tab\t");
  w.value("\xff\xfe" "bad");
  w.value("caf\xc3\xa9");
  w.value(std::string_view("nul\0!", 5));
  w.end_array();
  CHECK(w.text() ==
        "[\"quote\\\" back\\\\ nl\\n esc\\u001b[31m tab\\t\",\"\xef\xbf\xbd\xef\xbf\xbd" "bad\",\"caf\xc3\xa9\","
        "\"nul\\u0000!\"]\n");
  const auto doc = nlohmann::json::parse(w.text());  // throws on invalid UTF-8
  CHECK(doc[0] == "quote\" back\\ nl\n esc\x1b[31m tab\t");
  CHECK(doc[3].get<std::string>().size() == 5);
}
