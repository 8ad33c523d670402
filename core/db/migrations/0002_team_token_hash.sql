-- Team/organisation tokens: SHA-256 (hex) of the value, so validating a presented token is one indexed lookup
-- instead of decrypting every stored token. Filled when a token is created or rotated.
ALTER TABLE team_token ADD COLUMN token_hash varchar(64);
CREATE UNIQUE INDEX team_token_hash_uniq ON team_token (token_hash);
