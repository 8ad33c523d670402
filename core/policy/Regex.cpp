// Compiler (recursive descent to an NFA program) and Pike-VM matcher for SafeRegex.
#include "core/policy/Regex.h"

#include <algorithm>
#include <memory>

namespace archestra::policy {
namespace {

using Ranges = std::vector<std::pair<std::uint32_t, std::uint32_t>>;
using Inst = SafeRegex::Instruction;
constexpr std::uint32_t kMaxCodePoint = 0x10FFFF;
constexpr int kMaxNesting = 64;
constexpr long kMaxRepeat = 1000;

struct CompileError {
    std::string message;
};

struct Node {
    enum Kind { Empty, Char, Any, Class, Assert, Concat, Alt, Repeat } kind = Empty;
    std::uint32_t ch = 0;
    bool negated = false;
    Ranges ranges;
    Inst::Kind assertion = Inst::LineStart;
    long min = 0, max = 0;  // max < 0: unbounded
    std::vector<std::unique_ptr<Node>> children;
};
using NodePtr = std::unique_ptr<Node>;

NodePtr makeNode(Node::Kind kind) {
    auto n = std::make_unique<Node>();
    n->kind = kind;
    return n;
}

Ranges digitRanges() {
    return {{'0', '9'}};
}
Ranges wordRanges() {
    return {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
}
Ranges spaceRanges() {
    return {{'\t', '\r'},     {' ', ' '},       {0xA0, 0xA0},     {0x1680, 0x1680}, {0x2000, 0x200A},
            {0x2028, 0x2029}, {0x202F, 0x202F}, {0x205F, 0x205F}, {0x3000, 0x3000}, {0xFEFF, 0xFEFF}};
}

Ranges normalize(Ranges r) {
    std::sort(r.begin(), r.end());
    Ranges out;
    for (const auto& range : r) {
        if (!out.empty() && range.first <= out.back().second + 1)
            out.back().second = std::max(out.back().second, range.second);
        else
            out.push_back(range);
    }
    return out;
}

Ranges complement(const Ranges& in) {
    Ranges r = normalize(in), out;
    std::uint32_t next = 0;
    for (const auto& [lo, hi] : r) {
        if (lo > next) out.push_back({next, lo - 1});
        next = hi + 1;
    }
    if (next <= kMaxCodePoint) out.push_back({next, kMaxCodePoint});
    return out;
}

bool isWordChar(std::uint32_t c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

bool isLineTerminator(std::uint32_t c) {
    return c == '\n' || c == '\r' || c == 0x2028 || c == 0x2029;
}

std::vector<std::uint32_t> decodeUtf8(std::string_view s) {
    std::vector<std::uint32_t> out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
        auto b = static_cast<unsigned char>(s[i]);
        int len = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
        std::uint32_t cp = len == 1 ? b : len == 2 ? (b & 0x1F) : len == 3 ? (b & 0x0F) : (b & 0x07);
        bool ok = len > 0 && i + len <= s.size();
        for (int k = 1; ok && k < len; ++k) {
            auto cont = static_cast<unsigned char>(s[i + k]);
            ok = (cont >> 6) == 2;
            cp = (cp << 6) | (cont & 0x3F);
        }
        if (!ok) {
            // An invalid byte stands for itself in a range no pattern can name, so it never matches a
            // literal.
            out.push_back(0x110000u + b);
            ++i;
            continue;
        }
        out.push_back(cp);
        i += len;
    }
    return out;
}

class Parser {
  public:
    explicit Parser(std::string_view pattern) : _cps(decodeUtf8(pattern)) {}

    NodePtr parse() {
        auto n = parseAlternation(0);
        if (_pos < _cps.size()) fail("unmatched ')'");
        return n;
    }

  private:
    [[noreturn]] void fail(const std::string& what) const {
        throw CompileError{what + " at position " + std::to_string(_pos)};
    }
    bool atEnd() const { return _pos >= _cps.size(); }
    std::uint32_t peek(std::size_t ahead = 0) const {
        return _pos + ahead < _cps.size() ? _cps[_pos + ahead] : 0xFFFFFFFFu;
    }

    NodePtr parseAlternation(int depth) {
        if (depth > kMaxNesting) fail("groups nested too deeply");
        auto first = parseConcat(depth);
        if (peek() != '|') return first;
        auto alt = makeNode(Node::Alt);
        alt->children.push_back(std::move(first));
        while (peek() == '|') {
            ++_pos;
            alt->children.push_back(parseConcat(depth));
        }
        return alt;
    }

    NodePtr parseConcat(int depth) {
        auto cat = makeNode(Node::Concat);
        while (!atEnd() && peek() != '|' && peek() != ')') cat->children.push_back(parseRepeat(depth));
        return cat;
    }

    bool readNumber(long& out) {
        std::size_t start = _pos;
        out = 0;
        while (!atEnd() && peek() >= '0' && peek() <= '9') {
            out = std::min(out * 10 + static_cast<long>(peek() - '0'), kMaxRepeat + 1);
            ++_pos;
        }
        return _pos > start;
    }

    // Reads `{n}`, `{n,}` or `{n,m}`; anything else leaves the position alone (then `{` is a literal, as in
    // JavaScript's web-compatibility grammar).
    bool readBraces(long& min, long& max) {
        std::size_t save = _pos;
        ++_pos;
        if (!readNumber(min)) return (_pos = save, false);
        max = min;
        if (peek() == ',') {
            ++_pos;
            max = -1;
            long m = 0;
            if (readNumber(m)) max = m;
        }
        if (peek() != '}') return (_pos = save, false);
        ++_pos;
        return true;
    }

    NodePtr parseRepeat(int depth) {
        auto atom = parseAtom(depth);
        bool quantified = false;
        while (!atEnd()) {
            long min = 0, max = -1;
            std::uint32_t c = peek();
            if (c == '*') {
                ++_pos;
            } else if (c == '+') {
                min = 1, ++_pos;
            } else if (c == '?') {
                max = 1, ++_pos;
            } else if (c == '{') {
                if (!readBraces(min, max)) break;
            } else {
                break;
            }
            if (quantified) fail("nothing to repeat");
            if (atom->kind == Node::Assert) fail("nothing to repeat");
            if (max >= 0 && min > max) fail("numbers out of order in {} quantifier");
            if (min > kMaxRepeat || max > kMaxRepeat)
                fail("repeat count above " + std::to_string(kMaxRepeat));
            if (peek() == '?') ++_pos;  // lazy: irrelevant to whether a match exists
            auto rep = makeNode(Node::Repeat);
            rep->min = min;
            rep->max = max;
            rep->children.push_back(std::move(atom));
            atom = std::move(rep);
            quantified = true;
        }
        return atom;
    }

    std::uint32_t readHex(int digits) {
        std::uint32_t v = 0;
        for (int i = 0; i < digits; ++i) {
            std::uint32_t c = peek();
            int d = (c >= '0' && c <= '9')   ? int(c - '0')
                    : (c >= 'a' && c <= 'f') ? int(c - 'a' + 10)
                    : (c >= 'A' && c <= 'F') ? int(c - 'A' + 10)
                                             : -1;
            if (d < 0) fail("invalid hexadecimal escape");
            v = v * 16 + static_cast<std::uint32_t>(d);
            ++_pos;
        }
        return v;
    }

    // After a backslash: fills `ranges` for class escapes (returns true) or `ch` for a single character.
    bool readEscape(bool inClass, std::uint32_t& ch, Ranges& ranges) {
        if (atEnd()) fail("\\ at end of pattern");
        std::uint32_t c = peek();
        ++_pos;
        switch (c) {
            case 'd':
                ranges = digitRanges();
                return true;
            case 'D':
                ranges = complement(digitRanges());
                return true;
            case 'w':
                ranges = wordRanges();
                return true;
            case 'W':
                ranges = complement(wordRanges());
                return true;
            case 's':
                ranges = spaceRanges();
                return true;
            case 'S':
                ranges = complement(spaceRanges());
                return true;
            case 'n':
                ch = '\n';
                return false;
            case 'r':
                ch = '\r';
                return false;
            case 't':
                ch = '\t';
                return false;
            case 'f':
                ch = '\f';
                return false;
            case 'v':
                ch = '\v';
                return false;
            case 'b':
                ch = 0x08;
                return false;  // only reached inside a class: backspace
            case '0':
                ch = 0;
                return false;
            case 'x':
                ch = readHex(2);
                return false;
            case 'u':
                ch = readHex(4);
                return false;
            case 'c': {
                std::uint32_t l = peek();
                if ((l >= 'a' && l <= 'z') || (l >= 'A' && l <= 'Z')) {
                    ++_pos;
                    ch = l % 32;
                } else {
                    ch = '\\', --_pos;
                }
                return false;
            }
            default:
                if (c >= '1' && c <= '9') {
                    if (inClass) fail("octal escapes are not supported");
                    fail("back-references are not supported");
                }
                ch = c;
                return false;
        }
    }

    NodePtr parseClass() {
        ++_pos;  // '['
        auto n = makeNode(Node::Class);
        if (peek() == '^') n->negated = true, ++_pos;
        Ranges ranges;
        while (true) {
            if (atEnd()) fail("missing ]");
            if (peek() == ']') {
                ++_pos;
                break;
            }
            std::uint32_t lo = 0;
            Ranges set;
            bool isSet = false;
            if (peek() == '\\') {
                ++_pos;
                isSet = readEscape(true, lo, set);
            } else {
                lo = peek();
                ++_pos;
            }
            if (isSet) {
                ranges.insert(ranges.end(), set.begin(), set.end());
                continue;
            }
            if (peek() == '-' && peek(1) != ']' && _pos + 1 < _cps.size()) {
                std::size_t save = _pos;
                ++_pos;
                std::uint32_t hi = 0;
                Ranges hiSet;
                bool hiIsSet = false;
                if (peek() == '\\') {
                    ++_pos;
                    hiIsSet = readEscape(true, hi, hiSet);
                } else {
                    hi = peek();
                    ++_pos;
                }
                if (hiIsSet) {  // `[a-\d]`: the dash is a literal
                    _pos = save;
                    ranges.push_back({lo, lo});
                    continue;
                }
                if (hi < lo) fail("range out of order in character class");
                ranges.push_back({lo, hi});
            } else {
                ranges.push_back({lo, lo});
            }
        }
        n->ranges = normalize(std::move(ranges));
        return n;
    }

    NodePtr parseAtom(int depth) {
        std::uint32_t c = peek();
        switch (c) {
            case '(': {
                ++_pos;
                if (peek() == '?') {
                    if (peek(1) != ':') fail("look-around and named groups are not supported");
                    _pos += 2;
                }
                auto inner = parseAlternation(depth + 1);
                if (peek() != ')') fail("missing )");
                ++_pos;
                return inner;
            }
            case ')':
                fail("unmatched ')'");
            case '*':
            case '+':
            case '?':
                fail("nothing to repeat");
            case '[':
                return parseClass();
            case '.':
                ++_pos;
                return makeNode(Node::Any);
            case '^':
            case '$': {
                ++_pos;
                auto n = makeNode(Node::Assert);
                n->assertion = c == '^' ? Inst::LineStart : Inst::LineEnd;
                return n;
            }
            case '\\': {
                ++_pos;
                if (peek() == 'b' || peek() == 'B') {
                    auto n = makeNode(Node::Assert);
                    n->assertion = peek() == 'b' ? Inst::WordB : Inst::NotWordB;
                    ++_pos;
                    return n;
                }
                std::uint32_t ch = 0;
                Ranges set;
                if (readEscape(false, ch, set)) {
                    auto n = makeNode(Node::Class);
                    n->ranges = normalize(std::move(set));
                    return n;
                }
                auto n = makeNode(Node::Char);
                n->ch = ch;
                return n;
            }
            default: {
                ++_pos;
                auto n = makeNode(Node::Char);
                n->ch = c;
                return n;
            }
        }
    }

    std::vector<std::uint32_t> _cps;
    std::size_t _pos = 0;
};

Inst makeInst(Inst::Kind kind, std::uint32_t ch = 0) {
    Inst i;
    i.kind = kind;
    i.ch = ch;
    return i;
}

class Emitter {
  public:
    std::vector<Inst> program;

    int emit(Inst inst) {
        if (program.size() >= SafeRegex::kMaxProgramSize) throw CompileError{"pattern too complex"};
        program.push_back(std::move(inst));
        return static_cast<int>(program.size()) - 1;
    }
    int here() const { return static_cast<int>(program.size()); }

    void node(const Node& n) {
        switch (n.kind) {
            case Node::Empty:
                return;
            case Node::Char:
                emit(makeInst(Inst::Char, n.ch));
                return;
            case Node::Any:
                emit(makeInst(Inst::Any));
                return;
            case Node::Class: {
                Inst i = makeInst(Inst::Class);
                i.negated = n.negated;
                i.ranges = n.ranges;
                emit(std::move(i));
                return;
            }
            case Node::Assert:
                emit(makeInst(n.assertion));
                return;
            case Node::Concat:
                for (const auto& c : n.children) node(*c);
                return;
            case Node::Alt: {
                std::vector<int> jumps;
                for (std::size_t k = 0; k < n.children.size(); ++k) {
                    if (k + 1 < n.children.size()) {
                        int split = emit(makeInst(Inst::Split));
                        program[split].x = here();
                        node(*n.children[k]);
                        jumps.push_back(emit(makeInst(Inst::Jump)));
                        program[split].y = here();
                    } else {
                        node(*n.children[k]);
                    }
                }
                for (int j : jumps) program[j].x = here();
                return;
            }
            case Node::Repeat: {
                const Node& body = *n.children[0];
                for (long k = 0; k < n.min; ++k) node(body);
                if (n.max < 0) {
                    int split = emit(makeInst(Inst::Split));
                    program[split].x = here();
                    node(body);
                    int jump = emit(makeInst(Inst::Jump));
                    program[jump].x = split;
                    program[split].y = here();
                } else {
                    std::vector<int> splits;
                    for (long k = n.min; k < n.max; ++k) {
                        int split = emit(makeInst(Inst::Split));
                        program[split].x = here();
                        splits.push_back(split);
                        node(body);
                    }
                    for (int s : splits) program[s].y = here();
                }
                return;
            }
        }
    }
};

bool classMatches(const Inst& inst, std::uint32_t c) {
    auto it =
        std::upper_bound(inst.ranges.begin(), inst.ranges.end(), std::make_pair(c, kMaxCodePoint + 0x200));
    bool in = it != inst.ranges.begin() && std::prev(it)->second >= c && std::prev(it)->first <= c;
    return in != inst.negated;
}

}  // namespace

std::variant<SafeRegex, std::string> SafeRegex::compile(std::string_view pattern) {
    if (pattern.size() > kMaxPatternBytes)
        return "pattern longer than " + std::to_string(kMaxPatternBytes) + " bytes";
    try {
        Parser parser(pattern);
        NodePtr root = parser.parse();
        Emitter emitter;
        emitter.node(*root);
        emitter.emit(makeInst(Inst::Match));
        SafeRegex re;
        re._program = std::move(emitter.program);
        return re;
    } catch (const CompileError& e) {
        return e.message;
    }
}

SafeRegex::Outcome SafeRegex::search(std::string_view subject) const {
    if (_program.empty()) return Outcome::Invalid;
    if (subject.size() > kMaxSubjectBytes) return Outcome::TooLarge;
    const std::vector<std::uint32_t> cps = decodeUtf8(subject);
    const std::size_t n = cps.size();
    const std::size_t size = _program.size();
    std::vector<std::uint32_t> mark(size, 0);
    std::uint32_t generation = 0;
    std::vector<int> current, next, stack;

    // Follows the zero-width instructions from `pc` at input position `pos`; returns true on reaching Match.
    auto addThread = [&](std::vector<int>& list, int start, std::size_t pos) {
        stack.clear();
        stack.push_back(start);
        while (!stack.empty()) {
            int pc = stack.back();
            stack.pop_back();
            if (mark[pc] == generation) continue;
            mark[pc] = generation;
            const Inst& inst = _program[pc];
            switch (inst.kind) {
                case Inst::Match:
                    return true;
                case Inst::Jump:
                    stack.push_back(inst.x);
                    break;
                case Inst::Split:
                    stack.push_back(inst.y);
                    stack.push_back(inst.x);
                    break;
                case Inst::LineStart:
                    if (pos == 0) stack.push_back(pc + 1);
                    break;
                case Inst::LineEnd:
                    if (pos == n) stack.push_back(pc + 1);
                    break;
                case Inst::WordB:
                case Inst::NotWordB: {
                    bool before = pos > 0 && isWordChar(cps[pos - 1]);
                    bool after = pos < n && isWordChar(cps[pos]);
                    if ((before != after) == (inst.kind == Inst::WordB)) stack.push_back(pc + 1);
                    break;
                }
                default:
                    list.push_back(pc);
                    break;
            }
        }
        return false;
    };

    ++generation;
    if (addThread(current, 0, 0)) return Outcome::Match;
    for (std::size_t pos = 0; pos < n; ++pos) {
        ++generation;
        next.clear();
        const std::uint32_t c = cps[pos];
        for (int pc : current) {
            const Inst& inst = _program[pc];
            bool ok = inst.kind == Inst::Char    ? inst.ch == c
                      : inst.kind == Inst::Any   ? !isLineTerminator(c)
                      : inst.kind == Inst::Class ? classMatches(inst, c)
                                                 : false;
            if (ok && addThread(next, pc + 1, pos + 1)) return Outcome::Match;
        }
        if (addThread(next, 0, pos + 1)) return Outcome::Match;  // a new attempt starts at every position
        current.swap(next);
    }
    return Outcome::NoMatch;
}

}  // namespace archestra::policy
