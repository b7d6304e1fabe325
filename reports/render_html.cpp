// report.html: the template with the libraries, the page script and the
// report JSON inlined. Nothing is fetched: it opens offline.
#include <string>

#include <stdexcept>
#include "reports/assets.hpp"
#include "reports/render.hpp"

namespace moecheck::report {
namespace {

void replace_once(std::string& s, std::string_view marker, const std::string& with) {
  const size_t at = s.find(marker);
  if (at == std::string::npos) throw std::logic_error("report template lacks " + std::string(marker));
  s.replace(at, marker.size(), with);
}

// Inside <script>, "</script" or "<!--" would change how the HTML parser
// reads the element. In JSON "<" can only occur inside strings, where
// "\u003c" is the same character.
std::string script_safe(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) c == '<' ? out += "\\u003c" : out += c;
  return out;
}

std::string script(std::string_view name, std::string_view body) {
  return "<script data-asset=\"" + std::string(name) + "\">\n" + std::string(body) + "\n</script>\n";
}

}  // namespace

std::string render_html(const json& report) {
  std::string page(assets::kPageHtml);
  // The JSON marker precedes the scripts in the template, so neither
  // replacement can match inside the other's text.
  replace_once(page, "<!--@SCRIPTS@-->",
               script("vega", assets::kVegaJs) + script("vega-lite", assets::kVegaLiteJs) +
                   script("vega-embed", assets::kVegaEmbedJs) + script("moecheck-report", assets::kPageJs));
  replace_once(page, "@REPORT_JSON@", script_safe(report.dump()));
  return page;
}

}  // namespace moecheck::report
