using System.Text.Json;
using Cocoon.Bot.Telegram.Hosting;
using global::Telegram.Bot;
using global::Telegram.Bot.Types;
using StackExchange.Redis;

namespace Cocoon.Bot.Telegram.Updates;

/// <summary>
/// The durable side of update delivery. Telegram forgets an update as soon as getUpdates is called with a higher
/// offset, so an update is first written here (sealed with the host key: it holds the user's text), then the offset
/// moves, then it is handled; only a handled update leaves the inbox and leaves a "done" marker behind. After a
/// crash the inbox is replayed, and a redelivered update (same update_id, polling or webhook) is recognised and
/// dropped. Handlers may therefore run in parallel across chats without the offset racing ahead of them.
/// </summary>
public sealed class UpdateInbox(IConnectionMultiplexer redis, TelegramKeys keys, HostKeySealer sealer)
{
    /// <summary>Telegram keeps undelivered updates for 24 hours; a marker that outlives that catches every redelivery.</summary>
    private static readonly TimeSpan DoneTtl = TimeSpan.FromDays(3);

    private const string AcceptScript = """
        if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
        return redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
        """;

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
        var json = JsonSerializer.SerializeToUtf8Bytes(update, JsonBotAPI.Options);
        var blob = sealer.Seal(json, Context(update.Id));
        var result = await redis.GetDatabase()
            .ScriptEvaluateAsync(AcceptScript, [keys.Inbox, keys.Done(update.Id)], [update.Id, blob])
            .WaitAsync(cancellationToken).ConfigureAwait(false);
        return (long)result == 1;
    }

    public async Task CompleteAsync(long updateId, CancellationToken cancellationToken)
    {
        var tx = redis.GetDatabase().CreateTransaction();
        _ = tx.StringSetAsync(keys.Done(updateId), 1, DoneTtl);
        _ = tx.HashDeleteAsync(keys.Inbox, updateId);
        await tx.ExecuteAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
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
            if (json is not null && JsonSerializer.Deserialize<Update>(json, JsonBotAPI.Options) is { } update)
            {
                updates.Add(update);
            }
        }

        return [.. updates.OrderBy(u => u.Id)];
    }

    private static string Context(long updateId) => $"telegram-update:{updateId}";
}
