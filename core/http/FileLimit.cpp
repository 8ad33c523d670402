#include "core/http/FileLimit.h"

#include <sys/resource.h>

namespace archestra::http {

FileLimit openFileLimit() {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return {};
    return {static_cast<std::uint64_t>(limit.rlim_cur), static_cast<std::uint64_t>(limit.rlim_max)};
}

FileLimit raiseOpenFileLimit() {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        rlimit raised = limit;
        raised.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &raised);
    }
    return openFileLimit();
}

}  // namespace archestra::http
