// The process's open-file limit. Every open connection is a descriptor, and a proxied stream is two (the
// client's and the upstream's), so a pool of 1,024 threads needs more than the soft limit of 1,024 that
// Docker and systemd start processes with: raise the soft limit to the hard one at start-up.
#pragma once

#include <cstdint>

namespace archestra::http {

struct FileLimit {
    std::uint64_t soft = 0;
    std::uint64_t hard = 0;  ///< RLIM_INFINITY shows as UINT64_MAX
};

/// The current RLIMIT_NOFILE.
FileLimit openFileLimit();
/// Raises the soft RLIMIT_NOFILE to the hard limit (a no-op when it already is); returns the limit in force
/// afterwards. Never lowers it and never throws: a failure leaves the limit as it was.
FileLimit raiseOpenFileLimit();

}  // namespace archestra::http
