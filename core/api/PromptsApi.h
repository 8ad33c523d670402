// /api/prompts: saved chat prompts with versions and rollback, and their assignment to profiles
// (reference-api.md §1 "Prompts"; operationIds getPrompts ... deleteAgentPrompt).
#pragma once

#include "core/auth/AuthService.h"
#include "core/http/Router.h"

#include <memory>

namespace archestra::api {

/// A prompt is a chain of version rows (the first row is the chain's root, later ones point at it with
/// parent_prompt_id); exactly one row of a chain is active. Lists show the active rows; an update adds a
/// version and makes it active; a rollback makes an earlier version active again.
void registerPromptRoutes(http::Router& router, std::shared_ptr<auth::AuthService> auth);

}  // namespace archestra::api
