// code_table is the one list of finding codes: the man page's FINDINGS
// section, docs/json.md's finding-code table and the JSON schema's enum of
// codes (docs/netwhy.schema.json) must list exactly its codes.
// The source tree comes from NETWHY_SOURCE_DIR (set by meson for this test).
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "netwhy/findings.hpp"
#include "source_tree.hpp"

using namespace netwhy;

namespace {

std::string read_source(const std::string& rel) {
  return unittest::read_text(std::filesystem::path(unittest::source_dir()) / rel);
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// Every `open`NAME`close` in s, e.g. *code* or `code`.
std::vector<std::string> delimited(const std::string& s, char mark) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (true) {
    const std::size_t a = s.find(mark, pos);
    if (a == std::string::npos) break;
    const std::size_t b = s.find(mark, a + 1);
    if (b == std::string::npos) break;
    out.push_back(s.substr(a + 1, b - a - 1));
    pos = b + 1;
  }
  return out;
}

// scdoc: the FINDINGS section runs from "# FINDINGS" to the next "# "
// heading; each entry is a term line starting with *code* (several codes may
// share one entry: "*a*, *b*") followed by its text, indented with a tab.
std::vector<std::string> man_page_codes(const std::string& scd) {
  std::vector<std::string> codes;
  const std::vector<std::string> lines = lines_of(scd);
  bool inside = false;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    if (line.rfind("# ", 0) == 0) {
      inside = line == "# FINDINGS";
      continue;
    }
    const bool term = !line.empty() && line[0] == '*' && i + 1 < lines.size() && lines[i + 1].rfind('\t', 0) == 0;
    if (!inside || !term) continue;
    for (const std::string& c : delimited(line, '*')) codes.push_back(c);
  }
  return codes;
}

// docs/json.md: the table under "## Finding codes"; the first cell of each row
// names its code in backticks.
std::vector<std::string> json_doc_codes(const std::string& md) {
  std::vector<std::string> codes;
  bool inside = false;
  bool in_table = false;
  std::size_t row = 0;
  for (const std::string& line : lines_of(md)) {
    if (line.rfind("## ", 0) == 0) {
      if (inside && in_table) break;
      inside = line == "## Finding codes";
      continue;
    }
    if (!inside) continue;
    if (line.rfind('|', 0) != 0) {
      if (in_table) break;
      continue;
    }
    in_table = true;
    if (row++ < 2) continue;  // header and |---|
    const std::size_t end = line.find('|', 1);
    for (const std::string& c : delimited(line.substr(1, end == std::string::npos ? std::string::npos : end - 1), '`')) {
      codes.push_back(c);
    }
  }
  return codes;
}

std::string join(const std::set<std::string>& s) {
  std::string out;
  for (const std::string& x : s) out += (out.empty() ? "" : ", ") + x;
  return out.empty() ? "(none)" : out;
}

// Fails naming what each side has that the other doesn't, and duplicates.
void same_codes(const std::vector<std::string>& listed, const std::string& where) {
  std::set<std::string> table;
  for (const CodeInfo& c : code_table) table.insert(std::string(c.name));
  std::set<std::string> seen;
  std::set<std::string> twice;
  for (const std::string& c : listed) {
    if (!seen.insert(c).second) twice.insert(c);
  }
  std::set<std::string> missing;
  std::set<std::string> extra;
  for (const std::string& c : table) {
    if (seen.count(c) == 0) missing.insert(c);
  }
  for (const std::string& c : seen) {
    if (table.count(c) == 0) extra.insert(c);
  }
  INFO(where << " lists " << seen.size() << " codes; code_table has " << table.size());
  CHECK_MESSAGE(missing.empty(), "in code_table but not in " << where << ": " << join(missing));
  CHECK_MESSAGE(extra.empty(), "in " << where << " but not in code_table: " << join(extra));
  CHECK_MESSAGE(twice.empty(), "listed more than once in " << where << ": " << join(twice));
}

}  // namespace

TEST_CASE("every code's name is unique, and code_from_string gives back its code") {
  std::set<std::string_view> names;
  for (const CodeInfo& c : code_table) {
    CAPTURE(c.name);
    CHECK(names.insert(c.name).second);
    CHECK(!c.meaning.empty());
    CHECK(c.name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") == std::string_view::npos);
    const auto back = code_from_string(c.name);
    REQUIRE(back.has_value());
    CHECK(*back == c.code);
    CHECK(to_string(c.code) == c.name);
    CHECK(&info(c.code) == &c);
  }
  CHECK(!code_from_string("").has_value());
  CHECK(!code_from_string("no-such-code").has_value());
  CHECK(!code_from_string("Not-Listening").has_value());
}

TEST_CASE("the man page's FINDINGS section lists exactly the codes of code_table") {
  const std::vector<std::string> codes = man_page_codes(read_source("man/netwhy.1.scd"));
  REQUIRE_MESSAGE(!codes.empty(), "no *code* entries under # FINDINGS in man/netwhy.1.scd");
  same_codes(codes, "man/netwhy.1.scd (FINDINGS)");
}

TEST_CASE("docs/json.md's finding-code table lists exactly the codes of code_table") {
  const std::vector<std::string> codes = json_doc_codes(read_source("docs/json.md"));
  REQUIRE_MESSAGE(!codes.empty(), "no table rows under \"## Finding codes\" in docs/json.md");
  same_codes(codes, "docs/json.md (Finding codes)");
}

TEST_CASE("docs/netwhy.schema.json's enum of finding codes is code_table, in its order") {
  const auto schema = nlohmann::json::parse(read_source("docs/netwhy.schema.json"), nullptr, false);
  REQUIRE_MESSAGE(!schema.is_discarded(), "docs/netwhy.schema.json is not JSON");
  const nlohmann::json::json_pointer where("/$defs/finding_code/enum");
  REQUIRE_MESSAGE(schema.contains(where), "docs/netwhy.schema.json has no #/$defs/finding_code/enum");
  const nlohmann::json& listed = schema.at(where);
  REQUIRE(listed.is_array());
  std::vector<std::string> codes;
  for (const auto& c : listed) {
    REQUIRE(c.is_string());
    codes.push_back(c.get<std::string>());
  }
  same_codes(codes, "docs/netwhy.schema.json (#/$defs/finding_code)");
  std::vector<std::string> in_order;
  for (const CodeInfo& c : code_table) in_order.emplace_back(c.name);
  CHECK_MESSAGE(codes == in_order, "docs/netwhy.schema.json lists the codes in another order than code_table");
}

TEST_CASE("docs/netwhy.schema.json's severities are those of Severity") {
  const auto schema = nlohmann::json::parse(read_source("docs/netwhy.schema.json"), nullptr, false);
  REQUIRE(!schema.is_discarded());
  const nlohmann::json::json_pointer where("/$defs/severity/enum");
  REQUIRE(schema.contains(where));
  std::vector<std::string> listed;
  for (const auto& s : schema.at(where)) listed.push_back(s.get<std::string>());
  const std::vector<std::string> severities{std::string(to_string(Severity::error)),
                                            std::string(to_string(Severity::warning)),
                                            std::string(to_string(Severity::info))};
  CHECK(listed == severities);
}

TEST_CASE("the parsers find codes where the documents put them") {
  SUBCASE("man page: entries in FINDINGS only, shared entries split") {
    const std::string scd =
        "# OPTIONS\n\n*-j*\n\tJSON.\n\n# FINDINGS\n\nEach finding has a\n*code* and a fix.\n\n*not-listening*\n"
        "\tNothing listens, *not* a code.\n\n*firewall-drop*, *firewall-reject*\n\tA rule.\n\n# EXIT STATUS\n\n*0*\n";
    CHECK(man_page_codes(scd) == std::vector<std::string>{"not-listening", "firewall-drop", "firewall-reject"});
  }
  SUBCASE("json.md: first cells of the table under ## Finding codes") {
    const std::string md =
        "## Verdicts\n\n| verdict | exit |\n|---|---|\n| `reachable` | 0 |\n\n## Finding codes\n\ntext `x`\n\n"
        "| code | severity | meaning |\n|---|---|---|\n| `not-listening` | error | nothing on `PORT` |\n"
        "| `v6only` | warning | IPV6_V6ONLY |\n\nAfter the table: `other`.\n";
    CHECK(json_doc_codes(md) == std::vector<std::string>{"not-listening", "v6only"});
  }
}
