// netwhy url: the port's diagnosis with the request, the TLS facts and the
// answer; and the contract's JSON object with its `http` section.
#pragma once

#include <string>

#include "netwhy/color.hpp"
#include "netwhy/http_diagnosis.hpp"
#include "netwhy/json_writer.hpp"

namespace netwhy {

void render_url_json(JsonWriter& out, const UrlDiagnosis& u);
[[nodiscard]] std::string render_url_text(const UrlDiagnosis& u, const Palette& palette);

}  // namespace netwhy
