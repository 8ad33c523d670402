// Logging: one line per event (text or JSON) with timestamp, level, component and request id.
#pragma once

#include <string>

namespace archestra::config {

/// Configures Poco's root logger. `level` is one of trace, debug, info, warn, error, fatal; `format`
/// text|json.
void configureLogging(const std::string& level, const std::string& format);

/// The request id of the request the current thread is serving (empty outside requests).
void setCurrentRequestId(const std::string& id);
const std::string& currentRequestId();

/// Poco priority for one of our level names (trace..fatal); information when unknown.
int logPriority(const std::string& level);

}  // namespace archestra::config
