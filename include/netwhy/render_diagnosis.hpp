// netwhy port: the verdict in words, the per-address table, the findings and
// their fixes; and the contract's JSON object.
#pragma once

#include <string>

#include "netwhy/color.hpp"
#include "netwhy/diagnose.hpp"
#include "netwhy/json_writer.hpp"

namespace netwhy {

void render_diagnosis_json(JsonWriter& out, const Diagnosis& d);
[[nodiscard]] std::string render_diagnosis_text(const Diagnosis& d, const Palette& palette);

}  // namespace netwhy
