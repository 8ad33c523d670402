// Incremental splitter of a streamed JSON array: Gemini's streamGenerateContent without `alt=sse` answers
// with one JSON array whose elements (GenerateContentResponse chunks) arrive over time. The relay forwards
// each element as soon as it is complete instead of buffering the whole array.
#pragma once

#include "core/proxy/sse/SseParser.h"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace archestra::proxy {

/// Feed arbitrary chunks; each completed top-level element comes out as an SseEvent with
/// `jsonArrayElement` set, `data` the element's exact text and `raw` every byte consumed since the previous
/// event (the '[' or ',' and whitespace before it, then the element), so concatenating `raw` reproduces the
/// input byte for byte. The closing ']' and what follows come out at finish() (or when seen) as an event
/// without data. Not thread-safe: one per stream.
class JsonArrayStream {
  public:
    static constexpr std::size_t kDefaultMaxElementBytes = 16u * 1024u * 1024u;

    explicit JsonArrayStream(std::size_t maxElementBytes = kDefaultMaxElementBytes);

    /// A body that is one object instead of an array is that one element. Throws Poco::DataFormatException
    /// when the first non-blank byte is neither '[' nor '{', on a stray '}' between elements, or when one
    /// element grows past the bound.
    void feed(std::string_view chunk, std::vector<SseEvent>& out);
    /// End of input: whatever is left (the closing ']', or the bytes of a truncated element) as a data-less
    /// event so nothing received is lost.
    void finish(std::vector<SseEvent>& out);

    /// True once the closing ']' of the array was read.
    bool closed() const { return _closed; }

  private:
    void emit(std::size_t end, bool element, std::vector<SseEvent>& out);

    std::size_t _maxElementBytes;
    std::string _pending;           // bytes since the last emitted event
    std::size_t _elementStart = 0;  // offset of the current element in _pending
    bool _opened = false;           // '[' seen
    bool _closed = false;           // the array's ']' seen
    bool _bare = false;             // the body is one object, not an array
    bool _inElement = false;
    bool _scalar = false;  // the current element is a number/literal (ends at a delimiter)
    bool _inString = false;
    bool _escape = false;
    int _depth = 0;  // nesting inside the current element
};

}  // namespace archestra::proxy
