// Settings: every ARCHESTRA_* variable, read once from environment > properties file > default, validated,
// then immutable.
#pragma once

#include <Poco/Exception.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace Poco::Util {
class AbstractConfiguration;
}

namespace archestra::config {

POCO_DECLARE_EXCEPTION(, SettingsException, Poco::InvalidArgumentException)

/// How a setting's text is validated.
enum class SettingKind {
    Invalid = 0,
    String,
    Url,    ///< absolute http(s) URL with a host
    Bool,   ///< exactly "true" or "false"
    Port,   ///< 1..65535
    Count,  ///< positive integer
    Enum,   ///< one of `allowed` (compared case-insensitively when `caseInsensitive`)
    Path,
};

struct SettingSpec {
    std::string name;
    std::string defaultValue;  ///< empty: unset unless given
    SettingKind kind = SettingKind::String;
    std::string description;
    bool secret = false;  ///< never printed (help shows "(set)" / "(unset)")
    std::vector<std::string> allowed = {};
    bool caseInsensitive = false;
    std::size_t minLength = 0;              ///< for secrets such as ARCHESTRA_AUTH_SECRET
    std::vector<std::string> aliases = {};  ///< other names accepted, lower precedence (e.g. DATABASE_URL)
};

/// Where a value came from, for --help.
enum class SettingSource { Invalid = 0, Default, File, Environment, Unset };

/// The whole validated configuration. Cheap to copy; shared read-only after start-up.
class Settings {
  public:
    /// Every setting the platform knows, in --help order.
    static const std::vector<SettingSpec>& specs();

    /// Reads and validates. `env` is the process environment; `file` may be null.
    /// Throws SettingsException with one line naming the variable, the value (unless secret) and what is
    /// allowed.
    static Settings load(const std::map<std::string, std::string>& env,
                         const Poco::Util::AbstractConfiguration* file);

    /// The process environment as a map.
    static std::map<std::string, std::string> environment();

    /// Value or empty string when unset.
    const std::string& get(const std::string& name) const;
    bool isSet(const std::string& name) const;
    bool getBool(const std::string& name) const;
    int getInt(const std::string& name) const;
    SettingSource source(const std::string& name) const;

    /// Derived values.
    int apiPort() const;  ///< port of ARCHESTRA_API_BASE_URL, 9000 when the URL has none
    int uiPort() const { return getInt("ARCHESTRA_UI_PORT"); }
    int metricsPort() const { return getInt("ARCHESTRA_METRICS_PORT"); }
    const std::string& listenAddress() const { return get("ARCHESTRA_LISTEN_ADDRESS"); }
    const std::string& dataDir() const { return get("ARCHESTRA_DATA_DIR"); }
    /// "DB" or "Vault", normalised.
    std::string secretsManager() const;
    bool enterprise() const { return getBool("ARCHESTRA_ENTERPRISE_LICENSE_ACTIVATED"); }
    /// The frontend origin used for CORS and cookies (default http://localhost:3000).
    std::string frontendUrl() const;
    bool frontendUrlExplicit() const { return isSet("ARCHESTRA_FRONTEND_URL"); }

    /// Human-readable table of every setting with its value (secrets masked), default and source.
    std::string describe() const;

    /// For tests: build from explicit values (no validation of unknown names).
    static Settings forTest(const std::map<std::string, std::string>& overrides = {});

  private:
    struct Entry {
        std::string value;
        SettingSource source = SettingSource::Unset;
    };
    std::map<std::string, Entry> _values;
};

/// Validates one value against its spec; returns an error sentence or nullopt.
std::optional<std::string> validateSetting(const SettingSpec& spec, const std::string& value);

}  // namespace archestra::config
