// Incremental SSE parser: splits a byte stream into events while keeping each event's exact bytes.
#include "core/proxy/sse/SseParser.h"

#include <Poco/Exception.h>

#include <charconv>
#include <cstring>

namespace archestra::proxy {

SseParser::SseParser(std::size_t maxEventBytes) : _maxEventBytes(maxEventBytes) {}

std::vector<SseEvent> SseParser::feed(std::string_view chunk) {
    std::vector<SseEvent> out;
    feed(chunk, out);
    return out;
}

std::vector<SseEvent> SseParser::finish() {
    std::vector<SseEvent> out;
    finish(out);
    return out;
}

void SseParser::feed(std::string_view chunk, std::vector<SseEvent>& out) {
    _buffer.append(chunk);
    scan(false, out);
    // Checked after dispatching so a chunk carrying many small complete events is never refused.
    if (_buffer.size() > _maxEventBytes) {
        std::size_t size = _buffer.size();
        _buffer.clear();
        _scanPos = 0;
        _current = SseEvent{};
        throw Poco::DataFormatException("SSE event exceeds the size limit",
                                        std::to_string(size) + " bytes > " + std::to_string(_maxEventBytes));
    }
}

void SseParser::finish(std::vector<SseEvent>& out) {
    scan(true, out);
    if (_scanPos < _buffer.size()) {
        // Unterminated last line: treat end of stream as its terminator.
        processLine(std::string_view(_buffer).substr(_scanPos));
        _scanPos = _buffer.size();
    }
    if (!_buffer.empty()) dispatch(_buffer.size(), out);
    _streamStart = true;
}

void SseParser::scan(bool atEnd, std::vector<SseEvent>& out) {
    if (_streamStart) {
        constexpr std::string_view kBom = "\xEF\xBB\xBF";
        std::string_view head = std::string_view(_buffer).substr(0, 3);
        if (head == kBom) {
            _scanPos = 3;
        } else if (!atEnd && (head.empty() || kBom.substr(0, head.size()) == head)) {
            return;  // could still become a BOM
        }
        _streamStart = false;
    }

    while (_scanPos < _buffer.size()) {
        // The first '\r' or '\n': memchr for the '\n', then for a '\r' before it (rare: CR and CRLF line
        // ends). Two vectorised scans per line; a byte loop cost ~8 instructions per byte of every stream,
        // and find_first_of("\r\n") calls memchr over the two-character set once per byte.
        const char* begin = _buffer.data() + _scanPos;
        const std::size_t left = _buffer.size() - _scanPos;
        const auto* lf = static_cast<const char*>(std::memchr(begin, '\n', left));
        const std::size_t beforeLf = lf ? static_cast<std::size_t>(lf - begin) : left;
        const auto* cr = static_cast<const char*>(std::memchr(begin, '\r', beforeLf));
        const std::size_t eol = _scanPos + (cr ? static_cast<std::size_t>(cr - begin) : beforeLf);
        if (eol == _buffer.size()) return;
        std::size_t next = eol + 1;
        if (_buffer[eol] == '\r') {
            if (next == _buffer.size() && !atEnd) return;  // '\n' may be in the next chunk
            if (next < _buffer.size() && _buffer[next] == '\n') ++next;
        }
        std::string_view line = std::string_view(_buffer).substr(_scanPos, eol - _scanPos);
        if (line.empty()) {
            dispatch(next, out);
        } else {
            processLine(line);
            _scanPos = next;
        }
    }
}

void SseParser::processLine(std::string_view line) {
    if (line.front() == ':') return;  // comment
    std::string_view name = line;
    std::string_view value;
    if (auto colon = line.find(':'); colon != std::string_view::npos) {
        name = line.substr(0, colon);
        value = line.substr(colon + 1);
        if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    }
    if (name == "data") {
        if (_current.hasData) _current.data.push_back('\n');
        _current.data.append(value);
        _current.hasData = true;
    } else if (name == "event") {
        _current.event.assign(value);
    } else if (name == "id") {
        if (value.find('\0') == std::string_view::npos) _current.id.assign(value);
    } else if (name == "retry") {
        long retry = 0;
        auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), retry);
        if (ec == std::errc() && ptr == value.data() + value.size() && !value.empty())
            _current.retry_ms = retry;
    }
    // Unknown fields are ignored, as the format requires; they stay in raw.
}

void SseParser::dispatch(std::size_t rawEnd, std::vector<SseEvent>& out) {
    _current.raw.assign(_buffer, 0, rawEnd);
    out.push_back(std::move(_current));
    _current = SseEvent{};
    _buffer.erase(0, rawEnd);
    _scanPos = 0;
}

std::string formatSseEvent(std::string_view eventName, std::string_view data, std::string_view lineEnding) {
    std::string out;
    out.reserve(data.size() + eventName.size() + 16);
    if (!eventName.empty()) {
        out.append("event: ").append(eventName).append(lineEnding);
    }
    std::size_t start = 0;
    while (true) {
        std::size_t nl = data.find('\n', start);
        out.append("data: ").append(data.substr(start, nl == std::string_view::npos ? nl : nl - start));
        out.append(lineEnding);
        if (nl == std::string_view::npos) break;
        start = nl + 1;
    }
    out.append(lineEnding);
    return out;
}

std::string_view sseLineEnding(std::string_view raw) {
    std::size_t pos = raw.find_first_of("\r\n");
    if (pos == std::string_view::npos || raw[pos] == '\n') return "\n";
    if (pos + 1 < raw.size() && raw[pos + 1] == '\n') return "\r\n";
    return "\r";
}

}  // namespace archestra::proxy
