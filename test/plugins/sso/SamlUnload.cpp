// Loads the sso.saml plugin, creates a provider (which sets up libxml2, libxslt and xmlsec1 for the process),
// drops it and unloads the plugin, as the platform does at exit. CTest runs this under valgrind with definite
// and indirect leaks as errors: xmlsec1, libxslt and libxml2 are mapped for this plugin only, so global state
// it leaves behind becomes unreachable at the unload (1,712 bytes in 8 blocks before the plugin tore it down;
// the LeakSanitizer report of the first whole-suite ASan run).
// Usage: test_plugins_sso_saml_unload <plugin dir> <data dir> <IdP certificate PEM>
#include "core/plugins/HostServices.h"
#include "core/plugins/PluginManager.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <iostream>
#include <sstream>

int main(int argc, char** argv) {
    if (argc != 4) {
        std::cerr << "usage: " << argv[0] << " <plugin dir> <data dir> <IdP certificate PEM>\n";
        return 2;
    }
    std::ifstream file(argv[3]);
    std::stringstream cert;
    cert << file.rdbuf();
    const nlohmann::json config = {
        {"providerId", "unload-test"},
        {"entryPoint", "https://idp.test.example/sso"},
        {"audience", "https://sp.test.example"},
        {"callbackUrl", "http://localhost:9000/api/auth/sso/saml2/callback/unload-test"},
        {"cert", cert.str()}};
    {
        archestra::plugins::HostServices host(argv[2]);
        archestra::plugins::PluginManager manager(host);
        manager.loadDirectories({argv[1]}, {"sso.saml"});
        auto provider = manager.createSso("saml", config.dump());
        if (!provider.ok()) {
            std::cerr << "create failed: " << provider.error().message << "\n";
            return 1;
        }
        std::cout << "sso.saml loaded, provider created, unloading\n";
    }
    return 0;
}
