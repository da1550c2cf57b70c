using StackExchange.Redis;

namespace Cocoon.Network.Transport;

/// <summary>
/// Every Redis key and channel name the network uses, in one place. Keys carry Redis Cluster hash tags (the part in
/// braces decides the slot), so that what one transaction or script touches lives in one slot: a worker's registry
/// entry, job stream and leases share the tag {worker id}; a gateway's result stream has its own {gateway id}; the
/// shared sets (registered and joined workers, join records, providers) share the tag {control}. On a single server
/// the tags change nothing but the names.
/// </summary>
public sealed class RedisKeys(string prefix)
{
    public string Prefix { get; } = prefix;

    /// <summary>The hash tag of the keys every gateway shares (registry sets, join records, legacy provider records).</summary>
    private const string Control = "{control}";

    private string Tagged(string kind, string id) => Prefix + kind + ":{" + id + "}";

    /// <summary>Consumer group on every job stream.</summary>
    public const string WorkerGroup = "workers";

    /// <summary>Set of worker ids that have registered; members whose entry expired are pruned by readers.</summary>
    public RedisKey Workers => Prefix + "workers:" + Control;

    /// <summary>Hash: registration + live load; expires unless heartbeats refresh it.</summary>
    public RedisKey Worker(string workerId) => Tagged("worker", workerId);

    /// <summary>Sorted set of in-flight leases on a worker (member = request/attempt, score = expiry ms).</summary>
    public RedisKey Leases(string workerId) => Tagged("leases", workerId);

    public RedisKey Jobs(string workerId) => Tagged("jobs", workerId);

    public RedisKey Results(string gatewayId) => Tagged("results", gatewayId);

    public RedisKey DeadLetters => Prefix + "deadletter";

    /// <summary>Pub/sub channel on which gateways ask a worker to stop a job (see <see cref="JobCancellations"/>).</summary>
    public RedisChannel WorkerCancel(string workerId) => RedisChannel.Literal(Prefix + "cancel:worker:" + workerId);

    /// <summary>Pub/sub channel on which gateways relay a client's attestation nonce to a worker (see <see cref="AttestationChallenges"/>).</summary>
    public RedisChannel WorkerChallenge(string workerId) => RedisChannel.Literal(Prefix + "challenge:worker:" + workerId);

    public RedisKey Provider(string providerId) => Prefix + "provider:" + Control + ":" + providerId;

    public RedisKey ProviderToken(string tokenSha256Hex) => Prefix + "provider-token:" + Control + ":" + tokenSha256Hex;

    public RedisKey Providers => Prefix + "providers:" + Control;

    /// <summary>Hash: a joined worker's pinned signing key, the provider the gateway bound it to, its state and last refusal.</summary>
    public RedisKey Join(string workerId) => Prefix + "join:" + Control + ":" + workerId;

    /// <summary>Set of worker ids that joined (or tried to) for one provider.</summary>
    public RedisKey ProviderWorkers(string providerId) => Prefix + "provider-workers:" + Control + ":" + providerId;

    /// <summary>Set of joined worker ids: the gateway adds them (joined workers may not write the shared <see cref="Workers"/> set).</summary>
    public RedisKey Joined => Prefix + "joined:" + Control;

    /// <summary>Hash of per-worker counters the gateway keeps from verified receipts (jobs, tokens).</summary>
    public RedisKey WorkerStats(string workerId) => Tagged("worker-stats", workerId);
}
