using StackExchange.Redis;

namespace Cocoon.Network.Transport;

/// <summary>Every Redis key and channel name the network uses, in one place.</summary>
public sealed class RedisKeys(string prefix)
{
    public string Prefix { get; } = prefix;

    /// <summary>Consumer group on every job stream.</summary>
    public const string WorkerGroup = "workers";

    /// <summary>Set of worker ids that have registered; members whose entry expired are pruned by readers.</summary>
    public RedisKey Workers => Prefix + "workers";

    /// <summary>Hash: registration + live load; expires unless heartbeats refresh it.</summary>
    public RedisKey Worker(string workerId) => Prefix + "worker:" + workerId;

    /// <summary>Sorted set of in-flight leases on a worker (member = request/attempt, score = expiry ms).</summary>
    public RedisKey Leases(string workerId) => Prefix + "leases:" + workerId;

    public RedisKey Jobs(string workerId) => Prefix + "jobs:" + workerId;

    public RedisKey Results(string gatewayId) => Prefix + "results:" + gatewayId;

    public RedisKey DeadLetters => Prefix + "deadletter";

    /// <summary>Pub/sub channel on which gateways ask a worker to stop a job (see <see cref="JobCancellations"/>).</summary>
    public RedisChannel WorkerCancel(string workerId) => RedisChannel.Literal(Prefix + "cancel:worker:" + workerId);

    /// <summary>Pub/sub channel on which gateways relay a client's attestation nonce to a worker (see <see cref="AttestationChallenges"/>).</summary>
    public RedisChannel WorkerChallenge(string workerId) => RedisChannel.Literal(Prefix + "challenge:worker:" + workerId);

    public RedisKey Provider(string providerId) => Prefix + "provider:" + providerId;

    public RedisKey ProviderToken(string tokenSha256Hex) => Prefix + "provider-token:" + tokenSha256Hex;

    public RedisKey Providers => Prefix + "providers";

    /// <summary>Hash: a joined worker's pinned signing key, the provider the gateway bound it to, its state and last refusal.</summary>
    public RedisKey Join(string workerId) => Prefix + "join:" + workerId;

    /// <summary>Set of worker ids that joined (or tried to) for one provider.</summary>
    public RedisKey ProviderWorkers(string providerId) => Prefix + "provider-workers:" + providerId;

    /// <summary>Set of joined worker ids: the gateway adds them (joined workers may not write the shared <see cref="Workers"/> set).</summary>
    public RedisKey Joined => Prefix + "joined";

    /// <summary>Hash of per-worker counters the gateway keeps from verified receipts (jobs, tokens).</summary>
    public RedisKey WorkerStats(string workerId) => Prefix + "worker-stats:" + workerId;
}
