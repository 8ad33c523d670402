// Incremental, byte-faithful parser for text/event-stream bodies (the WHATWG "server-sent events" format).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace archestra::proxy {

/// One dispatched block of an event stream. `raw` holds the exact bytes of the block as received, including
/// its terminating blank line, so a relay can forward it unchanged. Concatenating `raw` of every event
/// returned by a parser (including finish()) gives back the whole input, byte for byte.
struct SseEvent {
    std::string event;  ///< value of the last `event:` field, empty when absent
    std::string data;   ///< `data:` lines joined with '\n'
    std::string id;     ///< value of the last `id:` field
    std::optional<long> retry_ms;
    bool hasData = false;  ///< at least one `data` field was present (data may still be empty)
    std::string raw;
    /// Not SSE: one element of a streamed JSON array (JsonArrayStream; Gemini without alt=sse). `raw` is the
    /// separators before the element followed by `data`, the element's text.
    bool jsonArrayElement = false;

    /// A block made only of comments or blank lines (e.g. `: ping`): carries nothing but must still be
    /// forwarded.
    bool isEmpty() const { return !hasData && event.empty() && id.empty() && !retry_ms; }
};

/// Feed arbitrary chunks; an event may be split anywhere, including between '\r' and '\n'.
/// Not thread-safe: one parser per stream.
class SseParser {
  public:
    static constexpr std::size_t kDefaultMaxEventBytes = 16u * 1024u * 1024u;

    explicit SseParser(std::size_t maxEventBytes = kDefaultMaxEventBytes);

    /// Parses `chunk`, appending every completed event to `out`.
    /// Throws Poco::DataFormatException when one event grows past the size bound.
    void feed(std::string_view chunk, std::vector<SseEvent>& out);
    std::vector<SseEvent> feed(std::string_view chunk);

    /// End of stream: dispatches a trailing event that lacks its final blank line. The parser is reset
    /// afterwards.
    void finish(std::vector<SseEvent>& out);
    std::vector<SseEvent> finish();

    /// Bytes received but not yet part of a dispatched event.
    std::size_t pendingBytes() const { return _buffer.size(); }

  private:
    void scan(bool atEnd, std::vector<SseEvent>& out);
    void processLine(std::string_view line);
    void dispatch(std::size_t rawEnd, std::vector<SseEvent>& out);

    std::size_t _maxEventBytes;
    std::string _buffer;       // bytes of the current event, from its first byte
    std::size_t _scanPos = 0;  // start of the next unprocessed line inside _buffer
    bool _streamStart = true;  // a UTF-8 BOM is skipped only at the very beginning
    SseEvent _current;
};

/// Serialises one event in the canonical form (`event: X` line when named, one `data:` line per data line,
/// blank line). `lineEnding` lets synthetic events match the stream's own style (Gemini uses "\r\n").
std::string formatSseEvent(std::string_view eventName, std::string_view data,
                           std::string_view lineEnding = "\n");

/// The line ending a raw event uses ("\r\n", "\r" or "\n"), so rewritten events look like their neighbours.
std::string_view sseLineEnding(std::string_view raw);

}  // namespace archestra::proxy
