# The libFuzzer targets: one line each. Read by both the clang fuzz project (out-of-tree/) and the main build
# (which registers a CTest run per target).
#
# archestra_fuzz_target(<name> SOURCE <harness, relative to test/fuzz> CORE <globs of core sources, relative
#                       to the repo root> [LINK <imported targets, e.g. Poco::Foundation>])
# Seeds live in test/fuzz/corpus/<name without "fuzz_">/, an optional dictionary in test/fuzz/dict/<same>.dict.

archestra_fuzz_target(fuzz_policy SOURCE targets/PolicyFuzz.cpp CORE core/policy/*.cpp)
archestra_fuzz_target(fuzz_proxy SOURCE targets/ProxyFuzz.cpp CORE core/proxy/sse/*.cpp core/proxy/adapters/*.cpp
                      core/proxy/JsonParse.cpp core/proxy/JsonLocate.cpp core/proxy/ToonScan*.cpp
                      core/util/JsonString.cpp LINK Poco::Foundation simdjson::simdjson)
archestra_fuzz_target(fuzz_config SOURCE targets/ConfigFuzz.cpp CORE core/config/Settings.cpp core/plugins/Manifest.cpp
                      core/plugins/ConfigSchema.cpp
                      LINK Poco::Foundation Poco::Util)
archestra_fuzz_target(fuzz_http SOURCE targets/HttpFuzz.cpp CORE core/http/Router.cpp core/http/BodyValidator.cpp
                      core/gateway/JsonRpc.cpp LINK Poco::Foundation Poco::Net)
archestra_fuzz_target(fuzz_toon SOURCE targets/ToonFuzz.cpp CORE core/proxy/Toon.cpp core/proxy/ToonCompression.cpp core/proxy/ToonScan*.cpp
                      core/util/JsonString.cpp core/proxy/adapters/*.cpp core/proxy/sse/*.cpp core/proxy/JsonParse.cpp
                      core/proxy/JsonLocate.cpp LINK Poco::Foundation simdjson::simdjson)
archestra_fuzz_target(fuzz_json_array SOURCE targets/JsonArrayFuzz.cpp CORE core/proxy/sse/*.cpp
                      LINK Poco::Foundation)
archestra_fuzz_target(fuzz_mcp SOURCE targets/McpFuzz.cpp CORE core/mcp/McpClient.cpp
                      LINK Poco::Foundation Poco::Net Poco::NetSSL)
