// Telemetry wiring: the platform gauges (interaction log, upstream pool, plugins, database pool, listeners)
// and the start of the export/analytics threads; kept here because only the app sees every module.
#pragma once

#include "core/app/Platform.h"

namespace archestra::app {

/// Registers gauges read at scrape time over the modules the platform has built so far.
void addTelemetryGauges(Platform& platform);
/// Starts the telemetry export thread and analytics (start-up event with enabled features, daily counts).
void startTelemetry(Platform& platform);

/// archestra_http_pool_threads{listener,state}: each listener's pool, so that threads outside the pools (a
/// leak) can be told from pool growth (bounded). Called once the listeners have started.
void addListenerGauges(Platform& platform);

}  // namespace archestra::app
