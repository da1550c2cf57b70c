using System.Globalization;
using StackExchange.Redis;

namespace Cocoon.Bot.Telegram.Groups;

public enum GroupPayer
{
    /// <summary>Each asker pays from their own balance.</summary>
    EachUser,

    /// <summary>An admin-sponsored budget: the account group:{chat id}.</summary>
    Group,
}

public sealed record GroupSettings(bool Enabled, GroupPayer Payer, long DailyTokenLimit, string? Model)
{
    public static GroupSettings Default { get; } = new(Enabled: true, GroupPayer.EachUser, DailyTokenLimit: 0, Model: null);
}

/// <summary>A group's settings and its per-user daily token counters, deleted when the bot leaves the group.</summary>
public sealed class GroupSettingsStore(IConnectionMultiplexer redis, TelegramKeys keys)
{
    public async Task<GroupSettings> GetAsync(long chatId, CancellationToken cancellationToken)
    {
        var entries = await redis.GetDatabase().HashGetAllAsync(keys.Group(chatId)).WaitAsync(cancellationToken).ConfigureAwait(false);
        var d = entries.ToDictionary(e => e.Name.ToString(), e => e.Value.ToString());
        var s = GroupSettings.Default;
        return s with
        {
            Enabled = d.TryGetValue("enabled", out var en) ? en == "1" : s.Enabled,
            Payer = d.TryGetValue("payer", out var p) && Enum.TryParse<GroupPayer>(p, out var payer) ? payer : s.Payer,
            DailyTokenLimit = d.TryGetValue("limit", out var l) && long.TryParse(l, CultureInfo.InvariantCulture, out var limit) ? limit : s.DailyTokenLimit,
            Model = d.TryGetValue("model", out var m) && m.Length > 0 ? m : s.Model,
        };
    }

    public Task SaveAsync(long chatId, GroupSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return redis.GetDatabase().HashSetAsync(keys.Group(chatId),
        [
            new("enabled", settings.Enabled ? "1" : "0"),
            new("payer", settings.Payer.ToString()),
            new("limit", settings.DailyTokenLimit),
            new("model", settings.Model ?? string.Empty),
        ]).WaitAsync(cancellationToken);
    }

    public async Task<long> TokensTodayAsync(long chatId, long userId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var v = await redis.GetDatabase().StringGetAsync(keys.GroupTokens(chatId, userId, Day(now))).WaitAsync(cancellationToken).ConfigureAwait(false);
        return v.TryParse(out long n) ? n : 0;
    }

    public async Task AddTokensAsync(long chatId, long userId, DateTimeOffset now, long tokens, CancellationToken cancellationToken)
    {
        var key = keys.GroupTokens(chatId, userId, Day(now));
        var db = redis.GetDatabase();
        await db.StringIncrementAsync(key, tokens).WaitAsync(cancellationToken).ConfigureAwait(false);
        await db.KeyExpireAsync(key, TimeSpan.FromDays(2)).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The bot left or was removed: nothing about the group stays behind.</summary>
    public async Task DeleteAsync(long chatId, CancellationToken cancellationToken)
    {
        var db = redis.GetDatabase();
        var counters = new List<RedisKey> { keys.Group(chatId) };
        foreach (var server in redis.GetServers().Where(s => s.IsConnected && !s.IsReplica))
        {
            await foreach (var key in server.KeysAsync(pattern: keys.GroupTokensPattern(chatId)).WithCancellation(cancellationToken).ConfigureAwait(false))
            {
                counters.Add(key);
            }
        }

        await db.KeyDeleteAsync([.. counters]).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private static string Day(DateTimeOffset now) => now.UtcDateTime.ToString("yyyyMMdd", CultureInfo.InvariantCulture);
}
