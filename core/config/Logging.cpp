// Logging: a Poco Formatter producing the platform's line formats.
#include "core/config/Logging.h"

#include <Poco/AutoPtr.h>
#include <Poco/ConsoleChannel.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/Formatter.h>
#include <Poco/FormattingChannel.h>
#include <Poco/Logger.h>
#include <Poco/Message.h>

#include <nlohmann/json.hpp>

namespace archestra::config {

namespace {

thread_local std::string tlsRequestId;

const char* levelName(Poco::Message::Priority priority) {
    switch (priority) {
        case Poco::Message::PRIO_TRACE:
            return "trace";
        case Poco::Message::PRIO_DEBUG:
            return "debug";
        case Poco::Message::PRIO_INFORMATION:
        case Poco::Message::PRIO_NOTICE:
            return "info";
        case Poco::Message::PRIO_WARNING:
            return "warn";
        case Poco::Message::PRIO_ERROR:
            return "error";
        default:
            return "fatal";
    }
}

class LineFormatter : public Poco::Formatter {
  public:
    explicit LineFormatter(bool json) : _json(json) {}

    void format(const Poco::Message& message, std::string& text) override {
        std::string time = Poco::DateTimeFormatter::format(message.getTime(), "%Y-%m-%dT%H:%M:%S.%iZ");
        if (_json) {
            nlohmann::json line = {{"time", time},
                                   {"level", levelName(message.getPriority())},
                                   {"component", message.getSource()},
                                   {"msg", message.getText()}};
            if (!tlsRequestId.empty()) line["requestId"] = tlsRequestId;
            text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
            return;
        }
        text.reserve(64 + message.getText().size());
        text = time;
        text += ' ';
        std::string level = levelName(message.getPriority());
        level.resize(5, ' ');
        text += level;
        text += " [";
        text += message.getSource();
        text += ']';
        if (!tlsRequestId.empty()) {
            text += " (req ";
            text += tlsRequestId;
            text += ')';
        }
        text += ' ';
        text += message.getText();
    }

  private:
    bool _json;
};

}  // namespace

int logPriority(const std::string& level) {
    if (level == "trace") return Poco::Message::PRIO_TRACE;
    if (level == "debug") return Poco::Message::PRIO_DEBUG;
    if (level == "warn") return Poco::Message::PRIO_WARNING;
    if (level == "error") return Poco::Message::PRIO_ERROR;
    if (level == "fatal") return Poco::Message::PRIO_FATAL;
    return Poco::Message::PRIO_INFORMATION;
}

void configureLogging(const std::string& level, const std::string& format) {
    Poco::AutoPtr<Poco::ConsoleChannel> console(new Poco::ConsoleChannel);
    Poco::AutoPtr<LineFormatter> formatter(new LineFormatter(format == "json"));
    Poco::AutoPtr<Poco::FormattingChannel> channel(new Poco::FormattingChannel(formatter, console));
    int priority = logPriority(level);
    Poco::Logger::root().setChannel(channel);
    Poco::Logger::root().setLevel(priority);
    // Loggers created before this call (e.g. by static objects) keep their own settings: update them all.
    Poco::Logger::setChannel("", channel);
    Poco::Logger::setLevel("", priority);
}

void setCurrentRequestId(const std::string& id) {
    tlsRequestId = id;
}
const std::string& currentRequestId() {
    return tlsRequestId;
}

}  // namespace archestra::config
