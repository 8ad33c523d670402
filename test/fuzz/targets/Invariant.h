// What every fuzz harness does when a checked property fails: say which (and the offending text, if given)
// and abort, which libFuzzer reports as a crash with the input that caused it.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace archestra::fuzz {

[[noreturn]] inline void violated(const char* what, std::string_view detail = {}) {
    if (detail.empty())
        std::fprintf(stderr, "invariant violated: %s\n", what);
    else
        std::fprintf(stderr, "invariant violated: %s\n%.*s\n", what, static_cast<int>(detail.size()),
                     detail.data());
    std::abort();
}

}  // namespace archestra::fuzz
