-- Initial schema: the entities of reference-api.md §4, with the original's column names.
-- Auth tables keep text ids (better-auth's format); domain tables use uuid v4 from gen_random_uuid().

-- ---------------------------------------------------------------- auth (better-auth compatible)
CREATE TABLE "user" (
    id text PRIMARY KEY,
    name text NOT NULL,
    email text NOT NULL UNIQUE,
    email_verified boolean NOT NULL DEFAULT false,
    image text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    role text,
    banned boolean DEFAULT false,
    ban_reason text,
    ban_expires timestamptz,
    two_factor_enabled boolean DEFAULT false
);

CREATE TABLE organization (
    id text PRIMARY KEY,
    name text NOT NULL,
    slug text NOT NULL UNIQUE,
    logo text,
    created_at timestamptz NOT NULL DEFAULT now(),
    metadata text,
    limit_cleanup_interval text DEFAULT '1h',
    onboarding_complete boolean NOT NULL DEFAULT false,
    theme text NOT NULL DEFAULT 'cosmic-night',
    custom_font text NOT NULL DEFAULT 'lato',
    convert_tool_results_to_toon boolean NOT NULL DEFAULT true,
    compression_scope text NOT NULL DEFAULT 'organization'
);

CREATE TABLE session (
    id text PRIMARY KEY,
    expires_at timestamptz NOT NULL,
    token text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    ip_address text,
    user_agent text,
    user_id text NOT NULL REFERENCES "user"(id) ON DELETE CASCADE,
    active_organization_id text,
    impersonated_by text
);
CREATE INDEX session_user_id_idx ON session(user_id);

CREATE TABLE account (
    id text PRIMARY KEY,
    account_id text NOT NULL,
    provider_id text NOT NULL,
    user_id text NOT NULL REFERENCES "user"(id) ON DELETE CASCADE,
    access_token text,
    refresh_token text,
    id_token text,
    access_token_expires_at timestamptz,
    refresh_token_expires_at timestamptz,
    scope text,
    password text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX account_user_id_idx ON account(user_id);

CREATE TABLE verification (
    id text PRIMARY KEY,
    identifier text NOT NULL,
    value text NOT NULL,
    expires_at timestamptz NOT NULL,
    created_at timestamptz DEFAULT now(),
    updated_at timestamptz DEFAULT now()
);

CREATE TABLE two_factor (
    id text PRIMARY KEY,
    secret text NOT NULL,
    backup_codes text NOT NULL,
    user_id text NOT NULL REFERENCES "user"(id) ON DELETE CASCADE
);

CREATE TABLE apikey (
    id text PRIMARY KEY,
    name text,
    start text,
    prefix text,
    key text NOT NULL,
    user_id text NOT NULL REFERENCES "user"(id) ON DELETE CASCADE,
    refill_interval integer,
    refill_amount integer,
    last_refill_at timestamptz,
    enabled boolean DEFAULT true,
    rate_limit_enabled boolean DEFAULT false,
    rate_limit_time_window integer,
    rate_limit_max integer,
    request_count integer DEFAULT 0,
    remaining integer,
    last_request timestamptz,
    expires_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    permissions text,
    metadata text
);
CREATE INDEX apikey_key_idx ON apikey(key);
CREATE INDEX apikey_user_id_idx ON apikey(user_id);

CREATE TABLE member (
    id text PRIMARY KEY,
    organization_id text NOT NULL REFERENCES organization(id) ON DELETE CASCADE,
    user_id text NOT NULL REFERENCES "user"(id) ON DELETE CASCADE,
    role text NOT NULL DEFAULT 'member',
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, user_id)
);

CREATE TABLE invitation (
    id text PRIMARY KEY,
    organization_id text NOT NULL REFERENCES organization(id) ON DELETE CASCADE,
    email text NOT NULL,
    role text,
    status text NOT NULL DEFAULT 'pending',
    expires_at timestamptz NOT NULL,
    inviter_id text NOT NULL REFERENCES "user"(id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE organization_role (
    id text PRIMARY KEY,
    organization_id text NOT NULL REFERENCES organization(id) ON DELETE CASCADE,
    role text NOT NULL,
    name text NOT NULL,
    permission text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, role)
);

CREATE TABLE team (
    id text PRIMARY KEY,
    name text NOT NULL,
    description text,
    organization_id text NOT NULL REFERENCES organization(id) ON DELETE CASCADE,
    created_by text REFERENCES "user"(id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    convert_tool_results_to_toon boolean NOT NULL DEFAULT false
);

CREATE TABLE team_member (
    id text PRIMARY KEY,
    team_id text NOT NULL REFERENCES team(id) ON DELETE CASCADE,
    user_id text NOT NULL REFERENCES "user"(id) ON DELETE CASCADE,
    role text NOT NULL DEFAULT 'member',
    synced_from_sso boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (team_id, user_id)
);

CREATE TABLE team_external_group (
    id text PRIMARY KEY,
    team_id text NOT NULL REFERENCES team(id) ON DELETE CASCADE,
    group_identifier text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (team_id, group_identifier)
);

CREATE TABLE sso_provider (
    id text PRIMARY KEY,
    issuer text NOT NULL,
    oidc_config text,
    saml_config text,
    role_mapping text,
    team_sync_config text,
    user_id text REFERENCES "user"(id) ON DELETE SET NULL,
    provider_id text NOT NULL UNIQUE,
    organization_id text REFERENCES organization(id) ON DELETE CASCADE,
    domain text NOT NULL,
    domain_verified boolean DEFAULT false
);

-- ---------------------------------------------------------------- secrets
CREATE TABLE secret (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name varchar(256) NOT NULL DEFAULT 'secret',
    secret jsonb NOT NULL DEFAULT '{}'::jsonb,
    is_vault boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE team_token (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id text NOT NULL REFERENCES organization(id) ON DELETE CASCADE,
    team_id text REFERENCES team(id) ON DELETE CASCADE,
    is_organization_token boolean NOT NULL DEFAULT false,
    name text NOT NULL,
    secret_id uuid REFERENCES secret(id) ON DELETE SET NULL,
    token_start varchar(16),
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz
);
CREATE UNIQUE INDEX team_token_org_team_uniq ON team_token (organization_id, team_id);
-- NULLs are distinct in the index above, so the one organisation token (team_id NULL) needs its own (PG13-safe).
CREATE UNIQUE INDEX team_token_org_token_uniq ON team_token (organization_id) WHERE team_id IS NULL;

-- ---------------------------------------------------------------- profiles (agents) and labels
CREATE TABLE agents (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL,
    is_demo boolean NOT NULL DEFAULT false,
    is_default boolean NOT NULL DEFAULT false,
    consider_context_untrusted boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE agent_team (
    agent_id uuid NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    team_id text NOT NULL REFERENCES team(id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agent_id, team_id)
);

CREATE TABLE label_keys (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    key text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE label_values (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    value text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE agent_labels (
    agent_id uuid NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    key_id uuid NOT NULL REFERENCES label_keys(id) ON DELETE CASCADE,
    value_id uuid NOT NULL REFERENCES label_values(id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agent_id, key_id)
);

-- ---------------------------------------------------------------- MCP catalog and servers
CREATE TABLE internal_mcp_catalog (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL,
    version text,
    description text,
    repository text,
    installation_command text,
    requires_auth boolean NOT NULL DEFAULT false,
    auth_description text,
    auth_fields jsonb NOT NULL DEFAULT '[]'::jsonb,
    server_type text NOT NULL DEFAULT 'remote',
    server_url text,
    docs_url text,
    client_secret_id uuid REFERENCES secret(id) ON DELETE SET NULL,
    local_config_secret_id uuid REFERENCES secret(id) ON DELETE SET NULL,
    local_config jsonb,
    user_config jsonb NOT NULL DEFAULT '{}'::jsonb,
    oauth_config jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE mcp_server (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL,
    catalog_id uuid REFERENCES internal_mcp_catalog(id) ON DELETE CASCADE,
    server_type text NOT NULL DEFAULT 'remote',
    secret_id uuid REFERENCES secret(id) ON DELETE SET NULL,
    owner_id text REFERENCES "user"(id) ON DELETE SET NULL,
    reinstall_required boolean NOT NULL DEFAULT false,
    local_installation_status text NOT NULL DEFAULT 'idle',
    local_installation_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE mcp_server_team (
    mcp_server_id uuid NOT NULL REFERENCES mcp_server(id) ON DELETE CASCADE,
    team_id text NOT NULL REFERENCES team(id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (mcp_server_id, team_id)
);

CREATE TABLE mcp_server_user (
    mcp_server_id uuid NOT NULL REFERENCES mcp_server(id) ON DELETE CASCADE,
    user_id text NOT NULL REFERENCES "user"(id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (mcp_server_id, user_id)
);

CREATE TABLE mcp_server_installation_request (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    external_catalog_id text,
    requested_by text REFERENCES "user"(id) ON DELETE SET NULL,
    status text NOT NULL DEFAULT 'pending',
    request_reason text,
    custom_server_config jsonb,
    admin_response text,
    reviewed_by text REFERENCES "user"(id) ON DELETE SET NULL,
    reviewed_at timestamptz,
    notes jsonb NOT NULL DEFAULT '[]'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE mcp_gateway_session (
    id text PRIMARY KEY,
    agent_id uuid REFERENCES agents(id) ON DELETE CASCADE,
    data jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mcp_gateway_session_last_seen_idx ON mcp_gateway_session(last_seen_at);

-- ---------------------------------------------------------------- tools and policies
CREATE TABLE tools (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    agent_id uuid REFERENCES agents(id) ON DELETE CASCADE,
    catalog_id uuid REFERENCES internal_mcp_catalog(id) ON DELETE CASCADE,
    mcp_server_id uuid REFERENCES mcp_server(id) ON DELETE SET NULL,
    name text NOT NULL,
    parameters jsonb NOT NULL DEFAULT '{}'::jsonb,
    description text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX tools_catalog_name_agent_uniq ON tools (catalog_id, name, agent_id);
-- NULLs are distinct above; these keep proxy-discovered tools (no catalog) and catalog tools (no agent) unique.
CREATE UNIQUE INDEX tools_agent_name_uniq ON tools (agent_id, name) WHERE catalog_id IS NULL;
CREATE UNIQUE INDEX tools_catalog_name_uniq ON tools (catalog_id, name) WHERE agent_id IS NULL;

CREATE TABLE agent_tools (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    agent_id uuid NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    tool_id uuid NOT NULL REFERENCES tools(id) ON DELETE CASCADE,
    allow_usage_when_untrusted_data_is_present boolean NOT NULL DEFAULT false,
    tool_result_treatment text NOT NULL DEFAULT 'untrusted',
    response_modifier_template text,
    credential_source_mcp_server_id uuid REFERENCES mcp_server(id) ON DELETE SET NULL,
    execution_source_mcp_server_id uuid REFERENCES mcp_server(id) ON DELETE SET NULL,
    use_dynamic_team_credential boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (agent_id, tool_id)
);

CREATE TABLE tool_invocation_policies (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    agent_tool_id uuid NOT NULL REFERENCES agent_tools(id) ON DELETE CASCADE,
    argument_name text NOT NULL,
    operator text NOT NULL,
    value text NOT NULL,
    action text NOT NULL,
    reason text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE trusted_data_policies (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    agent_tool_id uuid NOT NULL REFERENCES agent_tools(id) ON DELETE CASCADE,
    description text,
    attribute_path text NOT NULL,
    operator text NOT NULL,
    value text NOT NULL,
    action text NOT NULL DEFAULT 'mark_as_trusted',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- ---------------------------------------------------------------- traffic logs
CREATE TABLE interactions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    profile_id uuid REFERENCES agents(id) ON DELETE CASCADE,
    external_agent_id text,
    request jsonb NOT NULL,
    processed_request jsonb,
    response jsonb,
    type text NOT NULL,
    model text,
    original_model text,
    optimized_model text,
    provider text,
    input_tokens integer,
    output_tokens integer,
    baseline_cost numeric(13, 10),
    cost numeric(13, 10),
    toon_tokens_before integer,
    toon_tokens_after integer,
    toon_cost_savings numeric(13, 10),
    blocked boolean NOT NULL DEFAULT false,
    status_code integer,
    duration_ms integer,
    time_to_first_token_ms integer,
    decisions jsonb,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX interactions_profile_created_idx ON interactions(profile_id, created_at DESC);
CREATE INDEX interactions_created_idx ON interactions(created_at DESC);

CREATE TABLE mcp_tool_calls (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    agent_id uuid REFERENCES agents(id) ON DELETE CASCADE,
    mcp_server_name text NOT NULL,
    method text NOT NULL,
    tool_call jsonb,
    tool_result jsonb,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mcp_tool_calls_agent_created_idx ON mcp_tool_calls(agent_id, created_at DESC);

-- ---------------------------------------------------------------- dual LLM
CREATE TABLE dual_llm_config (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    enabled boolean NOT NULL DEFAULT false,
    main_agent_prompt text NOT NULL,
    quarantined_agent_prompt text NOT NULL,
    summary_prompt text NOT NULL,
    max_rounds integer NOT NULL DEFAULT 5,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE dual_llm_results (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    agent_id uuid REFERENCES agents(id) ON DELETE CASCADE,
    tool_call_id text NOT NULL,
    conversations jsonb NOT NULL DEFAULT '[]'::jsonb,
    result text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- ---------------------------------------------------------------- limits, prices, optimisation
CREATE TABLE limits (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    entity_type text NOT NULL,
    entity_id text NOT NULL,
    limit_type text NOT NULL,
    limit_value integer NOT NULL,
    mcp_server_name text,
    tool_name text,
    model jsonb,
    last_cleanup timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX limits_entity_idx ON limits(entity_type, entity_id);

CREATE TABLE limit_model_usage (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    limit_id uuid NOT NULL REFERENCES limits(id) ON DELETE CASCADE,
    model text NOT NULL,
    current_usage_tokens_in bigint NOT NULL DEFAULT 0,
    current_usage_tokens_out bigint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (limit_id, model)
);

CREATE TABLE token_price (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    provider text NOT NULL,
    model text NOT NULL UNIQUE,
    price_per_million_input numeric(10, 2) NOT NULL,
    price_per_million_output numeric(10, 2) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE optimization_rules (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    entity_type text NOT NULL,
    entity_id text NOT NULL,
    conditions jsonb NOT NULL DEFAULT '[]'::jsonb,
    provider text NOT NULL,
    target_model text NOT NULL,
    enabled boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- ---------------------------------------------------------------- chat
CREATE TABLE prompts (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id text NOT NULL REFERENCES organization(id) ON DELETE CASCADE,
    name text NOT NULL,
    agent_id uuid REFERENCES agents(id) ON DELETE CASCADE,
    user_prompt text,
    system_prompt text,
    version integer NOT NULL DEFAULT 1,
    parent_prompt_id uuid REFERENCES prompts(id) ON DELETE SET NULL,
    is_active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE conversations (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id text NOT NULL REFERENCES "user"(id) ON DELETE CASCADE,
    organization_id text NOT NULL REFERENCES organization(id) ON DELETE CASCADE,
    agent_id uuid REFERENCES agents(id) ON DELETE CASCADE,
    prompt_id uuid REFERENCES prompts(id) ON DELETE SET NULL,
    title text,
    selected_model text NOT NULL DEFAULT 'gpt-4o',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE messages (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    conversation_id uuid NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    role text NOT NULL,
    content jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messages_conversation_idx ON messages(conversation_id, created_at);

CREATE TABLE chat_settings (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id text NOT NULL UNIQUE REFERENCES organization(id) ON DELETE CASCADE,
    anthropic_api_key_secret_id uuid REFERENCES secret(id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
