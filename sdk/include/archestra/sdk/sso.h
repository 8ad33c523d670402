// SSO provider interface: sends a user to an identity provider and turns its callback into an identity.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "archestra/sdk/result.h"

namespace archestra::sdk {

/// Input of beginLogin. Value type, append-only (struct_size).
struct LoginRequest {
    std::uint32_t struct_size = sizeof(LoginRequest);
    std::string callback_url;  ///< absolute URL the provider must redirect back to
    std::string login_hint;    ///< optional e-mail or user name to prefill at the provider
};

/// Output of beginLogin. Value type, append-only (struct_size).
struct LoginStart {
    std::uint32_t struct_size = sizeof(LoginStart);
    std::string redirect_url;  ///< where the browser goes now
    /// Opaque state the host keeps (signed cookie or DB) and hands back to completeLogin; holds e.g. the
    /// OAuth state, nonce and PKCE verifier. The host never interprets it.
    std::string state_blob;
};

/// Who signed in. Value type, append-only (struct_size).
struct Identity {
    std::uint32_t struct_size = sizeof(Identity);
    std::string subject;              ///< stable id at the provider (OIDC "sub", SAML NameID)
    std::string email;                ///< may be empty
    bool email_verified = false;      ///< the provider vouches for `email`
    std::string name;                 ///< display name, may be empty
    std::vector<std::string> groups;  ///< group or role names from the provider
    std::string claims_json;          ///< every claim/attribute received, as a JSON object text
};

/// An SSO provider instance (one per configured provider). Owned by the host. Thread-safe. Never throws.
class SsoProvider {
  public:
    virtual ~SsoProvider() = default;
    /// Starts a login: where to send the browser, and the state to keep until the callback.
    virtual Result<LoginStart> beginLogin(const LoginRequest& request) = 0;
    /// Completes a login from the callback's query/form parameters and the state from beginLogin.
    /// InvalidArgument when the response is forged, expired or does not match the state.
    virtual Result<Identity> completeLogin(const std::map<std::string, std::string>& callback_params,
                                           const std::string& state_blob) = 0;
};

}  // namespace archestra::sdk
