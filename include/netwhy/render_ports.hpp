// `netwhy ports`: listeners as a table a person reads at a glance, and as
// the JSON objects of the contract (src/render/ports.cpp).
#pragma once

#include <string>
#include <vector>

#include "netwhy/color.hpp"
#include "netwhy/json_writer.hpp"
#include "netwhy/listener.hpp"

namespace netwhy {

// How the processes of one socket read in a table: "gunicorn(256) +3 workers".
[[nodiscard]] std::string describe_processes(const std::vector<Process>& procs);

void render_listeners_json(JsonWriter& out, const std::vector<Listener>& listeners);
[[nodiscard]] std::string render_listeners_text(const std::vector<Listener>& listeners, const Palette& palette);

}  // namespace netwhy
