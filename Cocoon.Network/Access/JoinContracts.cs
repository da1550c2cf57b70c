using System.Text.Json;
using System.Text.Json.Serialization;

namespace Cocoon.Network.Access;

/// <summary>
/// POST {join URL} with "Authorization: Bearer {worker token}": the worker's signed attestation bundle (JSON, as
/// <c>AttestationBundle.ToJson</c> writes it). The gateway authenticates the token itself; the document only has to
/// carry SHA-256(token), so a copy of a published document is worth nothing without the token. Certificate: the
/// worker's key certified by its provider's key (<c>WorkerCertificate.ToJson</c>), required once the provider
/// registered a key.
/// </summary>
public sealed record JoinRequest(string Attestation, string? Certificate = null);

/// <summary>Where and as whom a joined worker connects, what it serves and on what terms.</summary>
public sealed record JoinGrant(
    string WorkerId,
    string ProviderId,
    JoinRedis Redis,
    JoinStreams Streams,
    JoinPolicy Policy);

/// <summary>
/// The Redis endpoint ("host:port", or "rediss://host:port" when the network's Redis runs TLS), the worker's own ACL
/// user and password, the network's key prefix, and with TLS the PEM of the CA the worker must verify the server's
/// certificate against (null: the system's roots, for a server with a publicly trusted certificate).
/// </summary>
public sealed record JoinRedis(string Endpoint, string User, string Password, string Prefix, bool Tls, string? CaCertificate = null);

/// <summary>The keys the worker's user may touch: its job stream, its registry entry (heartbeat), its lease key and cancel channel.</summary>
public sealed record JoinStreams(string Jobs, string Heartbeat, string Leases, string Cancel);

/// <summary>
/// The network's terms: measurements it accepts (empty: any, development only), served models with their base prices,
/// the price coefficient this worker is paid at (the provider's, 1000 = 1.0x), and the heartbeat pace the worker
/// defaults to (informational: the worker's own Worker:Heartbeat* settings rule).
/// </summary>
public sealed record JoinPolicy(
    IReadOnlyList<string> AllowedMeasurements,
    IReadOnlyList<JoinModel> Models,
    int PriceCoefficient,
    TimeSpan HeartbeatInterval,
    TimeSpan HeartbeatTtl);

/// <summary>A served model, with its price per million tokens in nanotons (prompt, completion) at 1.0x.</summary>
public sealed record JoinModel(string Name, string Sha256, long PromptNanotonsPerMillion, long CompletionNanotonsPerMillion);

/// <summary>Why the network will not take this worker, and what the provider can do about it. Temporary: try again later.</summary>
public sealed record JoinRefusal(string Reason, string Detail, string WhatToDo, bool Temporary);

/// <summary>What GET {join URL}/{workerId} answers: the worker's state, and the refusal when it is not serving.</summary>
public sealed record JoinStatus(string WorkerId, string State, JoinRefusal? Refusal);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(JoinRequest))]
[JsonSerializable(typeof(JoinGrant))]
[JsonSerializable(typeof(JoinRefusal))]
[JsonSerializable(typeof(JoinStatus))]
public sealed partial class JoinJsonContext : JsonSerializerContext;
