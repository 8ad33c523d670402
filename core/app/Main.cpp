// Entry point of archestra-platform.
#include "core/app/PlatformApplication.h"

#include <csignal>

int main(int argc, char** argv) {
    // Termination signals are taken by sigwait() in ServerApplication::waitForTerminationRequest. Block them
    // here, before any thread exists, so every thread (plugins', log writers', pools') inherits the mask:
    // otherwise the kernel may deliver SIGTERM to a thread that has it unblocked and the default action kills
    // the process (exit by signal 15 instead of a clean shutdown). Children reset the mask themselves.
    sigset_t termination;
    sigemptyset(&termination);
    sigaddset(&termination, SIGINT);
    sigaddset(&termination, SIGQUIT);
    sigaddset(&termination, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &termination, nullptr);
    archestra::app::PlatformApplication application;
    return application.run(argc, argv);
}
