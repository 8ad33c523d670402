// Orchestrator interface: runs MCP servers (child processes, Kubernetes pods, ...) and connects to them.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "archestra/sdk/result.h"

namespace archestra::sdk {

/// What to run. Value type, append-only (struct_size).
struct McpServerSpec {
    std::uint32_t struct_size = sizeof(McpServerSpec);
    std::string server_id;                   ///< platform id (UUID) of the installed MCP server
    std::string name;                        ///< human name (pod/process names derive from it)
    std::string image;                       ///< container image; empty = the platform's base image
    std::string command;                     ///< executable; empty = the image's default command
    std::vector<std::string> arguments;      ///< already interpolated
    std::map<std::string, std::string> env;  ///< plain environment values (secret values included)
    std::string transport = "stdio";         ///< "stdio" or "streamable-http"
    int http_port = 8080;                    ///< for streamable-http
    std::string http_path = "/mcp";          ///< for streamable-http
    /// Keys of `env` whose values are secrets (catalog type "secret"): a container orchestrator keeps them in
    /// a secret object and references them instead of writing them into the workload spec.
    std::vector<std::string> secret_env_keys;
};

/// Lifecycle state of one server. Zero is invalid.
enum class McpServerState : int {
    Invalid = 0,
    NotCreated = 1,
    Pending = 2,
    Running = 3,
    Failed = 4,
    Succeeded = 5
};

/// Status of one server. Value type, append-only (struct_size).
struct McpServerStatus {
    std::uint32_t struct_size = sizeof(McpServerStatus);
    McpServerState state = McpServerState::Invalid;
    std::string message;       ///< e.g. "Pod is running"
    std::string error;         ///< why it failed, empty otherwise
    std::string runtime_name;  ///< pod or process name
    std::string endpoint_url;  ///< for streamable-http servers, where to reach them
};

/// A bidirectional newline-delimited JSON-RPC channel to one MCP server (stdio or attach).
/// Owned by the caller (unique_ptr); must be destroyed before the Orchestrator that created it.
/// Thread-safety: send() and receive() may be called from two different threads; each is not re-entrant.
class McpChannel {
  public:
    virtual ~McpChannel() = default;
    /// Sends one JSON-RPC message (without the trailing newline).
    virtual Status send(const std::string& json_line) = 0;
    /// Next JSON-RPC line from the server (non-JSON output skipped); nullopt after `timeout_ms` without one.
    /// Unavailable once the server has gone away.
    virtual Result<std::optional<std::string>> receive(std::int64_t timeout_ms) = 0;
    /// Closes the channel; later calls fail with Unavailable. Idempotent.
    virtual void close() noexcept = 0;
};

/// Runs MCP servers. One active instance per process. Owned by the host. Thread-safe. Never throws.
class Orchestrator {
  public:
    virtual ~Orchestrator() = default;
    /// Starts (or reuses a running) server for `spec`.
    virtual Result<McpServerStatus> start(const McpServerSpec& spec) = 0;
    /// Stops server `server_id` and removes what start() created; NotFound if unknown.
    virtual Status stop(const std::string& server_id) = 0;
    /// Stops then starts the server.
    virtual Result<McpServerStatus> restart(const McpServerSpec& spec) = 0;
    /// Current status; state NotCreated for an unknown id.
    virtual Result<McpServerStatus> status(const std::string& server_id) = 0;
    /// The last `lines` lines of the server's output.
    virtual Result<std::string> logs(const std::string& server_id, int lines) = 0;
    /// Opens a JSON-RPC channel to a running stdio server.
    virtual Result<std::unique_ptr<McpChannel>> connect(const std::string& server_id) = 0;
};

}  // namespace archestra::sdk
