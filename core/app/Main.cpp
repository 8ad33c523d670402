// Entry point of archestra-platform.
#include "core/app/PlatformApplication.h"

int main(int argc, char** argv) {
    archestra::app::PlatformApplication application;
    return application.run(argc, argv);
}
