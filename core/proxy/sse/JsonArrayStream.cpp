// JsonArrayStream: framing of a streamed JSON array, element by element (see JsonArrayStream.h).
#include "core/proxy/sse/JsonArrayStream.h"

#include <Poco/Exception.h>

namespace archestra::proxy {

namespace {
bool blank(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}
}  // namespace

JsonArrayStream::JsonArrayStream(std::size_t maxElementBytes) : _maxElementBytes(maxElementBytes) {}

void JsonArrayStream::emit(std::size_t end, bool element, std::vector<SseEvent>& out) {
    SseEvent event;
    event.jsonArrayElement = true;
    event.raw = _pending.substr(0, end);
    if (element) {
        event.data = _pending.substr(_elementStart, end - _elementStart);
        event.hasData = true;
    }
    out.push_back(std::move(event));
    _pending.erase(0, end);
    _elementStart = 0;
}

void JsonArrayStream::feed(std::string_view chunk, std::vector<SseEvent>& out) {
    for (char c : chunk) {
        const std::size_t at = _pending.size();
        _pending.push_back(c);
        if (_inElement && _pending.size() - _elementStart > _maxElementBytes)
            throw Poco::DataFormatException("streamed JSON: one array element exceeds " +
                                            std::to_string(_maxElementBytes) + " bytes");
        if (_closed) continue;  // trailing bytes after ']' go out at finish()
        if (!_opened) {
            if (blank(c)) continue;
            _opened = true;
            if (c == '[') continue;
            // A single object instead of an array (one chunk): the whole body is that one element.
            if (c != '{')
                throw Poco::DataFormatException("streamed JSON: expected '[' or '{' to open the body");
            _bare = true;
            _inElement = true;
            _elementStart = at;
            _scalar = false;
            _depth = 1;
            continue;
        }
        if (!_inElement) {
            if (blank(c) || c == ',') continue;
            if (c == ']') {
                _closed = true;
                continue;
            }
            if (c == '}') throw Poco::DataFormatException("streamed JSON: unexpected '}' between elements");
            _inElement = true;
            _elementStart = at;
            _scalar = false;
            if (c == '{' || c == '[') {
                _depth = 1;
            } else if (c == '"') {
                _depth = 0;
                _inString = true;
            } else {
                _scalar = true;  // number, true/false/null
            }
            continue;
        }
        if (_scalar) {
            if (blank(c) || c == ',' || c == ']') {
                // The scalar ended just before this byte: emit it, keep the delimiter for the next event.
                _pending.pop_back();
                _inElement = false;
                emit(_pending.size(), true, out);
                _pending.push_back(c);
                if (c == ']') _closed = true;
            }
            continue;
        }
        if (_inString) {
            if (_escape)
                _escape = false;
            else if (c == '\\')
                _escape = true;
            else if (c == '"') {
                _inString = false;
                if (_depth == 0) {  // a top-level string element is complete
                    _inElement = false;
                    emit(_pending.size(), true, out);
                }
            }
            continue;
        }
        if (c == '"') {
            _inString = true;
        } else if (c == '{' || c == '[') {
            ++_depth;
        } else if (c == '}' || c == ']') {
            if (--_depth == 0) {
                _inElement = false;
                emit(_pending.size(), true, out);
                if (_bare) _closed = true;
            }
        }
    }
}

void JsonArrayStream::finish(std::vector<SseEvent>& out) {
    if (_inElement && _scalar) {
        _inElement = false;
        emit(_pending.size(), true, out);
    }
    if (!_pending.empty()) emit(_pending.size(), false, out);
    _inElement = false;
}

}  // namespace archestra::proxy
