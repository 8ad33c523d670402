// A linear-time regular-expression matcher (Pike VM) for the `regex` policy operator.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace archestra::policy {

/// Why our own engine: policy patterns come from admins and subjects from the model, so backtracking engines
/// are a denial-of-service risk (std::regex recurses per input character and is quadratic in search mode;
/// PCRE's match limit resets per start position). This one simulates the NFA over the input once: time is
/// O(subject x program), stack use is independent of the subject.
///
/// Syntax: the ECMAScript subset admins use with JavaScript's `new RegExp(value).test(text)` (no flags):
/// literals, `.`, classes `[a-z]`, `[^...]`, `\d \w \s \D \W \S \b \B`, anchors `^ $`, groups `(...)`,
/// `(?:...)`, alternation, quantifiers `* + ? {n} {n,} {n,m}` (a trailing lazy `?` is accepted; it does not
/// change whether a match exists), escapes `\n \r \t \f \v \0 \xHH \uHHHH`. Back-references and look-around
/// are rejected at compile time. Matching is over UTF-8 code points.
///
/// Immutable after compile(), so one instance may be shared across threads.
class SafeRegex {
  public:
    static constexpr std::size_t kMaxPatternBytes = 1024;
    static constexpr std::size_t kMaxProgramSize = 20000;
    /// Larger subjects are not scanned: search() answers TooLarge and callers decide in the restrictive way.
    static constexpr std::size_t kMaxSubjectBytes = 256 * 1024;

    enum class Outcome { Invalid = 0, NoMatch, Match, TooLarge };

    /// Returns the compiled expression or an error text naming the problem and its position.
    static std::variant<SafeRegex, std::string> compile(std::string_view pattern);

    /// Unanchored search (JavaScript `test`).
    Outcome search(std::string_view subject) const;

    struct Instruction {
        enum Kind : std::uint8_t {
            Char,
            Any,
            Class,
            Split,
            Jump,
            Match,
            LineStart,
            LineEnd,
            WordB,
            NotWordB
        };
        Kind kind = Match;
        bool negated = false;
        std::uint32_t ch = 0;
        int x = 0, y = 0;
        std::vector<std::pair<std::uint32_t, std::uint32_t>> ranges;
    };

  private:
    std::vector<Instruction> _program;
};

}  // namespace archestra::policy
