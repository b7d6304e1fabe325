// The human-facing renderings of a report.json.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace moecheck::report {

using json = nlohmann::ordered_json;

// The summary a CI job page or a pull-request comment shows.
std::string render_markdown(const json& report);
// One self-contained page: Vega, Vega-Lite and vega-embed inlined (vendored
// in reports/assets/, embedded at build time), the report JSON inlined, the
// charts built in the page. Opens offline.
std::string render_html(const json& report);

}  // namespace moecheck::report
