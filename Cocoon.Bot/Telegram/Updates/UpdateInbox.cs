using System.Text.Json;
using Cocoon.Bot.Telegram.Hosting;
using global::Telegram.Bot;
using global::Telegram.Bot.Types;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Cocoon.Bot.Telegram.Updates;

/// <summary>
/// The durable side of update delivery. Telegram forgets an update as soon as getUpdates is called with a higher
/// offset, so an update is first written here (sealed with the host key: it holds the user's text), then the offset
/// moves, then it is handled; only a handled update leaves the inbox and leaves a "done" marker behind. After a
/// crash the inbox is replayed, and a redelivered update (same update_id, polling or webhook) is recognised and
/// dropped. Handlers may therefore run in parallel across chats without the offset racing ahead of them.
/// <para>
/// Several gateway replicas share one inbox (webhook mode behind a load balancer, or a restart beside a live
/// replica): each update has a lease naming the replica that handles it. The replica that accepts an update holds
/// its lease; a replica confirms or takes the lease right before handling and renews it while the handler runs; an
/// update whose owner died (its lease expired) is taken by whichever replica sweeps the inbox next. So each update is
/// handled by one replica at a time, and never lost with a replica.
/// </para>
/// </summary>
public sealed class UpdateInbox(IConnectionMultiplexer redis, TelegramKeys keys, HostKeySealer sealer, IOptions<TelegramOptions> options)
{
    /// <summary>This process's name on the leases it holds.</summary>
    private readonly string _replica = Guid.NewGuid().ToString("N");

    /// <summary>Telegram keeps undelivered updates for 24 hours; a marker that outlives that catches every redelivery.</summary>
    private static readonly TimeSpan DoneTtl = TimeSpan.FromDays(3);

    // KEYS: inbox, done marker, lease. ARGV: update id, sealed update, replica, lease ms.
    private const string AcceptScript = """
        if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
        if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
        redis.call('SET', KEYS[3], ARGV[3], 'PX', ARGV[4])
        return 1
        """;

    // KEYS: inbox, lease. ARGV: update id, replica, lease ms. Ours already: renew. Free and still pending: take it.
    private const string ClaimScript = """
        local owner = redis.call('GET', KEYS[2])
        if owner == ARGV[2] then
          redis.call('PEXPIRE', KEYS[2], ARGV[3])
          return 1
        end
        if owner then return 0 end
        if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
        redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
        return 1
        """;

    // KEYS: lease. ARGV: replica.
    private const string ReleaseScript = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
        return 0
        """;

    // KEYS: lease. ARGV: replica, lease ms.
    private const string RenewScript = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
        return 0
        """;

    private long LeaseMs => (long)options.Value.InboxLease.TotalMilliseconds;

    public async Task<long> GetOffsetAsync(CancellationToken cancellationToken)
    {
        var value = await redis.GetDatabase().StringGetAsync(keys.Offset).WaitAsync(cancellationToken).ConfigureAwait(false);
        return value.TryParse(out long offset) ? offset : 0;
    }

    public Task SetOffsetAsync(long offset, CancellationToken cancellationToken) =>
        redis.GetDatabase().StringSetAsync(keys.Offset, offset).WaitAsync(cancellationToken);

    /// <summary>Stores the update unless it is already queued or was handled; true when it is new and must be handled.</summary>
    public async Task<bool> AcceptAsync(Update update, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(update);
        var json = JsonSerializer.SerializeToUtf8Bytes(update, update.GetType(), JsonBotAPI.Options);
        var blob = sealer.Seal(json, Context(update.Id));
        var result = await redis.GetDatabase()
            .ScriptEvaluateAsync(AcceptScript, [keys.Inbox, keys.Done(update.Id), keys.Lease(update.Id)], [update.Id, blob, _replica, LeaseMs])
            .WaitAsync(cancellationToken).ConfigureAwait(false);
        return (long)result == 1;
    }

    /// <summary>
    /// Right before handling: true when this replica holds the update's lease (renewed) or took a free one; false when
    /// another live replica handles it or it is already done, and this replica must leave it alone.
    /// </summary>
    public async Task<bool> ClaimAsync(long updateId, CancellationToken cancellationToken)
    {
        var result = await redis.GetDatabase()
            .ScriptEvaluateAsync(ClaimScript, [keys.Inbox, keys.Lease(updateId)], [updateId, _replica, LeaseMs])
            .WaitAsync(cancellationToken).ConfigureAwait(false);
        return (long)result == 1;
    }

    /// <summary>Extends this replica's lease while its handler runs; false when the lease was lost (expired and taken).</summary>
    public async Task<bool> RenewAsync(long updateId, CancellationToken cancellationToken)
    {
        var result = await redis.GetDatabase()
            .ScriptEvaluateAsync(RenewScript, [keys.Lease(updateId)], [_replica, LeaseMs])
            .WaitAsync(cancellationToken).ConfigureAwait(false);
        return (long)result == 1;
    }

    /// <summary>
    /// Gives up this replica's lease on an update it will not finish (a graceful stop cut it short, or it never left
    /// the lane): the next sweep, here after a restart or on another replica, takes it at once instead of after the lease.
    /// </summary>
    public Task ReleaseAsync(long updateId, CancellationToken cancellationToken) =>
        redis.GetDatabase().ScriptEvaluateAsync(ReleaseScript, [keys.Lease(updateId)], [_replica]).WaitAsync(cancellationToken);

    public async Task CompleteAsync(long updateId, CancellationToken cancellationToken)
    {
        var tx = redis.GetDatabase().CreateTransaction();
        _ = tx.StringSetAsync(keys.Done(updateId), 1, DoneTtl);
        _ = tx.HashDeleteAsync(keys.Inbox, updateId);
        _ = tx.KeyDeleteAsync(keys.Lease(updateId));
        await tx.ExecuteAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The pending updates this replica may handle now: those with no live owner (never leased, or their owner died),
    /// each claimed for this replica, oldest first.
    /// </summary>
    public async Task<IReadOnlyList<Update>> ClaimPendingAsync(CancellationToken cancellationToken)
    {
        var claimed = new List<Update>();
        foreach (var update in await PendingAsync(cancellationToken).ConfigureAwait(false))
        {
            if (await ClaimAsync(update.Id, cancellationToken).ConfigureAwait(false))
            {
                claimed.Add(update);
            }
        }

        return claimed;
    }

    /// <summary>Updates accepted but not handled (the process stopped in between), oldest first.</summary>
    public async Task<IReadOnlyList<Update>> PendingAsync(CancellationToken cancellationToken)
    {
        var entries = await redis.GetDatabase().HashGetAllAsync(keys.Inbox).WaitAsync(cancellationToken).ConfigureAwait(false);
        var updates = new List<Update>(entries.Length);
        foreach (var entry in entries)
        {
            if (!long.TryParse(entry.Name.ToString(), out var id))
            {
                continue;
            }

            var json = sealer.Open((byte[])entry.Value!, Context(id));
            if (json is not null && JsonSerializer.Deserialize<ExtendedUpdate>(json, JsonBotAPI.Options) is { } update)
            {
                updates.Add(update);
            }
        }

        return [.. updates.OrderBy(u => u.Id)];
    }

    private static string Context(long updateId) => $"telegram-update:{updateId}";
}
