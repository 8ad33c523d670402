-- The chat's OpenAI and Gemini keys can be stored in the chat settings like Anthropic's (the original keeps only
-- an Anthropic key there; the others came from the environment alone). Each column points at the secret
-- holding {"apiKey": ...} in the secrets backend.
ALTER TABLE chat_settings
    ADD COLUMN openai_api_key_secret_id uuid REFERENCES secret(id) ON DELETE SET NULL,
    ADD COLUMN gemini_api_key_secret_id uuid REFERENCES secret(id) ON DELETE SET NULL;
