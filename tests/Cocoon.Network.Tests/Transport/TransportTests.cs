using System.Text;
using Cocoon.Engine.Protocol;
using Cocoon.Network.Providers;
using Cocoon.Network.Transport;

namespace Cocoon.Network.Tests.Transport;

public sealed class TransportTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private readonly CancellationToken Ct = new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token;

    /// <summary>BLOCK for reads that expect what is already there (or nothing).</summary>
    private static readonly TimeSpan Short = TimeSpan.FromMilliseconds(10);

    /// <summary>Fresh keys, one job for worker "w" enqueued and read by consumer "c" (so it is pending), and the result streams beside it.</summary>
    private async Task<(RedisKeys Keys, JobStreams Jobs, ResultStreams Results, JobEntry Entry)> OneJobReadAsync()
    {
        var (keys, blocking) = redis.Scope();
        var jobs = new JobStreams(redis.Connection, keys, blocking);
        var results = new ResultStreams(redis.Connection, keys, blocking);
        await jobs.EnsureGroupAsync("w", Ct);
        await jobs.EnqueueAsync(TransportSamples.Job("w", "r1"), Ct);
        return (keys, jobs, results, Assert.Single(await jobs.ReadAsync("w", "c", 10, Short, Ct)));
    }

    [Fact]
    public async Task Registry_entry_disappears_when_heartbeats_stop()
    {
        var (keys, _) = redis.Scope();
        var registry = new WorkerRegistry(redis.Connection, keys, TimeProvider.System);
        var load = new WorkerLoad(0, 2, 0, 0, DateTimeOffset.UtcNow);
        await registry.PublishAsync(TransportSamples.Registration("w1"), load, TimeSpan.FromSeconds(30), Ct);
        await registry.PublishAsync(TransportSamples.Registration("w2"), load, TimeSpan.FromSeconds(30), Ct);
        Assert.Equal(["w1", "w2"], (await registry.ListAsync(Ct)).Select(w => w.Registration.WorkerId).Order());

        // w1's heartbeats stop: its entry's TTL runs out (shortened here rather than waited for, so a slow machine
        // cannot expire it before the first check). Redis expires it on its own; the registry then drops it.
        await redis.Connection.GetDatabase().KeyExpireAsync(keys.Worker("w1"), TimeSpan.FromMilliseconds(1));
        while ((await registry.ListAsync(Ct)).Any(w => w.Registration.WorkerId == "w1"))
        {
            await Task.Delay(20, Ct);
        }

        Assert.Equal(["w2"], (await registry.ListAsync(Ct)).Select(w => w.Registration.WorkerId));
        Assert.False(await redis.Connection.GetDatabase().SetContainsAsync(keys.Workers, "w1"));
    }

    [Fact]
    public async Task Leases_never_exceed_the_cap_under_concurrent_gateways()
    {
        var (keys, _) = redis.Scope();
        var leases = new WorkerLeases(redis.Connection, keys);
        var attempts = await Task.WhenAll(Enumerable.Range(0, 50).Select(i =>
            leases.TryAcquireAsync("w", $"r{i}", 3, TimeSpan.FromMinutes(1), Ct)));
        Assert.Equal(3, attempts.Count(a => a));

        // Idempotent for the same lease, and a release frees exactly one slot.
        var holder = Enumerable.Range(0, 50).First(i => attempts[i]);
        Assert.True(await leases.TryAcquireAsync("w", $"r{holder}", 3, TimeSpan.FromMinutes(1), Ct));
        await leases.ReleaseAsync("w", $"r{holder}", Ct);
        Assert.True(await leases.TryAcquireAsync("w", "late", 3, TimeSpan.FromMinutes(1), Ct));
        Assert.False(await leases.TryAcquireAsync("w", "later", 3, TimeSpan.FromMinutes(1), Ct));
    }

    [Fact]
    public async Task Expired_leases_free_their_slot()
    {
        var (keys, _) = redis.Scope();
        var leases = new WorkerLeases(redis.Connection, keys);
        Assert.True(await leases.TryAcquireAsync("w", "a", 1, TimeSpan.FromMinutes(10), Ct));
        Assert.False(await leases.TryAcquireAsync("w", "b", 1, TimeSpan.FromMinutes(1), Ct));

        // Lease a's holder vanished and its time ran out: moved into the past here rather than waited for, so a slow
        // machine cannot expire it before the refusal above. The next acquire frees the slot and takes it.
        var db = redis.Connection.GetDatabase();
        Assert.False(await db.SortedSetAddAsync(keys.Leases("w"), "a", 1));
        Assert.True(await leases.TryAcquireAsync("w", "b", 1, TimeSpan.FromMinutes(1), Ct));
        Assert.Equal(["b"], (await db.SortedSetRangeByRankAsync(keys.Leases("w"))).Select(v => v.ToString()));
    }

    [Fact]
    public async Task Unacknowledged_jobs_are_reclaimed_with_their_delivery_count_and_dead_lettered()
    {
        var (keys, blocking) = redis.Scope();
        var jobs = new JobStreams(redis.Connection, keys, blocking);
        await jobs.EnsureGroupAsync("w", Ct);
        await jobs.EnqueueAsync(TransportSamples.Job("w", "r1"), Ct);

        var first = Assert.Single(await jobs.ReadAsync("w", "c1", 10, Short, Ct));
        Assert.Empty(await jobs.ReadAsync("w", "c1", 10, Short, Ct));
        Assert.Empty(await jobs.ReclaimAsync("w", "c2", TimeSpan.FromSeconds(30), 10, Ct));

        await Task.Delay(120, Ct);
        var reclaimed = Assert.Single(await jobs.ReclaimAsync("w", "c2", TimeSpan.FromMilliseconds(100), 10, Ct));
        Assert.Equal(first.EntryId, reclaimed.EntryId);
        Assert.Equal(2, reclaimed.Deliveries);
        Assert.Equal(first.Payload, reclaimed.Payload);

        await jobs.DeadLetterAsync("w", reclaimed, "undecryptable", "r1", Ct);
        var letter = Assert.Single(await jobs.ReadDeadLettersAsync(10, Ct));
        Assert.Equal("undecryptable", letter.Reason);
        Assert.Equal("r1", letter.RequestId);
        Assert.Equal(first.Payload, letter.Payload);
        Assert.Equal(0, (await redis.Connection.GetDatabase().StreamPendingAsync(keys.Jobs("w"), RedisKeys.WorkerGroup)).PendingMessageCount);
    }

    [Fact]
    public async Task Acknowledged_jobs_leave_the_stream_and_results_round_trip_to_a_blocked_reader()
    {
        var (keys, jobs, results, entry) = await OneJobReadAsync();
        await jobs.AcknowledgeAsync("w", entry.EntryId, Ct);
        Assert.Equal(0, await redis.Connection.GetDatabase().StreamLengthAsync(keys.Jobs("w")));

        // A reader blocked on the empty stream gets the entry appended while it waits (it loops on a timed-out BLOCK).
        var waiting = Task.Run(async () =>
        {
            while (true)
            {
                var got = await results.ReadAsync("gw", "0-0", 10, TimeSpan.FromMilliseconds(500), Ct);
                if (got.Count > 0)
                {
                    return got;
                }
            }
        }, Ct);
        await results.AppendAsync("gw", new ResultEnvelope { RequestId = "r1", Attempt = 0, WorkerId = "w", Kind = ResultKind.Chunk, Ciphertext = [1] }, Ct);
        Assert.Equal("r1", Assert.Single(await waiting).Envelope!.RequestId);

        await redis.Connection.GetDatabase().StreamAddAsync(keys.Results("gw"), ResultStreams.PayloadField, Encoding.UTF8.GetBytes("{not json"));
        var read = await results.ReadAsync("gw", "0-0", 10, Short, Ct);
        Assert.Equal(2, read.Count);
        Assert.Equal("r1", read[0].Envelope!.RequestId);
        Assert.Null(read[1].Envelope);
        await results.DeleteAsync("gw", [.. read.Select(r => r.EntryId)], Ct);
        Assert.Empty(await results.ReadAsync("gw", "0-0", 10, Short, Ct));
    }

    [Fact]
    public async Task The_last_result_and_the_acknowledgement_land_together()
    {
        var (keys, jobs, results, entry) = await OneJobReadAsync();
        var db = redis.Connection.GetDatabase();
        Assert.Equal(1, (await db.StreamPendingAsync(keys.Jobs("w"), RedisKeys.WorkerGroup)).PendingMessageCount);

        var id = await results.AppendAndAcknowledgeAsync("gw", new ResultEnvelope { RequestId = "r1", Attempt = 0, WorkerId = "w", Kind = ResultKind.Final, Ciphertext = [1] }, "w", entry.EntryId, Ct);

        var read = Assert.Single(await results.ReadAsync("gw", "0-0", 10, Short, Ct));
        Assert.Equal(id, read.EntryId);
        Assert.Equal(ResultKind.Final, read.Envelope!.Kind);
        Assert.Equal(0, (await db.StreamPendingAsync(keys.Jobs("w"), RedisKeys.WorkerGroup)).PendingMessageCount);
        Assert.Equal(0, await db.StreamLengthAsync(keys.Jobs("w")));
    }

    [Fact]
    public async Task Provider_tokens_resolve_by_hash_and_pause_and_price_stick()
    {
        var (keys, _) = redis.Scope();
        var directory = new ProviderDirectory(new RedisProviderStore(redis.Connection, keys), TimeProvider.System);
        var registration = await directory.RegisterAsync(new ProviderProfile("Alice GPUs", TelegramUserId: 42), Ct);

        var resolved = await directory.ResolveTokenHashAsync(ProviderDirectory.HashToken(registration.WorkerToken), Ct);
        Assert.Equal(registration.ProviderId, resolved!.ProviderId);
        Assert.Null(await directory.ResolveTokenAsync("cwt_wrong", Ct));
        // Only the hash is stored.
        var stored = await redis.Connection.GetDatabase().HashGetAllAsync(keys.Provider(registration.ProviderId));
        Assert.DoesNotContain(stored, e => e.Value.ToString().Contains(registration.WorkerToken, StringComparison.Ordinal));

        Assert.True(await directory.SetPausedAsync(registration.ProviderId, true, Ct));
        Assert.True(await directory.SetPriceCoefficientAsync(registration.ProviderId, 1500, Ct));
        Assert.False(await directory.SetPausedAsync("nobody", true, Ct));
        Assert.Throws<ArgumentOutOfRangeException>(() => { _ = directory.SetPriceCoefficientAsync(registration.ProviderId, 0, Ct); });
        var info = await directory.GetAsync(registration.ProviderId, Ct);
        Assert.True(info!.Paused);
        Assert.Equal(1500, info.PriceCoefficient);
        Assert.Equal(42, info.Profile.TelegramUserId);
        Assert.Single(await directory.ListByOwnerAsync(42, Ct));

        var rotated = await directory.RotateTokenAsync(registration.ProviderId, Ct);
        Assert.Null(await directory.ResolveTokenAsync(registration.WorkerToken, Ct));
        Assert.Equal(registration.ProviderId, (await directory.ResolveTokenAsync(rotated!, Ct))!.ProviderId);
    }
}
