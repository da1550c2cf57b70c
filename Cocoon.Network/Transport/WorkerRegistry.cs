using System.Text.Json;
using Cocoon.Engine.Attestation;
using Cocoon.Engine.Protocol;
using StackExchange.Redis;

namespace Cocoon.Network.Transport;

/// <summary>
/// A live registry entry as gateways read it. LoadJson and LoadSignature are the load's stored bytes and the worker's
/// signature over them (<see cref="Heartbeat"/>); a gateway believes the load only when the signature verifies.
/// </summary>
public sealed record RegisteredWorker(WorkerRegistration Registration, WorkerLoad Load, int Leases)
{
    public byte[] LoadJson { get; init; } = [];

    public byte[] LoadSignature { get; init; } = [];
}

/// <summary>
/// Workers announce themselves with their attestation and live load in a hash that expires unless heartbeats
/// refresh it, so a silent worker disappears from every gateway's view within one TTL.
/// </summary>
public sealed class WorkerRegistry(IConnectionMultiplexer redis, RedisKeys keys, TimeProvider time)
{
    private const string RegistrationField = "registration";
    private const string LoadField = "load";
    private const string LoadSignatureField = "load-signature";

    /// <summary>
    /// Writes the whole entry (not just a TTL touch) so that an entry lost with a Redis restart comes back with
    /// the next heartbeat. A joined worker (announce false) leaves the shared set alone: its Redis user may write only
    /// its own keys, and the gateway listed it when it joined. The load is signed with <paramref name="signer"/>'s
    /// attested key (gateways refuse an unsigned one); null only for tests of the registry itself.
    /// </summary>
    public async Task PublishAsync(
        WorkerRegistration registration, WorkerLoad load, TimeSpan ttl, CancellationToken cancellationToken, bool announce = true, WorkerIdentity? signer = null)
    {
        ArgumentNullException.ThrowIfNull(registration);
        var db = redis.GetDatabase();
        var key = keys.Worker(registration.WorkerId);
        var loadJson = JsonSerializer.SerializeToUtf8Bytes(load, WireJsonContext.Default.WorkerLoad);
        var tx = db.CreateTransaction();
        _ = tx.HashSetAsync(key,
        [
            new HashEntry(RegistrationField, JsonSerializer.SerializeToUtf8Bytes(registration, WireJsonContext.Default.WorkerRegistration)),
            new HashEntry(LoadField, loadJson),
            new HashEntry(LoadSignatureField, signer is null ? RedisValue.EmptyString : Heartbeat.Sign(signer, loadJson)),
        ]);
        _ = tx.KeyExpireAsync(key, ttl);

        // On a cluster the shared set lives in another slot: it is added to beside the transaction (pipelined, not in
        // it). Lost alone, the next heartbeat adds it again; a stale member is pruned by readers.
        var cluster = announce && RedisTopology.IsCluster(redis);
        if (announce && !cluster)
        {
            _ = tx.SetAddAsync(keys.Workers, registration.WorkerId);
        }

        // An abandoned job stream (its worker died for good) goes away by itself, long after any gateway gave up on it.
        _ = tx.KeyExpireAsync(keys.Jobs(registration.WorkerId), ttl * 20 + TimeSpan.FromMinutes(10));
        var entry = tx.ExecuteAsync();
        var listed = cluster ? db.SetAddAsync(keys.Workers, registration.WorkerId) : Task.CompletedTask;
        await Task.WhenAll(entry, listed).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Calls <paramref name="onRestored"/> each time this process's Redis connection comes back (until disposed): a
    /// worker then publishes its entry at once instead of at its next heartbeat, because its entry may have expired
    /// while Redis restarted and gateways give in-flight jobs only a grace window to see it again.
    /// </summary>
    public IDisposable WhenReconnected(Action onRestored)
    {
        ArgumentNullException.ThrowIfNull(onRestored);
        void Handler(object? sender, ConnectionFailedEventArgs e)
        {
            if (e.ConnectionType == ConnectionType.Interactive)
            {
                onRestored();
            }
        }

        redis.ConnectionRestored += Handler;
        return new Unsubscribe(() => redis.ConnectionRestored -= Handler);
    }

    private sealed class Unsubscribe(Action action) : IDisposable
    {
        public void Dispose() => action();
    }

    public async Task RemoveAsync(string workerId, CancellationToken cancellationToken, bool announced = true)
    {
        var db = redis.GetDatabase();
        if (!announced)
        {
            await db.KeyDeleteAsync(keys.Worker(workerId)).WaitAsync(cancellationToken).ConfigureAwait(false);
            return;
        }

        if (RedisTopology.IsCluster(redis))
        {
            // Two slots: the entry goes first (what gateways match on); a member left behind is pruned by readers.
            await db.KeyDeleteAsync(keys.Worker(workerId)).WaitAsync(cancellationToken).ConfigureAwait(false);
            await db.SetRemoveAsync(keys.Workers, workerId).WaitAsync(cancellationToken).ConfigureAwait(false);
            return;
        }

        var tx = db.CreateTransaction();
        _ = tx.KeyDeleteAsync(keys.Worker(workerId));
        _ = tx.SetRemoveAsync(keys.Workers, workerId);
        await tx.ExecuteAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// One worker's registration as it stands in the registry now (null when it has expired or is of another wire
    /// version): what a client-sealed request hands the client so it can verify the worker's attestation itself.
    /// </summary>
    public async Task<WorkerRegistration?> GetRegistrationAsync(string workerId, CancellationToken cancellationToken)
    {
        var value = await redis.GetDatabase().HashGetAsync(keys.Worker(workerId), RegistrationField).WaitAsync(cancellationToken).ConfigureAwait(false);
        return value.IsNull
            ? null
            : JsonSerializer.Deserialize((byte[])value!, WireJsonContext.Default.WorkerRegistration) is { Version: WireVersion.Current } registration ? registration : null;
    }

    /// <summary>
    /// Every worker whose entry has not expired (announced ones and joined ones), with its current lease count. Prunes
    /// expired ids from the announced set; joined ids stay until the gateway cleans the worker up.
    /// </summary>
    public async Task<IReadOnlyList<RegisteredWorker>> ListAsync(CancellationToken cancellationToken)
    {
        var db = redis.GetDatabase();
        var ids = await db.SetCombineAsync(SetOperation.Union, keys.Workers, keys.Joined).WaitAsync(cancellationToken).ConfigureAwait(false);
        if (ids.Length == 0)
        {
            return [];
        }

        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var batch = db.CreateBatch();
        var reads = ids.Select(id => (
            Id: (string)id!,
            Fields: batch.HashGetAsync(keys.Worker(id!), [RegistrationField, LoadField, LoadSignatureField]),
            Leases: batch.SortedSetLengthAsync(keys.Leases(id!), now, double.PositiveInfinity))).ToList();
        batch.Execute();
        await Task.WhenAll(reads.Select(r => (Task)r.Fields).Concat(reads.Select(r => r.Leases))).WaitAsync(cancellationToken).ConfigureAwait(false);

        var live = new List<RegisteredWorker>(reads.Count);
        var expired = new List<RedisValue>();
        foreach (var (id, fields, leases) in reads)
        {
            var values = await fields.ConfigureAwait(false);
            if (values[0].IsNull || values[1].IsNull)
            {
                expired.Add(id);
                continue;
            }

            var registration = JsonSerializer.Deserialize((byte[])values[0]!, WireJsonContext.Default.WorkerRegistration);
            var load = JsonSerializer.Deserialize((byte[])values[1]!, WireJsonContext.Default.WorkerLoad);
            if (registration is null || load is null || registration.Version != WireVersion.Current)
            {
                continue;
            }

            live.Add(new RegisteredWorker(registration, load, (int)await leases.ConfigureAwait(false))
            {
                LoadJson = (byte[])values[1]!,
                LoadSignature = values[2].IsNullOrEmpty ? [] : (byte[])values[2]!,
            });
        }

        if (expired.Count > 0)
        {
            await db.SetRemoveAsync(keys.Workers, [.. expired]).WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        return live;
    }
}
