// The Kubernetes objects of one MCP server (Pod, Secret, Service): names, labels, bodies, and what a pod's
// status means for the platform. Pure functions, no I/O.
#pragma once

#include "archestra/sdk/orchestrator.h"

#include <nlohmann/json.hpp>

#include <string>

namespace archestra::k8s {

/// RFC 1123 subdomain form of `text`: lower case, whitespace to '-', other characters outside [a-z0-9.-]
/// dropped, runs of '-'/'.' collapsed, non-alphanumeric ends trimmed.
std::string rfc1123(const std::string& text);
/// A label value: at most 63 characters of [A-Za-z0-9._-], alphanumeric at both ends.
std::string labelValue(const std::string& text);

std::string podName(const sdk::McpServerSpec& spec);  ///< mcp-<rfc1123(name)>, at most 253 chars
std::string secretName(const std::string& serverId);  ///< mcp-server-<id>-secrets
std::string serviceName(const std::string& podName);  ///< <pod>-service

/// The pod (no namespace in its metadata; it is created in the namespace of the URL).
nlohmann::json buildPod(const sdk::McpServerSpec& spec, const std::string& baseImage);
/// The Opaque secret holding the values of spec.secret_env_keys (base64 data).
nlohmann::json buildSecret(const sdk::McpServerSpec& spec);
/// The Service in front of a streamable-http server: ClusterIP in-cluster, NodePort otherwise.
nlohmann::json buildService(const sdk::McpServerSpec& spec, bool inCluster);
/// Where a streamable-http server is reached through its Service (`service` is the created object, for the
/// node port when not in-cluster).
std::string serviceEndpoint(const sdk::McpServerSpec& spec, const std::string& ns, bool inCluster,
                            const nlohmann::json& service);

/// Platform status of a pod object: phase and container states (CrashLoopBackOff, ImagePullBackOff,
/// ErrImagePull, CreateContainerConfigError, CreateContainerError, RunContainerError -> Failed with the
/// reason and message).
sdk::McpServerStatus podStatus(const nlohmann::json& pod);

}  // namespace archestra::k8s
