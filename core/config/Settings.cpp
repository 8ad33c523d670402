// Settings: the table of known variables and their validation rules.
#include "core/config/Settings.h"

#include <Poco/NumberParser.h>
#include <Poco/String.h>
#include <Poco/URI.h>
#include <Poco/Util/AbstractConfiguration.h>

#include <algorithm>
#include <sstream>

extern char** environ;

namespace archestra::config {

POCO_IMPLEMENT_EXCEPTION(SettingsException, Poco::InvalidArgumentException, "Invalid setting")

namespace {

const std::string kEmpty;

std::vector<SettingSpec> buildSpecs() {
    using K = SettingKind;
    const std::vector<std::string> levels = {"trace", "debug", "info", "warn", "error", "fatal"};
    return {
        // Database
        {"ARCHESTRA_DATABASE_URL",
         "",
         K::String,
         "PostgreSQL URL; unset: DATABASE_URL, else the embedded PostgreSQL",
         true,
         {},
         false,
         0,
         {}},
        {"DATABASE_URL", "", K::String, "PostgreSQL URL used when ARCHESTRA_DATABASE_URL is unset", true},
        // Listeners and URLs
        {"ARCHESTRA_API_BASE_URL", "http://localhost:9000", K::Url,
         "Base URL agents use; its port is the API listener's port (9000 when it has none)"},
        {"ARCHESTRA_FRONTEND_URL", "", K::Url,
         "Where users reach the Admin UI (CORS origin, cookie security)"},
        {"ARCHESTRA_UI_PORT", "3000", K::Port, "Admin UI listener port"},
        {"ARCHESTRA_METRICS_PORT", "9050", K::Port, "Prometheus /metrics listener port"},
        {"ARCHESTRA_LISTEN_ADDRESS", "0.0.0.0", K::String, "Address every listener binds"},
        {"ARCHESTRA_HTTP_MAX_THREADS", "1024", K::Count,
         "Worker threads per listener (one per open connection)"},
        {"ARCHESTRA_HTTP_MAX_BODY_BYTES", "52428800", K::Count, "Largest accepted request body (413 above)"},
        {"ARCHESTRA_HTTP_HEADER_TIMEOUT_S", "30", K::Count,
         "Time a client has to send a whole request head once it started (slowloris guard)"},
        {"ARCHESTRA_HTTP_READ_TIMEOUT_S", "60", K::Count,
         "Longest silence while reading a request body, or before a new connection's first request"},
        {"ARCHESTRA_HTTP_KEEPALIVE_TIMEOUT_S", "75", K::Count,
         "How long an idle keep-alive connection stays open; behind a load balancer, longer than its idle "
         "timeout (an idle connection holds a worker thread)"},
        {"ARCHESTRA_SHUTDOWN_GRACE_S", "10", K::Count,
         "On SIGTERM: how long in-flight requests and streams may take to finish before they are cut"},
        // Files
        {"ARCHESTRA_DATA_DIR", "./data", K::Path, "Auth secret, embedded PostgreSQL, interaction spool"},
        {"ARCHESTRA_PLUGINS_DIR", "", K::Path,
         "Extra plugin directories, ':'-separated (scanned before the built-in one)"},
        {"ARCHESTRA_PLUGINS_ENABLED", "", K::String,
         "Plugins that must load, ','-separated names (start-up fails when one does not)"},
        {"ARCHESTRA_UI_DIR", "", K::Path, "Built Admin UI files (default: the installed ones)"},
        // Auth
        {"ARCHESTRA_AUTH_SECRET",
         "",
         K::String,
         "Signs sessions and tokens; at least 32 characters; generated when unset",
         true,
         {},
         false,
         32},
        {"ARCHESTRA_AUTH_ADMIN_EMAIL", "admin@localhost.ai", K::String, "Seeded admin's email"},
        {"ARCHESTRA_AUTH_ADMIN_PASSWORD", "password", K::String, "Seeded admin's password (first run only)",
         true},
        {"ARCHESTRA_AUTH_COOKIE_DOMAIN", "", K::String, "Domain attribute of the session cookie"},
        {"ARCHESTRA_AUTH_DISABLE_BASIC_AUTH", "false", K::Bool,
         "Hide the password form (SSO only; admin keeps break-glass)"},
        {"ARCHESTRA_AUTH_DISABLE_INVITATIONS", "false", K::Bool, "Block the invitation API and hide its UI"},
        {"ARCHESTRA_ENTERPRISE_LICENSE_ACTIVATED", "false", K::Bool,
         "Enterprise features (custom roles, SSO, Vault)"},
        // LLM upstreams
        {"ARCHESTRA_OPENAI_BASE_URL", "https://api.openai.com/v1", K::Url, "OpenAI upstream"},
        {"ARCHESTRA_ANTHROPIC_BASE_URL", "https://api.anthropic.com", K::Url, "Anthropic upstream"},
        {"ARCHESTRA_GEMINI_BASE_URL", "https://generativelanguage.googleapis.com", K::Url, "Gemini upstream"},
        {"ARCHESTRA_UPSTREAM_CONNECT_TIMEOUT_MS", "10000", K::Count, "Upstream connect timeout"},
        {"ARCHESTRA_INTERACTION_LOG_BACKLOG_ROWS", "20000", K::Count,
         "Interaction rows kept in memory while the database is away and the spool disk is full"},
        {"ARCHESTRA_INTERACTION_LOG_QUEUE_BYTES", "4194304", K::Count,
         "Bytes of interaction rows queued for the database writer; beyond it rows spill to the spool file"},
        {"ARCHESTRA_UPSTREAM_IDLE_TIMEOUT_MS", "300000", K::Count,
         "Upstream read idle timeout (no byte for this long)"},
        {"ARCHESTRA_UPSTREAM_CA_FILE", "", K::Path, "Extra CA bundle trusted for upstream TLS"},
        {"ARCHESTRA_CHAT_OPENAI_API_KEY", "", K::String, "Provider key for the chat feature", true},
        {"ARCHESTRA_CHAT_ANTHROPIC_API_KEY", "", K::String, "Provider key for the chat feature", true},
        {"ARCHESTRA_CHAT_GEMINI_API_KEY", "", K::String,
         "Provider key for the chat feature (gemini-* models)", true},
        // MCP gateway
        {"ARCHESTRA_MCP_GATEWAY_ALLOWED_HOSTS", "", K::String,
         "Extra host names the MCP gateway answers under (comma-separated; * for any). Loopback names, "
         "address "
         "literals and the hosts of ARCHESTRA_API_BASE_URL / ARCHESTRA_FRONTEND_URL are always allowed"},
        {"ARCHESTRA_MCP_GATEWAY_SESSION_IDLE_MS", "1800000", K::Count,
         "MCP gateway sessions unused this long expire"},
        {"ARCHESTRA_MCP_GATEWAY_SSE_KEEPALIVE_MS", "15000", K::Count,
         "How often an MCP gateway GET (SSE) stream sends a keep-alive comment"},
        // Orchestrator
        {"ARCHESTRA_ORCHESTRATOR",
         "auto",
         K::Enum,
         "Where MCP servers run",
         false,
         {"auto", "local", "kubernetes"},
         true},
        {"ARCHESTRA_ORCHESTRATOR_K8S_NAMESPACE", "default", K::String, "Namespace for MCP server pods"},
        {"ARCHESTRA_ORCHESTRATOR_MCP_SERVER_BASE_IMAGE",
         "europe-west1-docker.pkg.dev/friendly-path-465518-r6/archestra-public/mcp-server-base:0.0.3",
         K::String, "Default image for MCP server pods"},
        {"ARCHESTRA_ORCHESTRATOR_LOAD_KUBECONFIG_FROM_CURRENT_CLUSTER", "true", K::Bool,
         "Use the in-cluster service account when running in Kubernetes"},
        {"ARCHESTRA_ORCHESTRATOR_KUBECONFIG", "", K::Path, "Path to a kubeconfig file"},
        // Telemetry
        {"ARCHESTRA_OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318/v1/traces", K::Url,
         "OTLP/HTTP traces endpoint"},
        {"ARCHESTRA_OTEL_EXPORTER_OTLP_PROTOCOL",
         "http/json",
         K::Enum,
         "OTLP/HTTP encoding of exported spans",
         false,
         {"http/json", "http/protobuf"}},
        {"ARCHESTRA_OTEL_EXPORTER_OTLP_AUTH_USERNAME", "", K::String, "OTLP basic auth user"},
        {"ARCHESTRA_OTEL_EXPORTER_OTLP_AUTH_PASSWORD", "", K::String, "OTLP basic auth password", true},
        {"ARCHESTRA_OTEL_EXPORTER_OTLP_AUTH_BEARER", "", K::String, "OTLP bearer token (wins over basic)",
         true},
        {"ARCHESTRA_ANALYTICS",
         "enabled",
         K::Enum,
         "Anonymous product analytics",
         false,
         {"enabled", "disabled"},
         true},
        {"ARCHESTRA_ANALYTICS_HOST", "https://eu.i.posthog.com", K::Url, "PostHog capture host"},
        {"ARCHESTRA_ANALYTICS_USAGE_DELAY_MS", "60000", K::Count,
         "Delay before the first daily usage report (then every 24 h)"},
        {"ARCHESTRA_LOGGING_LEVEL", "info", K::Enum, "Log level", false, levels, true},
        {"ARCHESTRA_LOG_FORMAT", "text", K::Enum, "Log line format", false, {"text", "json"}, true},
        {"ARCHESTRA_METRICS_SECRET", "archestra-metrics-secret", K::String, "Bearer token for /metrics",
         true},
        // Secrets
        {"ARCHESTRA_SECRETS_MANAGER", "DB", K::Enum, "Secrets backend", false, {"DB", "Vault"}, true},
        {"ARCHESTRA_HASHICORP_VAULT_ADDR",
         "",
         K::Url,
         "Vault address",
         false,
         {},
         false,
         0,
         {"HASHICORP_VAULT_ADDR"}},
        {"ARCHESTRA_HASHICORP_VAULT_AUTH_METHOD",
         "TOKEN",
         K::Enum,
         "Vault auth method",
         false,
         {"TOKEN", "K8S", "AWS"},
         true},
        {"ARCHESTRA_HASHICORP_VAULT_TOKEN",
         "",
         K::String,
         "Vault token",
         true,
         {},
         false,
         0,
         {"HASHICORP_VAULT_TOKEN"}},
        {"ARCHESTRA_HASHICORP_VAULT_K8S_ROLE", "", K::String, "Vault Kubernetes auth role"},
        {"ARCHESTRA_HASHICORP_VAULT_K8S_TOKEN_PATH", "/var/run/secrets/kubernetes.io/serviceaccount/token",
         K::Path, "Service account token file"},
        {"ARCHESTRA_HASHICORP_VAULT_K8S_MOUNT_POINT", "kubernetes", K::String, "Vault Kubernetes auth mount"},
        {"ARCHESTRA_HASHICORP_VAULT_AWS_ROLE", "", K::String, "Vault AWS auth role"},
        {"ARCHESTRA_HASHICORP_VAULT_AWS_MOUNT_POINT", "aws", K::String, "Vault AWS auth mount"},
        {"ARCHESTRA_HASHICORP_VAULT_AWS_REGION", "us-east-1", K::String, "AWS region for STS"},
        {"ARCHESTRA_HASHICORP_VAULT_AWS_STS_ENDPOINT", "https://sts.amazonaws.com", K::Url,
         "AWS STS endpoint"},
        {"ARCHESTRA_HASHICORP_VAULT_AWS_IAM_SERVER_ID", "", K::String,
         "X-Vault-AWS-IAM-Server-ID header value"},
        {"ARCHESTRA_HASHICORP_VAULT_KV_VERSION", "2", K::Enum, "Vault KV engine version", false, {"1", "2"}},
        {"ARCHESTRA_HASHICORP_VAULT_SECRET_PATH", "", K::String,
         "Vault path secrets are written under (default secret/data/archestra for KV v2, secret/archestra "
         "for v1)"},
        {"ARCHESTRA_HASHICORP_VAULT_SECRET_METADATA_PATH", "", K::String,
         "Vault KV v2 metadata path (default: the secret path with /data/ replaced by /metadata/)"},
        {"ARCHESTRA_HASHICORP_VAULT_CA_FILE", "", K::Path, "CA bundle for Vault TLS"},
    };
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

std::string joined(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& item : items) {
        if (!out.empty()) out += ", ";
        out += item;
    }
    return out;
}

}  // namespace

const std::vector<SettingSpec>& Settings::specs() {
    static const std::vector<SettingSpec> all = buildSpecs();
    return all;
}

std::optional<std::string> validateSetting(const SettingSpec& spec, const std::string& value) {
    switch (spec.kind) {
        case SettingKind::Url: {
            auto scheme = value.find("://");
            if (scheme == std::string::npos) return "expected an absolute URL such as http://host:port";
            try {
                Poco::URI uri(value);
                if (uri.getScheme() != "http" && uri.getScheme() != "https")
                    return "expected an http:// or https:// URL";
                if (uri.getHost().empty()) return "expected a URL with a host name";
            } catch (const Poco::Exception&) {
                return "expected a valid URL";
            }
            return std::nullopt;
        }
        case SettingKind::Bool:
            if (value == "true" || value == "false") return std::nullopt;
            return "expected true or false";
        case SettingKind::Port:
        case SettingKind::Count: {
            int parsed = 0;
            if (!Poco::NumberParser::tryParse(value, parsed) || parsed <= 0 ||
                (spec.kind == SettingKind::Port && parsed > 65535))
                return spec.kind == SettingKind::Port ? "expected a port number 1-65535"
                                                      : "expected a positive integer";
            return std::nullopt;
        }
        case SettingKind::Enum: {
            for (const auto& allowed : spec.allowed) {
                if (allowed == value || (spec.caseInsensitive && lower(allowed) == lower(value)))
                    return std::nullopt;
            }
            return "expected one of " + joined(spec.allowed);
        }
        default:
            break;
    }
    if (spec.minLength > 0 && value.size() < spec.minLength)
        return "expected at least " + std::to_string(spec.minLength) + " characters, got " +
               std::to_string(value.size());
    return std::nullopt;
}

Settings Settings::load(const std::map<std::string, std::string>& env,
                        const Poco::Util::AbstractConfiguration* file) {
    Settings settings;
    for (const auto& spec : specs()) {
        Entry entry;
        // An empty value counts as unset everywhere, as the original's `||` defaults do.
        auto fromEnv = [&](const std::string& name) -> bool {
            auto it = env.find(name);
            if (it == env.end() || it->second.empty()) return false;
            entry = {it->second, SettingSource::Environment};
            return true;
        };
        bool found = fromEnv(spec.name);
        if (!found && file != nullptr && file->hasProperty(spec.name)) {
            std::string value = file->getRawString(spec.name);
            if (!value.empty()) {
                entry = {value, SettingSource::File};
                found = true;
            }
        }
        for (const auto& alias : spec.aliases) {
            if (!found) found = fromEnv(alias);
        }
        if (!found && !spec.defaultValue.empty()) {
            entry = {spec.defaultValue, SettingSource::Default};
            found = true;
        }
        if (found) {
            if (auto error = validateSetting(spec, entry.value)) {
                std::string shown = spec.secret ? "(hidden)" : "\"" + entry.value + "\"";
                throw SettingsException(spec.name + "=" + shown + " is not valid: " + *error);
            }
            if (spec.kind == SettingKind::Enum) {
                for (const auto& allowed : spec.allowed)
                    if (lower(allowed) == lower(entry.value)) entry.value = allowed;
            }
        }
        settings._values[spec.name] = entry;
    }
    return settings;
}

std::map<std::string, std::string> Settings::environment() {
    std::map<std::string, std::string> env;
    for (char** item = environ; item != nullptr && *item != nullptr; ++item) {
        std::string line(*item);
        auto eq = line.find('=');
        if (eq != std::string::npos) env[line.substr(0, eq)] = line.substr(eq + 1);
    }
    return env;
}

const std::string& Settings::get(const std::string& name) const {
    auto it = _values.find(name);
    return it == _values.end() ? kEmpty : it->second.value;
}

bool Settings::isSet(const std::string& name) const {
    auto it = _values.find(name);
    return it != _values.end() && it->second.source != SettingSource::Unset &&
           it->second.source != SettingSource::Default;
}

bool Settings::getBool(const std::string& name) const {
    return get(name) == "true";
}

int Settings::getInt(const std::string& name) const {
    int value = 0;
    Poco::NumberParser::tryParse(get(name), value);
    return value;
}

SettingSource Settings::source(const std::string& name) const {
    auto it = _values.find(name);
    return it == _values.end() ? SettingSource::Unset : it->second.source;
}

int Settings::apiPort() const {
    Poco::URI uri(get("ARCHESTRA_API_BASE_URL"));
    // Poco fills in the scheme's well-known port; only an explicit port counts.
    const std::string& raw = get("ARCHESTRA_API_BASE_URL");
    auto hostStart = raw.find("://") + 3;
    auto pathStart = raw.find('/', hostStart);
    std::string authority =
        raw.substr(hostStart, pathStart == std::string::npos ? std::string::npos : pathStart - hostStart);
    auto at = authority.rfind('@');
    if (at != std::string::npos) authority = authority.substr(at + 1);
    bool explicitPort = authority.rfind(':') != std::string::npos && authority.back() != ']';
    return explicitPort ? uri.getPort() : 9000;
}

std::string Settings::secretsManager() const {
    return get("ARCHESTRA_SECRETS_MANAGER");
}

std::string Settings::frontendUrl() const {
    std::string url = get("ARCHESTRA_FRONTEND_URL");
    if (url.empty()) return "http://localhost:3000";
    while (!url.empty() && url.back() == '/') url.pop_back();
    return url;
}

std::string Settings::describe() const {
    std::ostringstream out;
    for (const auto& spec : specs()) {
        auto it = _values.find(spec.name);
        std::string value = it == _values.end() ? "" : it->second.value;
        SettingSource src = it == _values.end() ? SettingSource::Unset : it->second.source;
        std::string shown =
            spec.secret ? (value.empty() ? "(unset)" : "(set)") : (value.empty() ? "(unset)" : value);
        const char* srcName = src == SettingSource::Environment ? "env"
                              : src == SettingSource::File      ? "file"
                              : src == SettingSource::Default   ? "default"
                                                                : "unset";
        out << "  " << spec.name << "\n      " << spec.description << "\n      value: " << shown << "  ["
            << srcName << "]";
        if (!spec.defaultValue.empty()) out << "  default: " << (spec.secret ? "(set)" : spec.defaultValue);
        if (!spec.allowed.empty()) out << "  allowed: " << joined(spec.allowed);
        out << "\n";
    }
    return out.str();
}

Settings Settings::forTest(const std::map<std::string, std::string>& overrides) {
    Settings settings = load({}, nullptr);
    for (const auto& [name, value] : overrides) settings._values[name] = {value, SettingSource::Environment};
    return settings;
}

}  // namespace archestra::config
