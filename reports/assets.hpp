// The page template, its script and the vendored Vega libraries, embedded at
// build time by embed_assets.cmake (versions and licenses: assets/README.md).
#pragma once

#include <string_view>

namespace moecheck::report::assets {

extern const std::string_view kPageHtml;
extern const std::string_view kPageJs;
extern const std::string_view kVegaJs;
extern const std::string_view kVegaLiteJs;
extern const std::string_view kVegaEmbedJs;

}  // namespace moecheck::report::assets
