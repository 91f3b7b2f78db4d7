// netwhy port: the verdict in words, the per-address table, the findings and
// their fixes; and the contract's JSON object.
#pragma once

#include <string>
#include <string_view>

#include "netwhy/color.hpp"
#include "netwhy/diagnose.hpp"
#include "netwhy/json_writer.hpp"

namespace netwhy {

void render_diagnosis_json(JsonWriter& out, const Diagnosis& d);
// The object's fields without its braces, for an object that adds its own (url's `http`).
void render_diagnosis_fields(JsonWriter& out, const Diagnosis& d);
// `section`: lines (already escaped and painted) shown between the address
// table and the findings (url's request, TLS and answer).
[[nodiscard]] std::string render_diagnosis_text(const Diagnosis& d, const Palette& palette,
                                                std::string_view section = {});

}  // namespace netwhy
