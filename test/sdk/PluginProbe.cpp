// Test helper for the out-of-tree SDK test: loads a plugin directory, prints the plugin table, and exports
// one span through the selected telemetry plugin. Usage: archestra_plugin_probe <plugin dir> <data dir>
// <name> <config>
#include <Poco/AutoPtr.h>
#include <Poco/ConsoleChannel.h>
#include <Poco/Logger.h>

#include <iostream>

#include "core/plugins/HostServices.h"
#include "core/plugins/PluginManager.h"

int main(int argc, char** argv) {
    if (argc != 5) {
        std::cerr << "usage: " << argv[0]
                  << " <plugin dir> <data dir> <telemetry plugin name> <config json>\n";
        return 2;
    }
    Poco::Logger::root().setChannel(Poco::AutoPtr<Poco::Channel>(new Poco::ConsoleChannel(std::cerr)));
    archestra::plugins::HostServices host(argv[2]);
    archestra::plugins::PluginManager manager(host);
    const std::string name = argv[3];
    try {
        manager.loadDirectories({argv[1]}, {"telemetry." + name});
    } catch (const archestra::plugins::PluginException& e) {
        std::cout << archestra::plugins::formatPluginTable(manager.records());
        std::cerr << "load failed: " << e.message() << "\n";
        return 1;
    }
    std::cout << archestra::plugins::formatPluginTable(manager.records());
    auto exporter = manager.createTelemetry(name, argv[4]);
    if (!exporter.ok()) {
        std::cerr << "create failed: " << exporter.error().message << "\n";
        return 1;
    }
    archestra::sdk::Span span;
    span.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    span.span_id = "00f067aa0ba902b7";
    span.name = "oot.span";
    span.start_unix_nanos = 1700000000000000000;
    span.end_unix_nanos = 1700000000500000000;
    span.attributes_json["llm.model"] = "\"gpt-4o\"";
    span.status = archestra::sdk::SpanStatus::Ok;
    auto status = exporter.value()->exportSpans({span});
    if (!status.ok()) {
        std::cerr << "export failed: " << status.error().message << "\n";
        return 1;
    }
    return 0;
}
